//! Alert records: direction, repeat folding and the message format.
//!
//! `Alerter` turns flows into `Event`s (hit and repeat records); `status_event` makes the
//! status records other modules raise. Every `Event.message` is printable ASCII and small
//! enough that any framing keeps the whole record within 1024 bytes.

mod deadlines;
pub mod direction;
pub mod fold;
pub mod message;
pub mod proto;
pub mod record;
pub mod utc;

pub use fold::{AlertCounters, Alerter, TABLE_CAP};

/// What kind of record: also the RFC 5424 MSGID and the first word of the file form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Hit,
    Repeat,
    Status,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hit => "hit",
            Kind::Repeat => "repeat",
            Kind::Status => "status",
        }
    }
}

/// Syslog severity of a record (RFC 5424 numbers: 2 critical ... 7 debug).
pub type Severity = u8;

/// One record ready for the outputs: the key=value message part, its kind and when it was
/// made. Framing (file line, BSD syslog, RFC 5424) is the outputs' job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Microseconds since the Unix epoch: the header timestamp.
    pub time_us: i64,
    pub kind: Kind,
    pub severity: Severity,
    /// `src=... sport=... ...` for hit and repeat, `kind=... subject=... detail="..."` for
    /// status: printable ASCII only, at most what fits in a 1024-byte record.
    pub message: String,
}

/// A status record: `kind=K subject=S detail="..."`, `detail` escaped and cut to fit.
pub fn status_event(
    now_us: i64,
    kind: &str,
    subject: &str,
    detail: &str,
    severity: Severity,
) -> Event {
    let mut m = message::Message::new();
    m.bare("kind", kind)
        .bare("subject", subject)
        .quoted("detail", detail);
    Event {
        time_us: now_us,
        kind: Kind::Status,
        severity,
        message: m.finish(),
    }
}

/// The severity the contract gives each status kind: 4 (warning) for a blind spot the
/// collector survives, 3 (error) when it cannot alert at all.
pub fn status_severity(kind: &str) -> Severity {
    match kind {
        "no-indicators" | "build-failed" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests;
