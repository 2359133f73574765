//! One zone at run time: how its answers are read, and whether it may be asked.
//!
//! A zone is asked only while `Active`: after a self-test passed and no refusal answer has
//! paused it since. The DNS zone itself may hold a DQS key, so only `shown` (masked) is
//! ever written to a log line or a record.

use std::net::Ipv4Addr;

use crate::config::{masked_zone, DnsblZone, ReturnRange};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// No self-test has finished yet.
    Untested,
    Active,
    /// The last self-test failed.
    Failed,
    /// A refusal answer (127.255.255.0/24 or outside 127.0.0.0/8) was seen.
    Paused,
}

/// How the codes of one answer read for a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A refusal code: the resolver or the quota, not the address.
    Refused(Ipv4Addr),
    /// Codes in `listed` ranges, with their labels: `127.0.0.2 SBL | 127.0.0.4 XBL`.
    Listed(String),
    /// Every code is in an `ignore` range.
    Ignored,
    /// Codes in 127.0.0.0/8 that no range names.
    Unknown,
}

pub struct Zone {
    pub name: String,
    /// The DNS zone queries are made in; may hold a key: never log it.
    pub zone: String,
    /// The zone with any DQS key masked.
    pub shown: String,
    /// The masked label, to scrub from text the zone sends back.
    key: Option<String>,
    listed: Vec<ReturnRange>,
    ignore: Vec<ReturnRange>,
    pub txt: bool,
    pub state: ZoneState,
    pub next_test_us: i64,
    pub test: Option<SelfTest>,
}

impl Zone {
    pub fn new(config: &DnsblZone, now_us: i64) -> Zone {
        let shown = masked_zone(&config.zone);
        let key = (shown != config.zone)
            .then(|| config.zone.split('.').next().unwrap_or_default().to_owned());
        Zone {
            name: config.name.clone(),
            zone: config.zone.clone(),
            shown,
            key,
            listed: config.listed.clone(),
            ignore: config.ignore.clone(),
            txt: config.txt,
            state: ZoneState::Untested,
            next_test_us: now_us,
            test: None,
        }
    }

    pub fn read(&self, codes: &[Ipv4Addr]) -> Reading {
        if let Some(&code) = codes.iter().find(|&&code| is_refusal(code)) {
            return Reading::Refused(code);
        }
        let labelled: Vec<String> = codes
            .iter()
            .filter_map(|&code| {
                let range = self.listed.iter().find(|range| range.contains(code))?;
                Some(format!("{code} {}", range.label))
            })
            .collect();
        if !labelled.is_empty() {
            return Reading::Listed(labelled.join(" | "));
        }
        let ignored = |code: &Ipv4Addr| self.ignore.iter().any(|range| range.contains(*code));
        if codes.iter().all(ignored) {
            Reading::Ignored
        } else {
            Reading::Unknown
        }
    }

    /// `text` with the zone's key, if it has one and the text repeats it, masked.
    pub fn scrub(&self, text: String) -> String {
        let Some(key) = self.key.as_deref().filter(|key| !key.is_empty()) else {
            return text;
        };
        let lower = text.to_ascii_lowercase();
        if !lower.contains(&key.to_ascii_lowercase()) {
            return text;
        }
        // ASCII lower-casing keeps byte offsets, so the match positions carry over.
        let key = key.to_ascii_lowercase();
        let mut out = String::with_capacity(text.len());
        let mut rest = 0;
        for (at, _) in lower.match_indices(&key) {
            out.push_str(text.get(rest..at).unwrap_or_default());
            out.push_str("****");
            rest = at + key.len();
        }
        out.push_str(text.get(rest..).unwrap_or_default());
        out
    }
}

/// 127.255.255.0/24 (Spamhaus: typo, public resolver, quota) or anything outside
/// 127.0.0.0/8 (RFC 5782 section 2.3: such an answer is not a listing).
pub fn is_refusal(code: Ipv4Addr) -> bool {
    let octets = code.octets();
    octets[0] != 127 || (octets[1] == 255 && octets[2] == 255)
}

/// What one self-test query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Refused(Ipv4Addr),
}

/// A self-test in flight: 127.0.0.2 must be listed, 127.0.0.1 must not (RFC 5782 5.).
#[derive(Debug, Default)]
pub struct SelfTest {
    listed: Option<Outcome>,
    unlisted: Option<Outcome>,
}

impl SelfTest {
    pub fn record(&mut self, expect_listed: bool, outcome: Outcome) {
        if expect_listed {
            self.listed = Some(outcome);
        } else {
            self.unlisted = Some(outcome);
        }
    }

    /// The verdict once both queries have an outcome.
    pub fn verdict(&self) -> Option<Outcome> {
        let (Some(listed), Some(unlisted)) = (&self.listed, &self.unlisted) else {
            return None;
        };
        let both = [listed, unlisted];
        if let Some(code) = both.iter().find_map(|o| match o {
            Outcome::Refused(code) => Some(*code),
            _ => None,
        }) {
            return Some(Outcome::Refused(code));
        }
        let reasons: Vec<&str> = both
            .iter()
            .filter_map(|o| match o {
                Outcome::Fail(reason) => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        match reasons.is_empty() {
            true => Some(Outcome::Pass),
            false => Some(Outcome::Fail(reasons.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        let range = |first: [u8; 4], last: [u8; 4], label: &str| ReturnRange {
            first: first.into(),
            last: last.into(),
            label: label.into(),
        };
        let config = DnsblZone {
            name: "zen".into(),
            zone: "k3y.zen.dq.spamhaus.net".into(),
            listed: vec![
                range([127, 0, 0, 2], [127, 0, 0, 3], "SBL"),
                range([127, 0, 0, 4], [127, 0, 0, 7], "XBL"),
            ],
            ignore: vec![range([127, 0, 0, 10], [127, 0, 0, 11], "PBL")],
            txt: false,
        };
        Zone::new(&config, 0)
    }

    fn codes(last: &[u8]) -> Vec<Ipv4Addr> {
        last.iter().map(|&d| Ipv4Addr::new(127, 0, 0, d)).collect()
    }

    #[test]
    fn codes_read_as_listed_ignored_or_unknown() {
        let zone = zone();
        let both = Reading::Listed("127.0.0.2 SBL | 127.0.0.4 XBL".into());
        assert_eq!(zone.read(&codes(&[2, 4])), both);
        assert_eq!(
            zone.read(&codes(&[10, 4])),
            Reading::Listed("127.0.0.4 XBL".into())
        );
        assert_eq!(zone.read(&codes(&[10, 11])), Reading::Ignored);
        assert_eq!(zone.read(&codes(&[10, 99])), Reading::Unknown);
    }

    #[test]
    fn refusal_codes_win_over_listings() {
        let zone = zone();
        let refusal = Ipv4Addr::new(127, 255, 255, 254);
        assert_eq!(
            zone.read(&[codes(&[2])[0], refusal]),
            Reading::Refused(refusal)
        );
        let outside = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(zone.read(&[outside]), Reading::Refused(outside));
    }

    #[test]
    fn the_key_is_masked_wherever_it_comes_back() {
        let zone = zone();
        assert_eq!(zone.shown, "****.zen.dq.spamhaus.net");
        let url = "https://x.test/q?zone=K3Y.zen&k3y".to_owned();
        assert_eq!(zone.scrub(url), "https://x.test/q?zone=****.zen&****");
    }

    #[test]
    fn a_self_test_waits_for_both_answers() {
        let mut test = SelfTest::default();
        test.record(true, Outcome::Pass);
        assert_eq!(test.verdict(), None);
        test.record(false, Outcome::Fail("127.0.0.1 is listed".into()));
        assert_eq!(
            test.verdict(),
            Some(Outcome::Fail("127.0.0.1 is listed".into()))
        );
    }
}
