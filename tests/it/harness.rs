//! Runs the real binary on loopback: a temporary directory with a configuration and lists,
//! the process with its diagnostics read line by line, and NetFlow v5 datagrams to send it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long any one wait in these tests may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A directory that is removed when the test ends.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let unique = format!(
            "flowalert-{label}-{}-{:?}",
            std::process::id(),
            Instant::now()
        );
        let name: String = unique.chars().filter(char::is_ascii_alphanumeric).collect();
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("cannot create a temporary directory");
        TempDir { path }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, text).expect("cannot write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The service under test.
pub struct Daemon {
    pub child: Child,
    /// Where it receives flows (the first `listen` address, port 0 resolved).
    pub flow_address: SocketAddr,
    diagnostics: Receiver<String>,
    /// Every diagnostic line read so far.
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts `flowalert --config CONFIG run` and waits until it says it is listening.
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_with_env(config, &[])
    }

    /// `start` with extra environment variables for the process.
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        Daemon::spawn(config, env, Stdio::null())
    }

    /// `start` with the process's standard output going to the file `stdout`.
    pub fn start_with_stdout(config: &Path, stdout: &Path) -> Daemon {
        let file = std::fs::File::create(stdout).expect("cannot create the stdout file");
        Daemon::spawn(config, &[], Stdio::from(file))
    }

    fn spawn(config: &Path, env: &[(&str, &str)], stdout: Stdio) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowalert"))
            .envs(env.iter().copied())
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start flowalert");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, diagnostics) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut daemon = Daemon {
            child,
            flow_address: "127.0.0.1:9".parse().unwrap(),
            diagnostics,
            seen: Vec::new(),
        };
        let line = daemon.wait_for("listening on ");
        let address = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .expect("the listening line names an address");
        daemon.flow_address = address.parse().expect("a socket address");
        daemon.wait_for("receiving with ");
        daemon
    }

    /// Waits for a diagnostic line containing `text`; fails the test after `PATIENCE`.
    pub fn wait_for(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.diagnostics.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?} in time; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the `count`th line containing `text` (counting lines seen before).
    pub fn wait_for_nth(&mut self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found: Vec<&String> = self.seen.iter().filter(|l| l.contains(text)).collect();
            if found.len() >= count {
                return found[count - 1].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.diagnostics.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "not {count} lines with {text:?} in time; saw {:#?}",
                    self.seen
                ),
            }
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and returns the exit code and the final stats line.
    pub fn stop(mut self) -> (i32, String) {
        self.signal("TERM");
        let stats = self.wait_for("stopped; stats ");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait") {
                return (status.code().unwrap_or(-1), stats);
            }
            assert!(
                Instant::now() < deadline,
                "flowalert did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name=` in a stats line.
pub fn stat(line: &str, name: &str) -> u64 {
    let key = format!(" {name}=");
    let start = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let rest = &line[start + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a number")
}

/// One NetFlow v5 flow, as the test wants it.
#[derive(Clone, Copy)]
pub struct V5Flow {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub flags: u8,
    pub packets: u32,
    pub octets: u32,
    /// Milliseconds of exporter uptime at the flow's start and end.
    pub first: u32,
    pub last: u32,
}

/// A v5 datagram: header with `uptime_ms` and `unix_secs`, then the records.
pub fn v5_datagram(uptime_ms: u32, unix_secs: u32, sequence: u32, flows: &[V5Flow]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(24 + 48 * flows.len());
    bytes.extend_from_slice(&5u16.to_be_bytes());
    bytes.extend_from_slice(&(flows.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&uptime_ms.to_be_bytes());
    bytes.extend_from_slice(&unix_secs.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    for flow in flows {
        bytes.extend_from_slice(&flow.src);
        bytes.extend_from_slice(&flow.dst);
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[0, 1, 0, 2]);
        bytes.extend_from_slice(&flow.packets.to_be_bytes());
        bytes.extend_from_slice(&flow.octets.to_be_bytes());
        bytes.extend_from_slice(&flow.first.to_be_bytes());
        bytes.extend_from_slice(&flow.last.to_be_bytes());
        bytes.extend_from_slice(&flow.sport.to_be_bytes());
        bytes.extend_from_slice(&flow.dport.to_be_bytes());
        bytes.extend_from_slice(&[0, flow.flags, flow.proto, 0]);
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[24, 24, 0, 0]);
    }
    bytes
}

/// A socket to send flows from: the exporter is 127.0.0.1.
pub fn exporter() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("cannot bind an exporter socket")
}

/// Reads a file until it has at least `lines` lines.
pub fn wait_for_lines(path: &Path, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let found: Vec<String> = text.lines().map(str::to_owned).collect();
        if found.len() >= lines {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} of {lines} lines: {found:#?}",
            path.display(),
            found.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replaces the header time and PID of a file-form line, which change every run.
pub fn mask(line: &str) -> String {
    let Some((header, message)) = line.split_once("]: ") else {
        return line.to_owned();
    };
    let host = header.split(' ').nth(1).unwrap_or("-");
    format!("TIME {host} flowalert[PID]: {message}")
}

/// Runs `flowalert --config CONFIG ARGS...` to completion (the one-shot commands).
pub fn flowalert(config: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run flowalert")
}
