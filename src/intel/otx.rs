//! The OTX cache: subscribed pulses as `flowalert update` saved them, read into a `Source`.
//!
//! The cache is versioned JSON in the state directory, written only by `update` (atomically).
//! Reading it applies expiry and ageing again as of the caller's clock, so a cache that a
//! failing sync left behind can never keep an expired indicator or an old pulse alive.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{Indicator, LineProblem, Source};

/// The cache layout this build writes and reads.
pub const CACHE_VERSION: u32 = 1;

/// The name every OTX indicator carries in `lists=`.
pub const SOURCE_NAME: &str = "otx";

/// Indicator types kept; every other type is counted and skipped at sync.
pub const KEPT_TYPES: &[&str] = &["IPv4", "IPv6", "CIDR"];

/// `<state.dir>/otx-cache.json` as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    pub version: u32,
    /// When the last complete sync started, ms since the epoch (the clock `update` used).
    pub last_sync_ms: Option<i64>,
    /// When the last full sync (every subscribed pulse, not only the changed ones) started;
    /// absent in caches written before full syncs existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_sync_ms: Option<i64>,
    pub pulses: Vec<CachedPulse>,
}

/// One pulse with only the indicators a flow can match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedPulse {
    pub id: String,
    pub name: String,
    /// The pulse's `modified` time, ms since the epoch.
    pub modified_ms: i64,
    pub indicators: Vec<CachedIndicator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedIndicator {
    /// `IPv4`, `IPv6` or `CIDR`, as OTX names it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value as OTX wrote it.
    pub indicator: String,
    /// ms since the epoch; `None` never expires.
    pub expiration_ms: Option<i64>,
    pub is_active: bool,
}

impl Cache {
    pub fn empty() -> Cache {
        Cache {
            version: CACHE_VERSION,
            last_sync_ms: None,
            last_full_sync_ms: None,
            pulses: Vec::new(),
        }
    }

    /// Reads a cache file; `Ok(None)` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<Cache>, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("{}: cannot read: {err}", path.display())),
        };
        let not_cache =
            |err: serde_json::Error| format!("{}: not an OTX cache: {err}", path.display());

        // The version first, so another layout is named as such rather than as corrupt.
        let found = serde_json::from_slice::<Versioned>(&bytes).map_err(not_cache)?;
        if found.version != CACHE_VERSION {
            let found = found.version;
            return Err(format!(
                "{}: cache version {found}, this build reads {CACHE_VERSION}",
                path.display()
            ));
        }
        serde_json::from_slice(&bytes).map(Some).map_err(not_cache)
    }
}

#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

impl CachedIndicator {
    /// Whether a flow should still match this indicator at `now_ms`.
    pub fn is_current(&self, now_ms: i64) -> bool {
        self.is_active && self.expiration_ms.map_or(true, |end| end > now_ms)
    }
}

impl CachedPulse {
    /// A pulse not modified within `max_age_ms` of `now_ms` has aged out.
    pub fn is_recent(&self, now_ms: i64, max_age_ms: i64) -> bool {
        self.modified_ms >= now_ms.saturating_sub(max_age_ms)
    }

    pub fn url(&self) -> String {
        format!("https://otx.alienvault.com/pulse/{}", self.id)
    }
}

/// Reads the cache at `path`, leaving out pulses older than `max_age_ms` and indicators that
/// expired by `now_ms`. No cache yet (before the first `update`) is an empty source.
pub fn load_cache(path: &Path, now_ms: i64, max_age_ms: i64) -> Result<Source, String> {
    let mut source = Source {
        name: SOURCE_NAME.into(),
        ..Source::default()
    };
    let Some(cache) = Cache::read(path)? else {
        return Ok(source);
    };

    source.data_time = cache.last_sync_ms;
    let recent = cache
        .pulses
        .iter()
        .filter(|p| p.is_recent(now_ms, max_age_ms));
    for pulse in recent {
        add_pulse(pulse, now_ms, &mut source);
    }
    Ok(source)
}

fn add_pulse(pulse: &CachedPulse, now_ms: i64, source: &mut Source) {
    let url: Box<str> = pulse.url().into();
    let numbered = pulse.indicators.iter().enumerate();
    for (index, indicator) in numbered.filter(|(_, i)| i.is_current(now_ms)) {
        let Some(net) = parse_indicator(&indicator.indicator) else {
            // The cache has no lines; number the problem by its place in the pulse.
            source.problems.push(LineProblem {
                line: index + 1,
                reason: format!(
                    "pulse {}: {:?} is not an address or prefix",
                    pulse.id, indicator.indicator
                ),
            });
            continue;
        };
        source.indicators.push(Indicator {
            net,
            entry: indicator.indicator.as_str().into(),
            comment: pulse.name.as_str().into(),
            url: Some(url.clone()),
        });
    }
}

/// An IPv4/IPv6 address or a CIDR prefix (host bits cleared), as OTX writes them.
pub fn parse_indicator(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses OTX times: `2024-05-20T14:02:11.123000`, UTC, with an optional fraction and an
/// optional `Z` or `+00:00`. The value is ms since the epoch.
pub fn parse_otx_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }

    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let parsed = time::PrimitiveDateTime::parse(whole, &format).ok()?;
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    let seconds = parsed.assume_utc().unix_timestamp();
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// Writes ms since the epoch the way OTX's `modified_since` takes it (UTC, whole seconds).
pub fn format_otx_time(millis: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    /// 2024-06-01T00:00:00Z
    const NOW: i64 = 1_717_200_000_000;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("flowalert-otx-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("otx-cache.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(name: &str, text: &str, max_age_ms: i64) -> Result<Source, String> {
        let path = temp_file(name, text);
        let result = load_cache(&path, NOW, max_age_ms);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        result
    }

    fn entries(source: &Source) -> Vec<&str> {
        source.indicators.iter().map(|i| &*i.entry).collect()
    }

    const CACHE: &str = r#"{
      "version": 1,
      "last_sync_ms": 1717199000000,
      "pulses": [
        {"id": "aaaa0001", "name": "Fresh pulse", "modified_ms": 1717113600000,
         "indicators": [
           {"type": "IPv4", "indicator": "192.0.2.10", "expiration_ms": null,
            "is_active": true},
           {"type": "IPv4", "indicator": "192.0.2.11", "expiration_ms": 1717199999999,
            "is_active": true},
           {"type": "IPv4", "indicator": "192.0.2.12", "expiration_ms": 1717200000001,
            "is_active": true},
           {"type": "IPv4", "indicator": "192.0.2.13", "expiration_ms": null,
            "is_active": false},
           {"type": "CIDR", "indicator": "203.0.113.7/28", "expiration_ms": null,
            "is_active": true},
           {"type": "IPv6", "indicator": "2001:db8::bad:1", "expiration_ms": null,
            "is_active": true},
           {"type": "IPv4", "indicator": "not-an-address", "expiration_ms": null,
            "is_active": true}
         ]},
        {"id": "bbbb0002", "name": "Old pulse", "modified_ms": 1709251200000,
         "indicators": [
           {"type": "IPv4", "indicator": "198.51.100.1", "expiration_ms": null,
            "is_active": true}
         ]}
      ]
    }"#;

    #[test]
    fn keeps_active_unexpired_indicators_of_recent_pulses() {
        let source = load("keeps", CACHE, 30 * DAY_MS).unwrap();

        assert_eq!(source.name, "otx");
        assert_eq!(source.data_time, Some(1_717_199_000_000));
        assert_eq!(
            entries(&source),
            [
                "192.0.2.10",
                "192.0.2.12",
                "203.0.113.7/28",
                "2001:db8::bad:1"
            ]
        );
        let cidr = &source.indicators[2];
        assert_eq!(cidr.net, "203.0.113.0/28".parse::<IpNet>().unwrap());
        assert_eq!(&*cidr.comment, "Fresh pulse");
        assert_eq!(
            cidr.url.as_deref(),
            Some("https://otx.alienvault.com/pulse/aaaa0001")
        );
        assert_eq!(
            source.indicators[0].net,
            "192.0.2.10/32".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn unparseable_indicator_is_a_problem_not_an_error() {
        let source = load("problem", CACHE, 30 * DAY_MS).unwrap();
        assert_eq!(source.problems.len(), 1);
        assert_eq!(source.problems[0].line, 7);
        assert_eq!(
            source.problems[0].reason,
            "pulse aaaa0001: \"not-an-address\" is not an address or prefix"
        );
    }

    #[test]
    fn pulse_older_than_max_age_is_left_out_and_kept_when_younger() {
        let thirty_days = load("age30", CACHE, 30 * DAY_MS).unwrap();
        assert!(!entries(&thirty_days).contains(&"198.51.100.1"));

        // The old pulse was modified 2024-03-01, 92 days before NOW.
        let hundred_days = load("age100", CACHE, 100 * DAY_MS).unwrap();
        assert_eq!(hundred_days.indicators.len(), 5);
        assert_eq!(&*hundred_days.indicators[4].entry, "198.51.100.1");
        assert_eq!(&*hundred_days.indicators[4].comment, "Old pulse");
    }

    #[test]
    fn missing_cache_is_an_empty_source() {
        let path = std::env::temp_dir().join("flowalert-otx-no-such-dir/otx-cache.json");
        let source = load_cache(&path, NOW, DAY_MS).unwrap();
        assert_eq!(source.name, "otx");
        assert!(source.indicators.is_empty());
        assert_eq!(source.data_time, None);
    }

    #[test]
    fn corrupt_or_foreign_cache_is_an_error() {
        let err = load("corrupt", "{\"version\": 1, \"pulses\": [", DAY_MS).unwrap_err();
        assert!(err.contains("not an OTX cache"), "{err}");

        let newer = r#"{"version": 2, "pulses": {"a": 1}, "extra": true}"#;
        let err = load("newer", newer, DAY_MS).unwrap_err();
        assert!(
            err.ends_with("cache version 2, this build reads 1"),
            "{err}"
        );
    }

    #[test]
    fn otx_times_with_and_without_fraction_and_zone() {
        assert_eq!(parse_otx_time("2024-06-01T00:00:00"), Some(NOW));
        assert_eq!(parse_otx_time("2024-06-01T00:00:00Z"), Some(NOW));
        assert_eq!(parse_otx_time("2024-06-01T00:00:00+00:00"), Some(NOW));
        assert_eq!(
            parse_otx_time("2024-06-01T00:00:00.123000"),
            Some(NOW + 123)
        );
        assert_eq!(parse_otx_time("2024-06-01T00:00:00.5"), Some(NOW + 500));
        assert_eq!(parse_otx_time("2024-06-01 00:00:00"), None);
        assert_eq!(parse_otx_time("2024-06-01T00:00:00.12a"), None);
        assert_eq!(parse_otx_time(""), None);
        assert_eq!(format_otx_time(NOW + 999), "2024-06-01T00:00:00");
    }
}
