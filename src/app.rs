//! Runs the subcommand the command line chose, once the configuration is loaded.
//!
//! Exit codes: 0 success, 1 an error, 3 `update` found nothing new.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    if let Some(path) = &args.pidfile {
        remove_own_pidfile(path);
    }
    Ok(0)
}

/// At a clean stop the pidfile goes, if it still names this process.
fn remove_own_pidfile(path: &std::path::Path) {
    let named = std::fs::read_to_string(path).unwrap_or_default();
    if named.trim() == std::process::id().to_string() {
        let _ = std::fs::remove_file(path);
    }
}

/// Without --daemon the pidfile is ours to write (daemonize writes it when detaching).
fn write_pidfile(path: &PathBuf) -> std::io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Feeds captured export traffic through the pipeline with the capture's clock.
fn replay(config: &Config, to_outputs: bool, files: &[PathBuf]) -> anyhow::Result<u8> {
    let clock = Clock::fixed(0);
    let mut first_time = None;
    let mut pipeline: Option<Pipeline> = None;
    let mut datagrams = 0u64;
    let mut damaged = 0;
    let started = Timer::start();
    let mut build = Timer::zero();

    for file in files {
        let reader =
            CaptureReader::open(file).with_context(|| format!("cannot read {}", file.display()));
        let mut reader = match reader {
            Ok(reader) => reader,
            Err(err) => {
                // What the files before this one gave is still written.
                if let Some(pipeline) = &mut pipeline {
                    pipeline.shutdown(clock.now_micros());
                }
                return Err(err);
            }
        };
        loop {
            let datagram = match reader.next_datagram() {
                Ok(Some(datagram)) => datagram,
                Ok(None) => break,
                Err(err) => {
                    crate::error!(
                        "{}: {err:#}; the rest of the file is skipped",
                        file.display()
                    );
                    damaged += 1;
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
                None => {
                    let building = Timer::start();
                    let built = replay_pipeline(config, to_outputs, now)?;
                    build = building.elapsed();
                    pipeline.insert(built)
                }
            };
            pipeline.tick(None, now);
            pipeline.on_datagram(datagram.src.ip(), &datagram.payload, now);
            datagrams += 1;
        }
        let counts: Vec<String> = reader
            .counters()
            .fields()
            .filter(|(_, value)| *value > 0)
            .map(|(name, value)| format!("{}={value}", name.replace('_', "-")))
            .collect();
        let counts = if counts.is_empty() {
            "no frames".into()
        } else {
            counts.join(" ")
        };
        crate::info!("{}: {counts}", file.display());
    }

    // A damaged capture is replayed as far as it goes, and the exit status says so.
    let status = if damaged > 0 { 1 } else { 0 };
    let Some(mut pipeline) = pipeline else {
        crate::warn!("no UDP datagram in the captures");
        return Ok(status);
    };
    pipeline.shutdown(clock.now_micros());
    let _ = std::io::stdout().flush();
    crate::info!("replayed {datagrams} datagrams; {}", pipeline.stats());
    let counters = pipeline.decoder().counters();
    let records = counters.records_v5 + counters.records_v9 + counters.records_ipfix;
    let replay = started.elapsed().minus(build);
    crate::info!("{}", timing_line(build, replay, records));
    Ok(status)
}

/// Wall time and this thread's CPU time, so a figure from a loaded machine still says
/// what one core does (the CPU time is absent where `/proc` does not give it).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Timer {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Timer {
    fn zero() -> Timer {
        Timer {
            wall: Duration::ZERO,
            cpu: Some(Duration::ZERO),
        }
    }

    /// A mark to measure from: wall time from an `Instant`, CPU time from schedstat.
    fn start() -> TimerStart {
        TimerStart {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    fn minus(self, other: Timer) -> Timer {
        let cpu = self.cpu.zip(other.cpu).map(|(a, b)| a.saturating_sub(b));
        Timer {
            wall: self.wall.saturating_sub(other.wall),
            cpu,
        }
    }
}

struct TimerStart {
    wall: Instant,
    cpu: Option<Duration>,
}

impl TimerStart {
    fn elapsed(&self) -> Timer {
        let cpu = thread_cpu()
            .zip(self.cpu)
            .map(|(now, then)| now.saturating_sub(then));
        Timer {
            wall: self.wall.elapsed(),
            cpu,
        }
    }
}

/// The first field of `/proc/thread-self/schedstat`: nanoseconds this thread ran on a CPU.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The benchmark line replay ends with: set build and replay apart, rates by wall and CPU.
fn timing_line(build: Timer, replay: Timer, records: u64) -> String {
    let rate = |time: Duration| {
        let secs = time.as_secs_f64();
        if secs > 0.0 {
            format!("{:.0}", records as f64 / secs)
        } else {
            "-".into()
        }
    };
    let seconds =
        |time: Option<Duration>| time.map_or("-".into(), |t| format!("{:.3}", t.as_secs_f64()));
    format!(
        "timing build-wall={} build-cpu={} replay-wall={} replay-cpu={} records={records} \
         records-per-s-wall={} records-per-s-cpu={}",
        seconds(Some(build.wall)),
        seconds(build.cpu),
        seconds(Some(replay.wall)),
        seconds(replay.cpu),
        rate(replay.wall),
        replay.cpu.map_or("-".into(), rate),
    )
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
        let explained = build::explain(config, &built, *addr);
        writeln!(stdout, "{}", explained.trim_end())?;
    }
    Ok(0)
}

fn update(config: &Config) -> anyhow::Result<u8> {
    match update::run_update(config, &Clock::system())? {
        UpdateOutcome::Changed => Ok(0),
        UpdateOutcome::Unchanged => {
            crate::info!("update: nothing changed");
            Ok(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(wall_ms: u64, cpu_ms: Option<u64>) -> Timer {
        Timer {
            wall: Duration::from_millis(wall_ms),
            cpu: cpu_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn timing_line_reports_build_apart_and_rates_by_wall_and_cpu() {
        let total = timer(3_000, Some(2_500));
        let build = timer(1_000, Some(500));
        let line = timing_line(build, total.minus(build), 10_000_000);
        assert_eq!(
            line,
            "timing build-wall=1.000 build-cpu=0.500 replay-wall=2.000 replay-cpu=2.000 \
             records=10000000 records-per-s-wall=5000000 records-per-s-cpu=5000000"
        );
    }

    #[test]
    fn timing_line_without_cpu_time_or_elapsed_time_prints_dashes() {
        let line = timing_line(timer(0, None), timer(0, None), 7);
        assert_eq!(
            line,
            "timing build-wall=0.000 build-cpu=- replay-wall=0.000 replay-cpu=- records=7 \
             records-per-s-wall=- records-per-s-cpu=-"
        );
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu().expect("this machine has /proc/thread-self/schedstat");
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let after = thread_cpu().expect("schedstat");
        assert!(after > before, "{before:?} then {after:?} after {x}");
    }
}
