//! Runs the subcommand the command line chose, once the configuration is loaded.
//!
//! Exit codes: 0 success, 1 an error, 3 `update` found nothing new.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::capture::CaptureReader;
use crate::cli::{Command, RunArgs};
use crate::clock::Clock;
use crate::config::Config;
use crate::intel::build;
use crate::intel::update::{self, UpdateOutcome};
use crate::output::{self, Outputs};
use crate::pipeline::{self, Pipeline};

/// Runs `command`; the value is the process exit code.
pub fn dispatch(command: Command, config: Config) -> anyhow::Result<u8> {
    match command {
        Command::Run(args) => run(config, args),
        Command::Replay { to_outputs, files } => replay(&config, to_outputs, &files),
        Command::CheckConfig => Ok(0),
        Command::Lookup { addresses } => lookup(&config, &addresses),
        Command::Update => update(&config),
    }
}

fn run(config: Config, args: RunArgs) -> anyhow::Result<u8> {
    let pidfile = args.pidfile.clone();
    let detached = match (&pidfile, args.daemon) {
        (Some(path), true) => Some(crate::service::daemon::detach(path)?),
        _ => None,
    };
    let ready = move || -> std::io::Result<()> {
        if let (Some(path), None) = (&pidfile, &detached) {
            write_pidfile(path)?;
        }
        match detached {
            Some(detached) => detached.ready(),
            None => Ok(()),
        }
    };
    crate::service::run(config, ready)?;
    Ok(0)
}

/// Without --daemon the pidfile is ours to write (daemonize writes it when detaching).
fn write_pidfile(path: &PathBuf) -> std::io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Feeds captured export traffic through the pipeline with the capture's clock.
fn replay(config: &Config, to_outputs: bool, files: &[PathBuf]) -> anyhow::Result<u8> {
    let clock = Clock::fixed(0);
    let mut first_time = None;
    let mut pipeline = None;
    let mut datagrams = 0u64;

    for file in files {
        let mut reader =
            CaptureReader::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        loop {
            let datagram = match reader.next_datagram() {
                Ok(Some(datagram)) => datagram,
                Ok(None) => break,
                Err(err) => {
                    crate::warn!("{}: {err}; the rest of the file is skipped", file.display());
                    break;
                }
            };
            let now = datagram.time_us;
            clock.set(now);
            if first_time.is_none() {
                first_time = Some(now);
            }
            let pipeline = match &mut pipeline {
                Some(pipeline) => pipeline,
                None => pipeline.insert(replay_pipeline(config, to_outputs, now)?),
            };
            pipeline.tick(None, now);
            pipeline.on_datagram(datagram.src.ip(), &datagram.payload, now);
            datagrams += 1;
        }
        let counts: Vec<String> = reader
            .counters()
            .fields()
            .filter(|(_, value)| *value > 0)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        crate::info!("{}: {}", file.display(), counts.join(" "));
    }

    let Some(mut pipeline) = pipeline else {
        crate::warn!("no UDP datagram in the captures");
        return Ok(0);
    };
    pipeline.shutdown(clock.now_micros());
    let _ = std::io::stdout().flush();
    crate::info!("replayed {datagrams} datagrams; {}", pipeline.stats());
    Ok(0)
}

/// Replay builds its set as of the capture's first datagram, so the shared 2024 samples
/// are not all expired, and writes to stdout unless asked for the configured outputs.
fn replay_pipeline(config: &Config, to_outputs: bool, now_us: i64) -> anyhow::Result<Pipeline> {
    let built = pipeline::build_set(config, now_us).map_err(anyhow::Error::msg)?;
    let pid = std::process::id();
    let outputs = if to_outputs {
        Outputs::open(&config.output, pid)?
    } else {
        let hostname = config.output.hostname.clone();
        Outputs::stdout_only(&hostname.unwrap_or_else(output::system_hostname), pid)
    };
    Ok(Pipeline::with_parts(config, built, outputs, now_us))
}

fn lookup(config: &Config, addresses: &[IpAddr]) -> anyhow::Result<u8> {
    let now_ms = Clock::system().now_millis();
    let (sources, warnings) = build::load_sources(config, now_ms).map_err(anyhow::Error::msg)?;
    for warning in warnings {
        crate::warn!("{warning}");
    }
    let built = build::build_at(sources, &config.networks, now_ms);
    let mut stdout = std::io::stdout().lock();
    for addr in addresses {
        writeln!(stdout, "{}", build::explain(config, &built, *addr))?;
    }
    Ok(0)
}

fn update(config: &Config) -> anyhow::Result<u8> {
    match update::run_update(config, &Clock::system())? {
        UpdateOutcome::Changed => Ok(0),
        UpdateOutcome::Unchanged => Ok(3),
    }
}
