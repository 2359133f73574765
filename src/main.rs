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
    let mut cli = Cli::parse();
    let mut command = cli.command.unwrap_or(Command::Run(RunArgs::default()));
    if let Command::Run(args) = &mut command {
        if args.daemon {
            // The daemon works from /: relative paths would name other files there, the
            // configuration at a reload and the lists and pidfile at once.
            cli.config = absolute(cli.config);
            args.pidfile = args.pidfile.take().map(absolute);
        }
    }

    let (config, report) = Config::load(&cli.config);
    if let Command::CheckConfig = command {
        return check_config(&report, config.ok().as_ref());
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

fn absolute(path: std::path::PathBuf) -> std::path::PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// Every problem in the file, then whether the lists it names load: systemd runs this before
/// a reload, so a list that would fail the rebuild fails here and the old set stays.
fn check_config(report: &Report, config: Option<&Config>) -> ExitCode {
    print_problems(report);
    let Some(config) = config else {
        return ExitCode::from(1);
    };
    let now_ms = flowalert::clock::Clock::system().now_millis();
    match flowalert::intel::build::load_sources(config, now_ms) {
        Ok((sources, mut warnings)) => {
            // Building the set finds what only the whole set shows: list entries that
            // overlap home networks.
            let built = flowalert::intel::build::build_at(sources, &config.networks, now_ms);
            warnings.extend(built.warnings);
            for warning in &warnings {
                eprintln!("warning: {warning}");
            }
            let count = report.warnings.len() + warnings.len();
            println!("configuration ok ({count} warning(s))");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::from(1)
        }
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
