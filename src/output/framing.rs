//! The three record framings, as pure functions tested byte for byte.
//!
//! `file_line` is what rsyslog writes to files, `rfc5424` is network syslog (numeric PROCID,
//! six-digit `+00:00` timestamp, MSGID hit/repeat/status, `[meta sequenceId]`), `bsd_local`
//! is what syslog(3) sends to `/dev/log`. Headers are UTC. Hostnames are cleaned to at most
//! `HOSTNAME_MAX` printable bytes, so with `MESSAGE_MAX` no record exceeds 1024 bytes.

use std::fmt::Write;

use crate::alert::message::push_decimal;
use crate::alert::utc::{push_micros_offset, Utc};
use crate::alert::Event;

/// Longest hostname a header carries (Linux `HOST_NAME_MAX`).
pub const HOSTNAME_MAX: usize = 64;

/// RFC 5424 `sequenceId` runs 1 to 2^31 - 1, then starts again at 1.
const SEQUENCE_MAX: u64 = 2_147_483_647;

/// `2026-12-03T19:47:09.517513+00:00 fwcol flowalert[4711]: hit src=...` (no newline).
pub fn file_line(event: &Event, hostname: &str, pid: u32) -> String {
    let mut line = String::with_capacity(64 + event.message.len());
    push_file_line(&mut line, event, hostname, pid);
    line
}

/// Appends `file_line(event, hostname, pid)` to `line`.
pub fn push_file_line(line: &mut String, event: &Event, hostname: &str, pid: u32) {
    push_micros_offset(line, event.time_us);
    line.push(' ');
    push_hostname(line, hostname);
    line.push_str(" flowalert[");
    push_decimal(line, u64::from(pid));
    line.push_str("]: ");
    line.push_str(event.kind.as_str());
    line.push(' ');
    line.push_str(&event.message);
}

/// `<PRI>1 TIMESTAMP HOST flowalert PID MSGID [meta sequenceId="N"] MSGID message`; the
/// `[flowalert@N kind="..."]` element follows `meta` only when `enterprise_id` is not 0.
/// `facility` is the facility number (3 for daemon).
pub fn rfc5424(
    event: &Event,
    hostname: &str,
    pid: u32,
    facility: u8,
    sequence: u64,
    enterprise_id: u32,
) -> String {
    let mut record = String::with_capacity(128 + event.message.len());
    let kind = event.kind.as_str();
    let _ = write!(record, "<{}>1 ", priority(facility, event.severity));
    push_micros_offset(&mut record, event.time_us);
    record.push(' ');
    push_hostname(&mut record, hostname);
    let sequence = wrap_sequence(sequence);
    let _ = write!(
        record,
        " flowalert {pid} {kind} [meta sequenceId=\"{sequence}\"]"
    );
    if enterprise_id != 0 {
        let _ = write!(record, "[flowalert@{enterprise_id} kind=\"{kind}\"]");
    }
    // The message starts with the kind again, as in the file form: rsyslog then writes the
    // same words after its tag, and one decoder pattern reads every form.
    record.push(' ');
    record.push_str(kind);
    record.push(' ');
    record.push_str(&event.message);
    record
}

/// `<PRI>Dec  3 19:47:09 flowalert[4711]: hit src=...`: syslog(3)'s local form, in UTC.
pub fn bsd_local(event: &Event, pid: u32, facility: u8) -> String {
    let t = Utc::from_micros(event.time_us);
    let mut record = String::with_capacity(48 + event.message.len());
    let _ = write!(
        record,
        "<{}>{} {:>2} {:02}:{:02}:{:02} flowalert[{pid}]: {} ",
        priority(facility, event.severity),
        t.month_name(),
        t.day,
        t.hour,
        t.minute,
        t.second,
        event.kind.as_str()
    );
    record.push_str(&event.message);
    record
}

/// PRI = facility * 8 + severity, each kept in range (facility 0-23, severity 0-7).
fn priority(facility: u8, severity: u8) -> u16 {
    u16::from(facility.min(23)) * 8 + u16::from(severity.min(7))
}

fn wrap_sequence(sequence: u64) -> u64 {
    match sequence {
        0 => 1,
        n => (n - 1) % SEQUENCE_MAX + 1,
    }
}

/// The hostname as headers may carry it: printable ASCII without spaces, `-` when empty.
fn push_hostname(out: &mut String, hostname: &str) {
    let start = out.len();
    for byte in hostname.bytes().take(HOSTNAME_MAX) {
        let keep = (0x21..=0x7e).contains(&byte);
        out.push(if keep { char::from(byte) } else { '-' });
    }
    if out.len() == start {
        out.push('-');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Event, Kind};

    fn event(kind: Kind, severity: u8) -> Event {
        Event {
            time_us: 1_796_327_229_517_513,
            kind,
            severity,
            message: "src=203.0.113.9 sport=44444".into(),
        }
    }

    #[test]
    fn file_line_form() {
        let line = file_line(&event(Kind::Hit, 5), "fwcol", 4711);
        let expected = "2026-12-03T19:47:09.517513+00:00 fwcol flowalert[4711]: \
                        hit src=203.0.113.9 sport=44444";
        assert_eq!(line, expected);
    }

    #[test]
    fn rfc5424_form_without_and_with_enterprise_id() {
        let plain = rfc5424(&event(Kind::Hit, 5), "fwcol", 4711, 3, 7, 0);
        assert_eq!(
            plain,
            "<29>1 2026-12-03T19:47:09.517513+00:00 fwcol flowalert 4711 hit \
             [meta sequenceId=\"7\"] hit src=203.0.113.9 sport=44444"
        );
        let private = rfc5424(&event(Kind::Repeat, 6), "fwcol", 4711, 16, 8, 32473);
        assert_eq!(
            private,
            "<134>1 2026-12-03T19:47:09.517513+00:00 fwcol flowalert 4711 repeat \
             [meta sequenceId=\"8\"][flowalert@32473 kind=\"repeat\"] repeat src=203.0.113.9 \
             sport=44444"
        );
    }

    #[test]
    fn bsd_local_form_pads_the_day() {
        let record = bsd_local(&event(Kind::Hit, 4), 4711, 3);
        assert_eq!(
            record,
            "<28>Dec  3 19:47:09 flowalert[4711]: hit src=203.0.113.9 sport=44444"
        );
    }

    #[test]
    fn sequence_wraps_to_one() {
        assert_eq!(wrap_sequence(0), 1);
        assert_eq!(wrap_sequence(SEQUENCE_MAX), SEQUENCE_MAX);
        assert_eq!(wrap_sequence(SEQUENCE_MAX + 1), 1);
    }

    #[test]
    fn hostname_cleaned_and_cut() {
        let line = file_line(&event(Kind::Status, 4), "bad host\n", 1);
        assert!(line.contains(" bad-host- flowalert[1]: "), "{line}");
        let empty = rfc5424(&event(Kind::Status, 4), "", 1, 3, 1, 0);
        assert!(empty.contains("+00:00 - flowalert 1 status "), "{empty}");
        let long = file_line(&event(Kind::Status, 4), &"h".repeat(300), 1);
        assert!(long.contains(&format!(" {} flowalert", "h".repeat(HOSTNAME_MAX))));
        assert!(!long.contains(&"h".repeat(HOSTNAME_MAX + 1)));
    }
}
