//! Alert records: direction, repeat folding and the message format.

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
