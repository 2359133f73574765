//! Output sinks: file, stdout, `/dev/log` and network syslog, fed with `Event`s.
//!
//! No sink blocks the loop (standard output aside, see `stdout`): sockets are non-blocking,
//! a TCP sink waits behind a bounded queue, and whatever a sink cannot take is counted as
//! dropped. Each sink frames the record its own way: the file form for the file and stdout,
//! syslog(3)'s BSD form for `/dev/log`, RFC 5424 for the network.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, Context};
use mio::{Registry, Token};

use crate::alert::Event;

pub mod counters;
pub mod file;
pub mod framing;
pub mod net;
pub mod stdout;
pub mod unix;

pub use counters::{OutputCounters, SinkCounters};
pub use framing::{bsd_local, file_line, push_file_line, rfc5424};
use net::{Framing, TcpSink, UdpSink};

/// One `[output] syslog` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `unix:/dev/log`
    Unix(PathBuf),
    /// `udp://HOST:PORT`
    Udp(String),
    /// `tcp://HOST:PORT` (newline) or `tcp+octet://HOST:PORT` (RFC 6587 octet counting).
    Tcp(String, Framing),
}

/// Parses one `[output] syslog` entry; the error says what forms are accepted.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let parsed = if let Some(path) = text.strip_prefix("unix:") {
        (!path.is_empty()).then(|| Target::Unix(path.into()))
    } else if let Some(address) = text.strip_prefix("udp://") {
        host_port(address).map(|a| Target::Udp(a.into()))
    } else if let Some(address) = text.strip_prefix("tcp://") {
        host_port(address).map(|a| Target::Tcp(a.into(), Framing::Newline))
    } else if let Some(address) = text.strip_prefix("tcp+octet://") {
        host_port(address).map(|a| Target::Tcp(a.into(), Framing::OctetCount))
    } else {
        None
    };
    parsed.ok_or_else(|| {
        format!(
            "{text:?} is not unix:PATH, udp://HOST:PORT, tcp://HOST:PORT or tcp+octet://HOST:PORT"
        )
    })
}

fn host_port(address: &str) -> Option<&str> {
    let (host, port) = address.rsplit_once(':')?;
    let valid = !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0);
    valid.then_some(address)
}

/// The syslog facility number (0-23) for a name such as `daemon` or `local3`.
pub fn facility_code(name: &str) -> Option<u8> {
    // The syslog crate knows the names; its values are the number shifted by three.
    syslog::Facility::from_str(name)
        .ok()
        .map(|f| (f as u32 >> 3) as u8)
}

/// This machine's name from the kernel, for record headers; `localhost` if unreadable.
pub fn system_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    match name.trim() {
        "" => "localhost".into(),
        name => name.into(),
    }
}

enum Sink {
    File(file::FileSink),
    Stdout(stdout::StdoutSink),
    Unix(unix::UnixSink),
    Udp(UdpSink, u64),
    Tcp(TcpSink, u64),
}

impl Sink {
    fn counters(&self) -> &SinkCounters {
        match self {
            Sink::File(s) => &s.counters,
            Sink::Stdout(s) => &s.counters,
            Sink::Unix(s) => &s.counters,
            Sink::Udp(s, _) => &s.counters,
            Sink::Tcp(s, _) => &s.counters,
        }
    }

    fn name(&self) -> String {
        match self {
            Sink::File(s) => format!("file:{}", s.path().display()),
            Sink::Stdout(_) => "stdout".into(),
            Sink::Unix(s) => format!("unix:{}", s.path().display()),
            Sink::Udp(s, _) => format!("udp://{}", s.peer()),
            Sink::Tcp(s, _) if s.framing() == Framing::Newline => format!("tcp://{}", s.peer()),
            Sink::Tcp(s, _) => format!("tcp+octet://{}", s.peer()),
        }
    }
}

/// Every configured sink, with the header fields they share.
pub struct Outputs {
    hostname: String,
    pid: u32,
    facility: u8,
    enterprise_id: u32,
    sinks: Vec<Sink>,
    names: Vec<String>,
    first_token: usize,
    counters: OutputCounters,
    /// The file form of the record being written, kept to save an allocation a record.
    line: String,
}

impl Outputs {
    /// Opens the file and the sockets `config` names. Network names are resolved here,
    /// once; a file that cannot be opened or an entry that does not parse is an error.
    pub fn open(config: &crate::config::Output, pid: u32) -> anyhow::Result<Outputs> {
        let facility = facility_code(&config.facility)
            .ok_or_else(|| anyhow!("[output] facility {:?} is unknown", config.facility))?;
        let hostname = config.hostname.clone().unwrap_or_else(system_hostname);
        let mut outputs = Outputs::empty(&hostname, pid, facility, config.enterprise_id);

        if let Some(path) = &config.file {
            let sink = file::FileSink::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            outputs.push(Sink::File(sink));
        }
        if config.stdout {
            outputs.push(Sink::Stdout(stdout::StdoutSink::default()));
        }
        for text in &config.syslog {
            let target = parse_target(text).map_err(|e| anyhow!("[output] syslog: {e}"))?;
            outputs.push(open_target(&target, config.queue)?);
        }
        Ok(outputs)
    }

    /// Only standard output (replay without `--to-outputs`).
    pub fn stdout_only(hostname: &str, pid: u32) -> Outputs {
        let mut outputs = Outputs::empty(hostname, pid, 3, 0);
        outputs.push(Sink::Stdout(stdout::StdoutSink::default()));
        outputs
    }

    fn empty(hostname: &str, pid: u32, facility: u8, enterprise_id: u32) -> Outputs {
        Outputs {
            hostname: hostname.to_owned(),
            pid,
            facility,
            enterprise_id,
            sinks: Vec::new(),
            names: Vec::new(),
            first_token: 0,
            counters: OutputCounters::default(),
            line: String::new(),
        }
    }

    fn push(&mut self, sink: Sink) {
        self.names.push(sink.name());
        self.sinks.push(sink);
    }

    /// Frames `event` for each sink and hands it over; nothing here waits.
    pub fn write(&mut self, event: &Event) {
        self.counters.records += 1;
        let (hostname, pid) = (self.hostname.as_str(), self.pid);
        let file_form = |sink: &Sink| matches!(sink, Sink::File(_) | Sink::Stdout(_));
        if self.sinks.iter().any(file_form) {
            self.line.clear();
            push_file_line(&mut self.line, event, hostname, pid);
        }
        for sink in &mut self.sinks {
            match sink {
                Sink::File(s) => s.write(&self.line),
                Sink::Stdout(s) => s.write(&self.line),
                Sink::Unix(s) => s.write(&bsd_local(event, pid, self.facility)),
                Sink::Udp(s, sequence) => {
                    *sequence += 1;
                    s.write(&rfc5424(
                        event,
                        hostname,
                        pid,
                        self.facility,
                        *sequence,
                        self.enterprise_id,
                    ));
                }
                Sink::Tcp(s, sequence) => {
                    *sequence += 1;
                    s.write(&rfc5424(
                        event,
                        hostname,
                        pid,
                        self.facility,
                        *sequence,
                        self.enterprise_id,
                    ));
                }
            }
        }
        self.sum();
    }

    /// Opens the file again (SIGUSR2, SIGHUP: logrotate has moved it); failures are counted
    /// and the file is tried again on the next record.
    pub fn reopen_files(&mut self) {
        for sink in &mut self.sinks {
            if let Sink::File(s) = sink {
                if let Err(err) = s.reopen() {
                    s.counters.errors += 1;
                    crate::error!("cannot reopen {}: {err}", s.path().display());
                }
            }
        }
        self.sum();
    }

    /// Registers the TCP sinks' connections, sink `i` under `first_token + i`, and starts
    /// connecting. Records written before this wait in the queues.
    pub fn register(&mut self, registry: &Registry, first_token: usize) -> std::io::Result<()> {
        self.first_token = first_token;
        for (index, sink) in self.sinks.iter_mut().enumerate() {
            if let Sink::Tcp(s, _) = sink {
                s.register(registry, Token(first_token + index));
            }
        }
        self.sum();
        Ok(())
    }

    /// Takes the TCP sinks' connections out of `registry` (outputs a reload replaced,
    /// before another thread finishes them).
    pub fn deregister(&mut self, registry: &Registry) {
        for sink in &mut self.sinks {
            if let Sink::Tcp(s, _) = sink {
                s.deregister(registry);
            }
        }
    }

    /// Readiness for one of the tokens `register` handed out.
    pub fn on_event(&mut self, registry: &Registry, event: &mio::event::Event, now_us: i64) {
        let index = event.token().0.wrapping_sub(self.first_token);
        if let Some(Sink::Tcp(s, _)) = self.sinks.get_mut(index) {
            s.on_event(registry, event, now_us);
        }
        self.sum();
    }

    /// Reconnects what is due: TCP after its backoff, `/dev/log` if it was missing.
    pub fn tick(&mut self, registry: &Registry, now_us: i64) {
        for sink in &mut self.sinks {
            match sink {
                Sink::Tcp(s, _) => s.tick(registry, now_us),
                Sink::Unix(s) => s.tick(),
                _ => {}
            }
        }
        self.sum();
    }

    pub fn next_deadline(&self) -> Option<i64> {
        let tcp = self.sinks.iter().filter_map(|sink| match sink {
            Sink::Tcp(s, _) => s.next_deadline(),
            _ => None,
        });
        tcp.min()
    }

    /// The end of a turn of the loop: standard output writes what it gathered.
    pub fn end_turn(&mut self) {
        for sink in &mut self.sinks {
            if let Sink::Stdout(s) = sink {
                s.send();
            }
        }
        self.sum();
    }

    /// At shutdown or the end of a replay: flushes stdout and sends the TCP queues, waiting
    /// up to a few seconds per TCP sink; what cannot be sent is counted dropped. Not for
    /// the loop's every turn: use `tick` there.
    pub fn flush(&mut self) {
        for sink in &mut self.sinks {
            match sink {
                Sink::Stdout(s) => s.flush(),
                Sink::Tcp(s, _) => s.finish(),
                _ => {}
            }
        }
        self.sum();
    }

    pub fn counters(&self) -> &OutputCounters {
        &self.counters
    }

    /// Each sink's name (`tcp://192.0.2.5:514`, `file:/var/log/...`) and counters, for the
    /// stats line and `sink-dropped` status records.
    pub fn sinks(&self) -> impl Iterator<Item = (&str, &SinkCounters)> {
        let names = self.names.iter().map(String::as_str);
        names.zip(self.sinks.iter().map(Sink::counters))
    }

    /// Records waiting in TCP queues: what dropping these outputs (a reload that replaces
    /// them) would lose.
    pub fn queued(&self) -> usize {
        let queued = self.sinks.iter().map(|sink| match sink {
            Sink::Tcp(s, _) => s.queued(),
            _ => 0,
        });
        queued.sum()
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    fn sum(&mut self) {
        let records = self.counters.records;
        self.counters = OutputCounters {
            records,
            ..OutputCounters::default()
        };
        for sink in &self.sinks {
            self.counters.add(sink.counters());
        }
    }
}

fn open_target(target: &Target, queue: usize) -> anyhow::Result<Sink> {
    Ok(match target {
        Target::Unix(path) => {
            let sink = unix::UnixSink::new(path);
            if !sink.is_connected() {
                let path = path.display();
                crate::warn!("cannot reach {path}: its records are dropped until it appears");
            }
            Sink::Unix(sink)
        }
        Target::Udp(address) => {
            let peer = resolve(address)?;
            let sink = UdpSink::new(peer).with_context(|| format!("cannot open udp://{peer}"))?;
            Sink::Udp(sink, 0)
        }
        Target::Tcp(address, framing) => {
            Sink::Tcp(TcpSink::new(resolve(address)?, *framing, queue), 0)
        }
    })
}

fn resolve(address: &str) -> anyhow::Result<SocketAddr> {
    let mut found = address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {address}"))?;
    found
        .next()
        .ok_or_else(|| anyhow!("{address} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("unix:/dev/log"),
            Ok(Target::Unix("/dev/log".into()))
        );
        assert_eq!(
            parse_target("udp://127.0.0.1:514"),
            Ok(Target::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            parse_target("tcp+octet://[::1]:6514"),
            Ok(Target::Tcp("[::1]:6514".into(), Framing::OctetCount))
        );
        assert_eq!(
            parse_target("tcp://siem.example:514"),
            Ok(Target::Tcp("siem.example:514".into(), Framing::Newline))
        );
        for bad in [
            "udp://host",
            "tcp://:514",
            "tcp://h:0",
            "unix:",
            "syslog://h:514",
            "",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn facility_names() {
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("kern"), Some(0));
        assert_eq!(facility_code("nonsense"), None);
    }
}
