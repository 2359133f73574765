//! `flowalert`: parses the command line, loads the configuration and runs a subcommand.
//!
//! Exit codes: 0 success, 1 an error (configuration, I/O), 2 bad usage, 3 `update` found
//! nothing new.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use flowalert::cli::{Cli, Command, RunArgs};
use flowalert::config::{Config, Report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run(RunArgs::default()));

    let (config, report) = Config::load(&cli.config);
    if let Command::CheckConfig = command {
        return check_config(&report, config.is_ok());
    }
    print_problems(&report);
    let Ok(config) = config else {
        eprintln!("flowalert: the configuration has errors; nothing was started");
        return ExitCode::from(1);
    };

    match flowalert::app::dispatch(command, config) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("flowalert: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn check_config(report: &Report, ok: bool) -> ExitCode {
    print_problems(report);
    if ok {
        let warnings = report.warnings.len();
        println!("configuration ok ({warnings} warning(s))");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_problems(report: &Report) {
    for problem in &report.errors {
        eprintln!("error: {problem}");
    }
    for problem in &report.warnings {
        eprintln!("warning: {problem}");
    }
}
