//! Runs the subcommand the command line chose, once the configuration is loaded.

use crate::cli::Command;
use crate::config::Config;

/// Runs `command`; the value is the process exit code.
pub fn dispatch(command: Command, config: Config) -> anyhow::Result<u8> {
    let _ = config;
    match command {
        Command::CheckConfig => Ok(0),
        other => anyhow::bail!("{other:?} is not built yet"),
    }
}
