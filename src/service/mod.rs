//! The running service: a coordinator thread that owns the signals and the rebuilds, and
//! `[input] workers` receiving loops (`worker.rs`), each single-threaded over its own sockets.
//!
//! Nothing slow happens on a receiving thread: the indicator set is rebuilt on another
//! thread, shared by every worker once built, and the old one is dropped on another thread
//! too, so a reload of a million prefixes does not stop the sockets being drained.

use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;

use crate::clock::Clock;
use crate::config::Config;
use crate::intel::build::Built;
use crate::pipeline::{self, Rebuild};
use worker::{Command, Started};

pub mod daemon;
pub mod kernel;
pub mod sockets;
mod worker;

const SIGNALS: Token = Token(0);
/// One waker per poll (mio's rule): a finished rebuild and an ended worker both use it.
const WOKEN: Token = Token(1);

/// Runs until SIGTERM or SIGINT; `ready` is called once every worker has bound its sockets.
pub fn run(config: Config, ready: impl FnOnce() -> io::Result<()>) -> anyhow::Result<()> {
    let clock = Clock::system();
    let mut poll = Poll::new().context("cannot create the poll")?;
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2])
        .context("cannot install signal handlers")?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WOKEN)?);

    if config.input.exporters.is_empty() {
        crate::warn!("[input] exporters is empty: datagrams from any address are accepted");
    }
    let built = pipeline::build_set(&config, clock.now_micros()).map_err(anyhow::Error::msg)?;
    let workers = start_workers(&config, Arc::new(built), &waker)?;
    let mut coordinator = Coordinator {
        config,
        clock,
        workers,
        waker,
        rebuilding: None,
        rebuild_again: false,
    };
    if let Err(err) = ready().context("cannot report readiness") {
        // The readiness error is the one to report; the workers' own are logged.
        let _ = coordinator.stop_workers();
        return Err(err);
    }
    notify(&[sd_notify::NotifyState::Ready]);
    let count = coordinator.workers.len();
    crate::info!("receiving with {count} worker(s)");

    let result = coordinator.run(&mut poll, &mut signals);
    notify(&[sd_notify::NotifyState::Stopping]);
    let stopped = coordinator.stop_workers();
    result.and(stopped)
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl WorkerHandle {
    fn send(&self, command: Command) {
        // A worker that already ended has said why in its own result.
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// Starts worker 0, then the others on the addresses it bound (port 0 resolved once).
fn start_workers(
    config: &Config,
    built: Arc<Built>,
    ended: &Arc<Waker>,
) -> anyhow::Result<Vec<WorkerHandle>> {
    let mut workers: Vec<WorkerHandle> = Vec::new();
    let mut config = config.clone();
    for id in 0..config.input.workers {
        match start_worker(id, &config, Arc::clone(&built), Arc::clone(ended)) {
            Ok((handle, addresses)) => {
                config.input.listen = addresses;
                workers.push(handle);
            }
            Err(err) => {
                for worker in &workers {
                    worker.send(Command::Stop);
                }
                return Err(err);
            }
        }
    }
    Ok(workers)
}

fn start_worker(
    id: usize,
    config: &Config,
    built: Arc<Built>,
    ended: Arc<Waker>,
) -> anyhow::Result<(WorkerHandle, Vec<std::net::SocketAddr>)> {
    let (commands, receiver) = mpsc::channel();
    let (started_sender, started) = mpsc::channel();
    let config = config.clone();
    let thread = std::thread::Builder::new()
        .name(format!("worker-{id}"))
        .spawn(move || {
            let result = worker::run(id, config, built, receiver, started_sender);
            // Wakes the coordinator, which stops the service if this was not asked for.
            let _ = ended.wake();
            result
        })
        .context("cannot start a worker thread")?;
    let started: Started = match started.recv() {
        Ok(Ok(started)) => started,
        Ok(Err(err)) => return Err(err),
        Err(_) => anyhow::bail!("worker {id} ended before it was ready"),
    };
    let handle = WorkerHandle {
        commands,
        waker: started.waker,
        thread,
    };
    Ok((handle, started.addresses))
}

struct Coordinator {
    config: Config,
    clock: Clock,
    workers: Vec<WorkerHandle>,
    waker: Arc<Waker>,
    /// The rebuild under way, if any, and where its result arrives.
    rebuilding: Option<mpsc::Receiver<Rebuild>>,
    /// A SIGHUP arrived during a rebuild: start another when it ends.
    rebuild_again: bool,
}

impl Coordinator {
    fn run(&mut self, poll: &mut Poll, signals: &mut Signals) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(16);
        loop {
            if let Err(err) = poll.poll(&mut events, None) {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err).context("poll failed");
            }
            for event in events.iter() {
                let stop = match event.token() {
                    SIGNALS => self.handle_signals(signals) == Flow::Stop,
                    WOKEN => {
                        self.finish_rebuild();
                        false
                    }
                    _ => false,
                };
                if stop {
                    return Ok(());
                }
                if self.workers.iter().any(|w| w.thread.is_finished()) {
                    anyhow::bail!("a receiving worker stopped; see its error above");
                }
            }
        }
    }

    fn handle_signals(&mut self, signals: &mut Signals) -> Flow {
        for signal in signals.pending() {
            match signal {
                SIGTERM | SIGINT => return Flow::Stop,
                SIGHUP => self.start_rebuild(),
                SIGUSR2 => self.broadcast(|| Command::Reopen),
                SIGUSR1 => self.broadcast(|| Command::Stats),
                _ => {}
            }
        }
        Flow::Continue
    }

    fn broadcast(&self, command: impl Fn() -> Command) {
        for worker in &self.workers {
            worker.send(command());
        }
    }

    fn start_rebuild(&mut self) {
        if self.rebuilding.is_some() {
            self.rebuild_again = true;
            return;
        }
        notify(&[sd_notify::NotifyState::Reloading, monotonic_now()]);
        crate::info!("reloading {}", self.config.path.display());
        let (sender, receiver) = mpsc::channel();
        let waker = Arc::clone(&self.waker);
        let path = self.config.path.clone();
        let now = self.clock.now_micros();
        let spawned = std::thread::Builder::new()
            .name("rebuild".into())
            .spawn(move || {
                lower_own_priority();
                let rebuilt = pipeline::rebuild(&path, now);
                // The loop may have stopped meanwhile; then nobody needs the result.
                let _ = sender.send(rebuilt);
                let _ = waker.wake();
            });
        match spawned {
            Ok(_) => self.rebuilding = Some(receiver),
            Err(err) => crate::error!("reload failed: cannot start a thread: {err}"),
        }
    }

    /// Hands the finished rebuild to every worker; each swaps it in between two datagrams.
    fn finish_rebuild(&mut self) {
        let Some(receiver) = &self.rebuilding else {
            return;
        };
        let Ok(rebuilt) = receiver.try_recv() else {
            return;
        };
        self.rebuilding = None;

        if let Ok(config) = &rebuilt.config {
            self.config = config.clone();
        }
        self.broadcast(|| Command::Apply(Box::new(rebuilt.clone())));
        notify(&[sd_notify::NotifyState::Ready]);

        if std::mem::take(&mut self.rebuild_again) {
            self.start_rebuild();
        }
    }

    /// Stops every worker and waits for it; the first worker error is the result.
    fn stop_workers(&mut self) -> anyhow::Result<()> {
        self.broadcast(|| Command::Stop);
        let mut result = Ok(());
        for (id, worker) in self.workers.drain(..).enumerate() {
            let ended = match worker.thread.join() {
                Ok(ended) => ended,
                Err(_) => Err(anyhow::anyhow!("worker {id} panicked")),
            };
            if let Err(err) = ended {
                crate::error!("worker {id} failed: {err:#}");
                if result.is_ok() {
                    result = Err(err);
                }
            }
        }
        result
    }
}

#[derive(PartialEq)]
enum Flow {
    Continue,
    Stop,
}

/// A rebuild of a big set takes a second or more of CPU; on a small collector that time must
/// not come from the receiving loops, or the kernel drops datagrams meanwhile. Safe Rust has
/// no sched_setscheduler or setpriority, so the thread asks chrt(1) to move it to SCHED_IDLE,
/// which runs it only when a CPU has nothing else to do, or else renice(1) to lower its
/// priority (Linux applies either, given a thread id, to that thread only). Where neither
/// works the rebuild runs at normal priority; the packaged unit allows both calls.
fn lower_own_priority() {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(thread_id) = link.file_name().and_then(|name| name.to_str()) else {
        return;
    };
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !run("chrt", &["--idle", "--pid", "0", thread_id]) {
        run("renice", &["-n", "19", "-p", thread_id]);
    }
}

/// Tells systemd about readiness and reloads; a no-op when not run by systemd.
fn notify(states: &[sd_notify::NotifyState]) {
    // Failing to reach systemd is not a reason to stop receiving flows.
    let _ = sd_notify::notify(states);
}

fn monotonic_now() -> sd_notify::NotifyState<'static> {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(state) => state,
        Err(_) => sd_notify::NotifyState::Status("reloading"),
    }
}
