//! `/dev/log`: the local syslog daemon's datagram socket, never waited on.
//!
//! The socket is non-blocking: when the daemon is slow and the socket is full, or the
//! socket is absent, the record is dropped and counted. A daemon restart (a new socket
//! at the same path) is met by connecting again, at once and then on every tick.

use std::io::{self, ErrorKind};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use super::SinkCounters;

pub struct UnixSink {
    path: PathBuf,
    socket: Option<UnixDatagram>,
    pub counters: SinkCounters,
}

impl UnixSink {
    /// A sink for `path`; an absent socket is not an error here, only a reason to drop.
    pub fn new(path: &Path) -> UnixSink {
        let mut sink = UnixSink {
            path: path.to_owned(),
            socket: None,
            counters: SinkCounters::default(),
        };
        sink.connect();
        sink
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    pub fn write(&mut self, record: &str) {
        match self.send(record) {
            Ok(()) => self.counters.written += 1,
            Err(err) if gone(&err) && self.connect() => match self.send(record) {
                Ok(()) => self.counters.written += 1,
                Err(_) => self.drop_record(),
            },
            Err(_) => self.drop_record(),
        }
    }

    /// Connects again if the socket was missing.
    pub fn tick(&mut self) {
        if self.socket.is_none() {
            self.connect();
        }
    }

    fn send(&mut self, record: &str) -> io::Result<()> {
        let Some(socket) = self.socket.as_ref() else {
            return Err(ErrorKind::NotConnected.into());
        };
        let result = socket.send(record.as_bytes()).map(|_| ());
        if let Err(err) = &result {
            if gone(err) {
                self.socket = None;
            }
        }
        result
    }

    fn drop_record(&mut self) {
        self.counters.dropped += 1;
    }

    fn connect(&mut self) -> bool {
        let connected = UnixDatagram::unbound().and_then(|socket| {
            socket.set_nonblocking(true)?;
            socket.connect(&self.path)?;
            Ok(socket)
        });
        match connected {
            Ok(socket) => {
                self.socket = Some(socket);
                self.counters.connects += 1;
                true
            }
            Err(_) => {
                self.socket = None;
                self.counters.errors += 1;
                false
            }
        }
    }
}

/// The socket is no longer there (daemon stopped or restarted), as opposed to full.
fn gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::NotConnected | ErrorKind::NotFound
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket_path(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("flowalert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn received(server: &UnixDatagram) -> Vec<String> {
        server.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 2048];
        let mut records = Vec::new();
        while let Ok(length) = server.recv(&mut buffer) {
            records.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
        records
    }

    #[test]
    fn absent_socket_drops_then_connects_on_tick() {
        let path = socket_path("devlog-absent");
        let mut sink = UnixSink::new(&path);
        sink.write("<29>Dec  3 19:47:09 flowalert[1]: hit one");
        assert_eq!((sink.counters.written, sink.counters.dropped), (0, 1));

        let server = UnixDatagram::bind(&path).unwrap();
        sink.tick();
        sink.write("<29>Dec  3 19:47:09 flowalert[1]: hit two");
        assert_eq!(
            received(&server),
            ["<29>Dec  3 19:47:09 flowalert[1]: hit two"]
        );
        assert_eq!((sink.counters.written, sink.counters.dropped), (1, 1));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn full_socket_drops_without_blocking() {
        let path = socket_path("devlog-full");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut sink = UnixSink::new(&path);
        let record = "x".repeat(1000);
        // Nobody reads: the receive queue fills and further sends would block.
        for _ in 0..100_000 {
            sink.write(&record);
            if sink.counters.dropped > 0 {
                break;
            }
        }
        let written = sink.counters.written;
        assert!(
            sink.counters.dropped == 1 && written > 0,
            "{:?}",
            sink.counters
        );
        assert_eq!(received(&server).len() as u64, written);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn daemon_restart_reconnects_at_once() {
        let path = socket_path("devlog-restart");
        let first = UnixDatagram::bind(&path).unwrap();
        let mut sink = UnixSink::new(&path);
        sink.write("before");
        assert_eq!(received(&first), ["before"]);

        drop(first);
        std::fs::remove_file(&path).unwrap();
        let second = UnixDatagram::bind(&path).unwrap();
        sink.write("after");
        assert_eq!(received(&second), ["after"]);
        assert_eq!((sink.counters.written, sink.counters.connects), (2, 2));
        std::fs::remove_file(&path).unwrap();
    }
}
