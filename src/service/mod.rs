//! The running service: one thread, one mio `Poll` over the UDP sockets, the signal pipe, the
//! syslog connections and a waker for finished rebuilds.
//!
//! Nothing slow happens on this thread: the indicator set is rebuilt on another thread and
//! handed over whole, and the old one is dropped on another thread too, so a reload of a
//! million prefixes does not stop the sockets being drained.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;

use crate::clock::Clock;
use crate::config::Config;
use crate::pipeline::{Pipeline, Rebuild};

pub mod daemon;
pub mod kernel;
pub mod sockets;

const SIGNALS: Token = Token(0);
const REBUILT: Token = Token(1);
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

/// Runs until SIGTERM or SIGINT; `ready` is called once the sockets are bound.
pub fn run(config: Config, ready: impl FnOnce() -> io::Result<()>) -> anyhow::Result<()> {
    let clock = Clock::system();
    let mut poll = Poll::new().context("cannot create the poll")?;
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2])
        .context("cannot install signal handlers")?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), REBUILT)?);

    let mut listeners = bind_all(&config, &poll)?;
    let ports: Vec<u16> = listeners.iter().map(|l| l.address.port()).collect();
    let mut pipeline = Pipeline::start(&config, clock.now_micros()).context("cannot start")?;
    pipeline.register_outputs(poll.registry(), OUTPUT_TOKENS)?;
    ready().context("cannot report readiness")?;
    notify(&[sd_notify::NotifyState::Ready]);

    let mut service = Service {
        config,
        clock,
        pipeline,
        waker,
        rebuilding: None,
        rebuild_again: false,
        ports,
        next_stats: 0,
        stall: test_stall(),
    };
    service.next_stats = service.clock.now_micros() + STATS_EVERY_MICROS;
    let result = service.run(&mut poll, &mut signals, &mut listeners);
    notify(&[sd_notify::NotifyState::Stopping]);
    service.pipeline.shutdown(service.clock.now_micros());
    crate::info!("stopped; {}", service.stats_line());
    result
}

struct Service {
    config: Config,
    clock: Clock,
    pipeline: Pipeline,
    waker: Arc<Waker>,
    /// The rebuild under way, if any, and where its result arrives.
    rebuilding: Option<mpsc::Receiver<Rebuild>>,
    /// A SIGHUP arrived during a rebuild: start another when it ends.
    rebuild_again: bool,
    ports: Vec<u16>,
    next_stats: i64,
    /// `FLOWALERT_TEST_STALL_MS`, when a test set it.
    stall: Option<Duration>,
}

impl Service {
    fn run(
        &mut self,
        poll: &mut Poll,
        signals: &mut Signals,
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
                    SIGNALS => {
                        if self.handle_signals(signals) == Flow::Stop {
                            return Ok(());
                        }
                    }
                    REBUILT => self.finish_rebuild(),
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

    fn handle_signals(&mut self, signals: &mut Signals) -> Flow {
        for signal in signals.pending() {
            match signal {
                SIGTERM | SIGINT => return Flow::Stop,
                SIGHUP => self.start_rebuild(),
                SIGUSR2 => self.pipeline.reopen_files(),
                SIGUSR1 => crate::info!("{}", self.stats_line()),
                _ => {}
            }
        }
        Flow::Continue
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
                let rebuilt = crate::pipeline::rebuild(&path, now);
                // The loop may have stopped meanwhile; then nobody needs the result.
                let _ = sender.send(rebuilt);
                let _ = waker.wake();
            });
        match spawned {
            Ok(_) => self.rebuilding = Some(receiver),
            Err(err) => crate::error!("reload failed: cannot start a thread: {err}"),
        }
    }

    fn finish_rebuild(&mut self) {
        let Some(receiver) = &self.rebuilding else {
            return;
        };
        let Ok(rebuilt) = receiver.try_recv() else {
            return;
        };
        self.rebuilding = None;

        let now = self.clock.now_micros();
        if let Some(config) = self.pipeline.apply(rebuilt, &self.config, now) {
            self.config = config;
        }
        notify(&[sd_notify::NotifyState::Ready]);

        if std::mem::take(&mut self.rebuild_again) {
            self.start_rebuild();
        }
    }

    fn timers(&mut self, poll: &Poll) {
        let now = self.clock.now_micros();
        self.pipeline.tick(Some(poll.registry()), now);
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
        format!("stats {} kernel-drops={drops}", self.pipeline.stats())
    }
}

#[derive(PartialEq)]
enum Flow {
    Continue,
    Stop,
}

fn bind_all(config: &Config, poll: &Poll) -> anyhow::Result<Vec<sockets::Listener>> {
    let mut listeners = Vec::new();
    for (index, &address) in config.input.listen.iter().enumerate() {
        let mut listener = bind_one(address, config)?;
        let token = Token(FIRST_SOCKET + index);
        poll.registry()
            .register(&mut listener.socket, token, Interest::READABLE)?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn bind_one(address: SocketAddr, config: &Config) -> anyhow::Result<sockets::Listener> {
    let asked = config.input.receive_buffer;
    let listener = sockets::bind(address, asked, config.input.workers > 1)
        .with_context(|| format!("cannot listen on {address}"))?;
    let granted = listener.receive_buffer;
    crate::info!(
        "listening on {}, receive buffer {granted} bytes",
        listener.address
    );
    if granted < asked {
        crate::warn!(
            "receive buffer capped at {granted} of {asked} bytes (raise net.core.rmem_max)"
        );
    }
    Ok(listener)
}

/// The test-only stall, if `FLOWALERT_TEST_STALL_MS` names a positive number.
fn test_stall() -> Option<Duration> {
    let ms: u64 = std::env::var(STALL_ENV).ok()?.trim().parse().ok()?;
    let stall = (ms > 0).then(|| Duration::from_millis(ms));
    if let Some(stall) = stall {
        crate::warn!("{STALL_ENV} set: sleeping {stall:?} after each batch (tests only)");
    }
    stall
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
