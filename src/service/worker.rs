//! One receiving loop: a mio `Poll` over this worker's UDP sockets, its syslog connections and
//! a waker for commands from the coordinator. Single-threaded; nothing slow happens here.
//!
//! With `[input] workers = N` there are N of these, each with its own SO_REUSEPORT socket per
//! listen address. The kernel hashes each exporter's address and port to one socket, so an
//! exporter's templates and its data meet in the same worker.

use std::io::ErrorKind;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mio::{Events, Interest, Poll, Token, Waker};

use super::{kernel, sockets};
use crate::clock::Clock;
use crate::config::Config;
use crate::intel::build::Built;
use crate::pipeline::{Pipeline, Rebuild};

const COMMANDS: Token = Token(0);
const DNSBL: Token = Token(1);
/// Sockets take tokens from here up; output connections from `OUTPUT_TOKENS` up.
const FIRST_SOCKET: usize = 16;
const OUTPUT_TOKENS: usize = 1 << 20;

/// Largest UDP payload; one buffer is reused for every datagram.
const MAX_DATAGRAM: usize = 65_535;
/// How often the stats line is written without being asked.
const STATS_EVERY_MICROS: i64 = 300 * 1_000_000;
/// The loop wakes at least this often for timers.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Test-only: milliseconds to sleep after each drained batch, so the overload tests can
/// slow the receiver on purpose and make the kernel drop. Read once at start; unset (as
/// everywhere but those tests) there is no sleep.
const STALL_ENV: &str = "FLOWALERT_TEST_STALL_MS";

/// What the coordinator asks of a worker.
pub enum Command {
    /// A finished rebuild, the same for every worker (boxed: it is big and rare).
    Apply(Box<Rebuild>),
    /// SIGUSR2: reopen the output file.
    Reopen,
    /// SIGUSR1: write the stats line.
    Stats,
    /// SIGTERM or SIGINT: flush and return.
    Stop,
}

/// A worker that has bound its sockets: how to reach it.
pub struct Started {
    pub waker: Arc<Waker>,
    /// The addresses bound, port 0 resolved: the other workers bind the same.
    pub addresses: Vec<std::net::SocketAddr>,
}

/// Binds, reports `Started` (or why not) on `started`, then loops until `Command::Stop`.
pub fn run(
    id: usize,
    config: Config,
    built: Arc<Built>,
    commands: Receiver<Command>,
    started: Sender<anyhow::Result<Started>>,
) -> anyhow::Result<()> {
    let setup = Worker::set_up(id, config, built);
    let (mut worker, mut poll, mut listeners) = match setup {
        Ok(parts) => parts,
        Err(err) => {
            let message = format!("{err:#}");
            let _ = started.send(Err(err));
            anyhow::bail!(message);
        }
    };
    let waker = Arc::new(Waker::new(poll.registry(), COMMANDS)?);
    let addresses = listeners.iter().map(|l| l.address).collect();
    let _ = started.send(Ok(Started { waker, addresses }));

    let result = worker.run(&mut poll, &commands, &mut listeners);
    worker.pipeline.shutdown(worker.clock.now_micros());
    crate::info!("stopped; {}", worker.stats_line());
    result
}

struct Worker {
    id: usize,
    config: Config,
    clock: Clock,
    pipeline: Pipeline,
    ports: Vec<u16>,
    next_stats: i64,
    /// `FLOWALERT_TEST_STALL_MS`, when a test set it.
    stall: Option<Duration>,
}

impl Worker {
    fn set_up(
        id: usize,
        config: Config,
        built: Arc<Built>,
    ) -> anyhow::Result<(Worker, Poll, Vec<sockets::Listener>)> {
        let clock = Clock::system();
        let poll = Poll::new().context("cannot create the poll")?;
        let listeners = bind_all(id, &config, &poll)?;
        let now = clock.now_micros();
        let mut pipeline = Pipeline::start(&config, built, id, now).context("cannot start")?;
        pipeline.register_outputs(poll.registry(), OUTPUT_TOKENS)?;
        pipeline.register_dnsbl(poll.registry(), DNSBL)?;

        let worker = Worker {
            id,
            config,
            clock,
            pipeline,
            ports: listeners.iter().map(|l| l.address.port()).collect(),
            next_stats: now + STATS_EVERY_MICROS,
            stall: test_stall(id),
        };
        Ok((worker, poll, listeners))
    }

    fn run(
        &mut self,
        poll: &mut Poll,
        commands: &Receiver<Command>,
        listeners: &mut [sockets::Listener],
    ) -> anyhow::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let timeout = self.poll_timeout();
            if let Err(err) = poll.poll(&mut events, Some(timeout)) {
                if err.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(err).context("poll failed");
            }

            for event in events.iter() {
                match event.token() {
                    COMMANDS => {
                        if self.handle_commands(commands) == Flow::Stop {
                            return Ok(());
                        }
                    }
                    DNSBL => {
                        let now = self.clock.now_micros();
                        self.pipeline.on_dnsbl_readable(now);
                    }
                    Token(token) if token >= OUTPUT_TOKENS => {
                        let now = self.clock.now_micros();
                        self.pipeline.output_event(poll.registry(), event, now);
                    }
                    Token(token) => {
                        if let Some(listener) = listeners.get_mut(token - FIRST_SOCKET) {
                            self.drain(listener, &mut buffer);
                        }
                    }
                }
            }
            self.timers(poll);
        }
    }

    /// Reads until the socket has nothing more: mio reports readiness once per edge.
    fn drain(&mut self, listener: &mut sockets::Listener, buffer: &mut [u8]) {
        loop {
            match listener.socket.recv_from(buffer) {
                Ok((length, from)) => {
                    let now = self.clock.now_micros();
                    self.pipeline.on_datagram(from.ip(), &buffer[..length], now);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    if let Some(stall) = self.stall {
                        std::thread::sleep(stall);
                    }
                    return;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    // ICMP errors and the like are reported per call; none ends the socket.
                    self.pipeline.count_receive_error(&err);
                    return;
                }
            }
        }
    }

    fn handle_commands(&mut self, commands: &Receiver<Command>) -> Flow {
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Stop => return Flow::Stop,
                Command::Apply(rebuilt) => self.apply(*rebuilt),
                Command::Reopen => self.pipeline.reopen_files(),
                Command::Stats => crate::info!("{}", self.stats_line()),
            }
        }
        Flow::Continue
    }

    fn apply(&mut self, rebuilt: Rebuild) {
        let now = self.clock.now_micros();
        if let Some(config) = self.pipeline.apply(rebuilt, &self.config, now) {
            self.config = config;
        }
    }

    fn timers(&mut self, poll: &Poll) {
        let now = self.clock.now_micros();
        self.pipeline.tick(Some(poll.registry()), now);
        // The turn's records, closed windows and status records included, go out before
        // the stats line counts them.
        self.pipeline.end_turn();
        if now >= self.next_stats {
            crate::info!("{}", self.stats_line());
            self.next_stats = now + STATS_EVERY_MICROS;
        }
    }

    fn poll_timeout(&self) -> Duration {
        let now = self.clock.now_micros();
        let deadline = self.pipeline.next_deadline().unwrap_or(i64::MAX);
        let micros = deadline.saturating_sub(now).max(0);
        Duration::from_micros(micros.unsigned_abs()).min(MAX_SLEEP)
    }

    fn stats_line(&self) -> String {
        let drops = kernel::udp_drops(&self.ports);
        let drops = drops.map_or("-".into(), |d| d.to_string());
        let stats = self.pipeline.stats();
        format!("stats worker={} {stats} kernel-drops={drops}", self.id)
    }
}

fn test_stall(id: usize) -> Option<Duration> {
    let ms: u64 = std::env::var(STALL_ENV).ok()?.trim().parse().ok()?;
    let stall = (ms > 0).then(|| Duration::from_millis(ms));
    if let (Some(stall), 0) = (stall, id) {
        crate::warn!("{STALL_ENV} set: sleeping {stall:?} after each batch (tests only)");
    }
    stall
}

#[derive(PartialEq)]
enum Flow {
    Continue,
    Stop,
}

fn bind_all(id: usize, config: &Config, poll: &Poll) -> anyhow::Result<Vec<sockets::Listener>> {
    let mut listeners = Vec::new();
    for (index, &address) in config.input.listen.iter().enumerate() {
        let mut listener = bind_one(id, address, config)?;
        let token = Token(FIRST_SOCKET + index);
        poll.registry()
            .register(&mut listener.socket, token, Interest::READABLE)?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn bind_one(
    id: usize,
    address: std::net::SocketAddr,
    config: &Config,
) -> anyhow::Result<sockets::Listener> {
    let asked = config.input.receive_buffer;
    let listener = sockets::bind(address, asked, config.input.workers > 1)
        .with_context(|| format!("cannot listen on {address}"))?;
    let granted = listener.receive_buffer;
    if id == 0 {
        crate::info!(
            "listening on {}, receive buffer {granted} bytes",
            listener.address
        );
    }
    if granted < asked && id == 0 {
        crate::warn!(
            "receive buffer capped at {granted} of {asked} bytes (raise net.core.rmem_max)"
        );
    }
    Ok(listener)
}
