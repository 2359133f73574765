//! Network syslog: UDP, and TCP with newline or RFC 6587 octet-count framing.
//!
//! Nothing here waits on the network. The TCP sink connects without blocking (the stream is
//! registered in the caller's mio `Registry`), writes until the kernel says `WouldBlock`,
//! and keeps what it could not send in a queue of at most `queue` records; a record that
//! finds the queue full is dropped and counted. A lost connection is retried with
//! exponential backoff; the record being written when it broke is sent again whole.
//! Records the kernel had accepted before a reset are lost without a count: TCP gives no
//! way to know which of them arrived.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use mio::{Interest, Registry, Token};

use super::SinkCounters;

/// First wait after a failed connect; doubled up to `BACKOFF_MAX`.
pub const BACKOFF_MIN_US: i64 = 500_000;
pub const BACKOFF_MAX_US: i64 = 60_000_000;
/// A connect not finished by then is abandoned and retried.
const CONNECT_TIMEOUT_US: i64 = 10_000_000;
/// The longest `finish` waits for a peer at shutdown, per sink.
const FINISH_WAIT: Duration = Duration::from_secs(2);

/// One record per datagram, no framing.
pub struct UdpSink {
    peer: SocketAddr,
    socket: Option<UdpSocket>,
    pub counters: SinkCounters,
}

impl UdpSink {
    pub fn new(peer: SocketAddr) -> io::Result<UdpSink> {
        let local: SocketAddr = match peer {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        socket.connect(peer)?;
        Ok(UdpSink {
            peer,
            socket: Some(socket),
            counters: SinkCounters::default(),
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn write(&mut self, record: &str) {
        let Some(socket) = self.socket.as_ref() else {
            self.counters.dropped += 1;
            return;
        };
        let mut result = socket.send(record.as_bytes());
        if matches!(&result, Err(e) if e.kind() == ErrorKind::ConnectionRefused) {
            // The refusal belongs to an earlier datagram (ICMP port unreachable); try again.
            self.counters.errors += 1;
            result = socket.send(record.as_bytes());
        }
        match result {
            Ok(_) => self.counters.written += 1,
            Err(_) => {
                self.counters.dropped += 1;
                self.counters.errors += 1;
            }
        }
    }
}

/// How records are delimited on a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `record\n` (records never contain a newline: it is escaped).
    Newline,
    /// RFC 6587 octet counting: `LEN record`.
    OctetCount,
}

impl Framing {
    pub fn frame(self, record: &str) -> Vec<u8> {
        match self {
            Framing::Newline => {
                let mut framed = Vec::with_capacity(record.len() + 1);
                framed.extend_from_slice(record.as_bytes());
                framed.push(b'\n');
                framed
            }
            Framing::OctetCount => format!("{} {record}", record.len()).into_bytes(),
        }
    }
}

enum State {
    Down,
    Connecting {
        stream: mio::net::TcpStream,
        /// When the connect started; `None` until a tick says what time it is.
        since: Option<i64>,
    },
    Up(mio::net::TcpStream),
}

pub struct TcpSink {
    peer: SocketAddr,
    framing: Framing,
    state: State,
    token: Option<Token>,
    queue: VecDeque<Vec<u8>>,
    capacity: usize,
    /// Bytes of the front record already written on the current connection.
    offset: usize,
    backoff_us: i64,
    retry_at: i64,
    /// The latest time the caller gave (`write` has none of its own); `None` before any.
    now_us: Option<i64>,
    pub counters: SinkCounters,
}

impl TcpSink {
    /// A sink holding at most `capacity` records (at least one) while it cannot send.
    pub fn new(peer: SocketAddr, framing: Framing, capacity: usize) -> TcpSink {
        TcpSink {
            peer,
            framing,
            state: State::Down,
            token: None,
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            offset: 0,
            backoff_us: BACKOFF_MIN_US,
            retry_at: i64::MIN,
            now_us: None,
            counters: SinkCounters::default(),
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Records waiting to be sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up(_))
    }

    /// Takes `token` for this sink's connections and starts the first one.
    pub fn register(&mut self, registry: &Registry, token: Token) {
        self.token = Some(token);
        self.connect(registry);
    }

    /// Takes this sink's connection out of `registry`, so that another thread may finish
    /// it and the token may serve another sink.
    pub fn deregister(&mut self, registry: &Registry) {
        self.token = None;
        if let State::Up(stream) | State::Connecting { stream, .. } = &mut self.state {
            let _ = registry.deregister(stream);
        }
    }

    /// Queues `record` and sends what the connection takes now.
    pub fn write(&mut self, record: &str) {
        if self.queue.len() >= self.capacity {
            self.counters.dropped += 1;
            return;
        }
        self.queue.push_back(self.framing.frame(record));
        self.send_queued();
    }

    /// Readiness on this sink's connection.
    pub fn on_event(&mut self, registry: &Registry, event: &mio::event::Event, now_us: i64) {
        self.now_us = Some(now_us);
        match &self.state {
            State::Down => {}
            State::Connecting { .. } => self.check_connected(registry),
            State::Up(_) => {
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read_and_discard(registry);
                }
                if event.is_writable() {
                    self.send_queued();
                }
            }
        }
    }

    /// Connects again once the backoff has passed; gives up on a connect that hangs.
    pub fn tick(&mut self, registry: &Registry, now_us: i64) {
        self.now_us = Some(now_us);
        match &mut self.state {
            State::Down if now_us >= self.retry_at && self.token.is_some() => {
                self.connect(registry)
            }
            State::Connecting { since: None, .. } => self.connecting_since(now_us),
            State::Connecting {
                since: Some(since), ..
            } if now_us.saturating_sub(*since) >= CONNECT_TIMEOUT_US => self.lost(registry),
            _ => {}
        }
    }

    pub fn next_deadline(&self) -> Option<i64> {
        match &self.state {
            State::Down if self.token.is_some() => Some(self.retry_at),
            State::Down | State::Up(_) => None,
            State::Connecting { since, .. } => {
                let since = since.or(self.now_us).unwrap_or(i64::MIN);
                Some(since.saturating_add(CONNECT_TIMEOUT_US))
            }
        }
    }

    /// At shutdown or the end of a replay: sends the queue, waiting at most a few seconds
    /// for the peer (connecting if need be); what is still queued then is counted dropped.
    pub fn finish(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let stream = match std::mem::replace(&mut self.state, State::Down) {
            State::Up(stream) | State::Connecting { stream, .. } => Ok(stream.into()),
            State::Down => std::net::TcpStream::connect_timeout(&self.peer, FINISH_WAIT),
        };
        if let Ok(stream) = stream {
            self.drain_blocking(stream);
        }
        self.counters.dropped += self.queue.len() as u64;
        self.queue.clear();
        self.offset = 0;
    }

    fn drain_blocking(&mut self, mut stream: std::net::TcpStream) {
        let ready = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_write_timeout(Some(FINISH_WAIT)));
        if ready.is_err() {
            self.counters.errors += 1;
            return;
        }
        while let Some(front) = self.queue.front() {
            match stream.write_all(&front[self.offset..]) {
                Ok(()) => {
                    self.queue.pop_front();
                    self.offset = 0;
                    self.counters.written += 1;
                }
                Err(_) => {
                    self.counters.errors += 1;
                    return;
                }
            }
        }
    }

    fn connect(&mut self, registry: &Registry) {
        let Some(token) = self.token else {
            return;
        };
        let started = mio::net::TcpStream::connect(self.peer).and_then(|mut stream| {
            let interest = Interest::READABLE | Interest::WRITABLE;
            registry.register(&mut stream, token, interest)?;
            Ok(stream)
        });
        match started {
            Ok(stream) => {
                // Before any time is known (`register`), the first tick starts the clock.
                let since = self.now_us;
                self.state = State::Connecting { stream, since };
            }
            Err(_) => self.failed(),
        }
    }

    fn connecting_since(&mut self, now_us: i64) {
        if let State::Connecting { since, .. } = &mut self.state {
            *since = Some(now_us);
        }
    }

    /// A writable event while connecting: either connected, still connecting, or refused.
    fn check_connected(&mut self, registry: &Registry) {
        let State::Connecting { stream, .. } = &self.state else {
            return;
        };
        let refused = matches!(stream.take_error(), Ok(Some(_)) | Err(_));
        match stream.peer_addr() {
            Ok(_) if !refused => {
                if let State::Connecting { stream, .. } =
                    std::mem::replace(&mut self.state, State::Down)
                {
                    self.state = State::Up(stream);
                }
                self.counters.connects += 1;
                self.backoff_us = BACKOFF_MIN_US;
                self.send_queued();
            }
            Err(err) if !refused && err.kind() == ErrorKind::NotConnected => {}
            _ => self.lost(registry),
        }
    }

    fn send_queued(&mut self) {
        let State::Up(stream) = &mut self.state else {
            return;
        };
        let mut broken = false;
        while let Some(front) = self.queue.front() {
            match stream.write(&front[self.offset..]) {
                Ok(0) => {
                    broken = true;
                    break;
                }
                Ok(n) => {
                    self.offset += n;
                    if self.offset >= front.len() {
                        self.queue.pop_front();
                        self.offset = 0;
                        self.counters.written += 1;
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            self.close();
        }
    }

    /// Syslog receivers send nothing; end of stream or an error means the peer is gone.
    fn read_and_discard(&mut self, registry: &Registry) {
        let State::Up(stream) = &mut self.state else {
            return;
        };
        let mut buffer = [0u8; 512];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.lost(registry);
    }

    fn lost(&mut self, registry: &Registry) {
        match &mut self.state {
            State::Up(stream) | State::Connecting { stream, .. } => {
                let _ = registry.deregister(stream);
            }
            State::Down => {}
        }
        self.close();
    }

    /// Drops the connection; the record half sent goes again whole on the next one.
    fn close(&mut self) {
        self.state = State::Down;
        self.offset = 0;
        self.failed();
    }

    fn failed(&mut self) {
        self.counters.errors += 1;
        // Before any time is known, the first tick may retry.
        self.retry_at = self
            .now_us
            .map_or(i64::MIN, |now| now.saturating_add(self.backoff_us));
        self.backoff_us = (self.backoff_us * 2).min(BACKOFF_MAX_US);
    }
}
