//! Detaching for hosts without systemd (`run --daemon --pidfile PATH`).
//!
//! The daemonize crate's own `start` lets the parent exit before the daemon has written its
//! pidfile, so an init script that reads the pidfile right after the command returns can
//! find none. Here the parent waits on a pipe until the daemon says it is ready (sockets
//! bound, pidfile written) or fails, and exits 0 or 1 accordingly.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use daemonize::{Daemonize, Outcome};

/// What the caller is after `detach`: the daemon, with a way to say it is ready.
pub struct Detached {
    ready: UnixStream,
}

impl Detached {
    /// Tells the waiting parent that the service is receiving; it then exits 0.
    pub fn ready(mut self) -> io::Result<()> {
        self.ready.write_all(b"R")
    }
}

/// Forks into the background. Returns in the daemon only; the parent exits here, with 0 once
/// the daemon is ready and 1 if the daemon ended or failed first.
pub fn detach(pidfile: &Path) -> io::Result<Detached> {
    let (mut parent_end, daemon_end) = UnixStream::pair()?;
    let daemonize = Daemonize::new()
        .pid_file(pidfile)
        .working_directory("/")
        .umask(0o027);

    match daemonize.execute() {
        Outcome::Parent(Ok(_)) => {
            drop(daemon_end);
            let mut byte = [0u8; 1];
            if matches!(parent_end.read(&mut byte), Ok(1)) {
                std::process::exit(0);
            }
            // The daemon's own messages went to /dev/null. Its pidfile goes too, unless it
            // names a process still running: another daemon, whose lock made this one fail.
            remove_dead_pidfile(pidfile);
            crate::error!(
                "the daemon stopped before it was ready; run without --daemon to see why"
            );
            std::process::exit(1);
        }
        Outcome::Parent(Err(err)) => Err(io::Error::other(err.to_string())),
        Outcome::Child(Ok(_)) => {
            drop(parent_end);
            Ok(Detached { ready: daemon_end })
        }
        Outcome::Child(Err(err)) => {
            // Stderr may already be /dev/null; the parent sees the pipe close and exits 1.
            crate::error!("cannot detach: {err}");
            std::process::exit(1);
        }
    }
}

/// How long the parent waits for a failed daemon to be gone before it leaves the pidfile.
const GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Removes `pidfile` once the process it names has ended (or if it names none); leaves it
/// while that process runs on.
fn remove_dead_pidfile(pidfile: &Path) {
    let named = std::fs::read_to_string(pidfile).unwrap_or_default();
    let Ok(pid) = named.trim().parse::<u32>() else {
        let _ = std::fs::remove_file(pidfile);
        return;
    };
    let started = std::time::Instant::now();
    while is_running(pid) {
        if started.elapsed() >= GONE_WAIT {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(pidfile);
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn is_running(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let state = status.lines().find_map(|line| line.strip_prefix("State:"));
    state.is_some_and(|state| !matches!(state.trim().chars().next(), Some('Z' | 'X')))
}
