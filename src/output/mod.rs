//! Output sinks: file, stdout, `/dev/log` and network syslog, fed with `Event`s.
//!
//! No sink blocks the loop: sockets are non-blocking, a TCP sink waits behind a bounded
//! queue, and whatever a sink cannot take is counted as dropped.

pub mod framing;

pub use framing::{bsd_local, file_line, rfc5424};
