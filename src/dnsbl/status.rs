//! The `status` records this module writes (`dnsbl-paused`, `dnsbl-self-test-failed`).
//!
//! Built here in the shared format `kind=K subject=S detail="..."` until the alert module's
//! `status_event` is merged; the subject is always the masked zone.

use crate::alert::{Event, Kind, Severity};

pub const PAUSED: &str = "dnsbl-paused";
pub const SELF_TEST_FAILED: &str = "dnsbl-self-test-failed";
/// A lookup source that went blind, like a stale list: warning.
pub const SEVERITY: Severity = 4;

pub fn event(now_us: i64, kind: &str, subject: &str, detail: &str) -> Event {
    let subject: String = subject
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    Event {
        time_us: now_us,
        kind: Kind::Status,
        severity: SEVERITY,
        message: format!(
            "kind={kind} subject={subject} detail=\"{}\"",
            quoted(detail)
        ),
    }
}

/// Printable ASCII, `"` and `\` escaped, other control bytes as `\xNN`, non-ASCII as `?`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if c.is_ascii() => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_escaped() {
        let event = event(5, PAUSED, "****.zen.dq.spamhaus.net", "a \"b\"\n\u{e9}");
        assert_eq!(
            event.message,
            "kind=dnsbl-paused subject=****.zen.dq.spamhaus.net detail=\"a \\\"b\\\"\\x0a?\""
        );
        assert_eq!(
            (event.time_us, event.kind, event.severity),
            (5, Kind::Status, 4)
        );
    }
}
