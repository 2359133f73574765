//! Syncing subscribed OTX pulses (DirectConnect API v1) into the cache.
//!
//! Every request goes to the configured `[otx] url`: a `next` link only lends its path and
//! query, so the key is never sent to a host the server names. All pages are fetched before
//! anything is written; a failure on any page leaves the old cache byte for byte as it was.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::http::{self, FetchError, HttpPolicy, Request};
use super::Log;
use crate::intel::otx::{self, Cache, CachedIndicator, CachedPulse};

/// Pulses per page asked for.
const PAGE_LIMIT: u32 = 50;

/// More pages than this (100 000 pulses) is taken as a server looping.
const MAX_PAGES: usize = 2000;

/// Distinct skipped indicator types counted by name; the rest count as "other".
const MAX_TYPE_NAMES: usize = 32;

/// How often a sync asks for every subscribed pulse instead of the changed ones: OTX says
/// nothing of pulses one unsubscribes from, so only a full answer shows they are gone.
pub const FULL_SYNC_EVERY_MS: i64 = 24 * 3600 * 1000;

/// Pulse names beyond this are cut (records cut them far shorter anyway).
const MAX_NAME_CHARS: usize = 256;

/// The API key. It has no `Display`, and its `Debug` does not show it.
pub struct Key(String);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// Replaces the key wherever it appears in `text`: a message must never carry it.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "<redacted>")
    }
}

const NO_KEY: &str = "enabled but there is no API key: set [otx] api-key-file or the \
                      environment variable FLOWALERT_OTX_KEY";

/// The key from `[otx] api-key-file` (trimmed) or else from `FLOWALERT_OTX_KEY`.
pub fn read_key(file: Option<&Path>, env: Option<&str>) -> Result<Key, String> {
    let text = match (file, env) {
        (Some(file), _) => std::fs::read_to_string(file)
            .map_err(|err| format!("[otx] api-key-file {}: {err}", file.display()))?,
        (None, Some(env)) => env.to_owned(),
        (None, None) => return Err(NO_KEY.into()),
    };
    let key = text.trim();
    if key.is_empty() {
        return Err(match file {
            Some(file) => format!("[otx] api-key-file {} is empty", file.display()),
            None => "FLOWALERT_OTX_KEY is empty".into(),
        });
    }
    Ok(Key(key.to_owned()))
}

/// Whether the key is safe on `url`: https, or plain http to this host (tests, a local
/// relay).
pub fn is_private_channel(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return url.starts_with("https://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// What one sync is to do.
pub struct SyncPlan<'a> {
    /// `[otx] url`, e.g. `https://otx.alienvault.com`.
    pub base_url: &'a str,
    pub cache_path: &'a Path,
    pub now_ms: i64,
    pub refresh_ms: i64,
    pub max_age_ms: i64,
    /// How far before the last sync `modified_since` reaches, for clock skew and paging.
    pub overlap_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Synced less than `[otx] refresh` ago.
    NotDue,
    /// Synced; the indicators are the same (the sync time in the cache still moved).
    Unchanged,
    Changed,
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncStats {
    pub pages: usize,
    pub pulses: usize,
    /// Pulses that could not be read (no id, bad `modified`); skipped.
    pub bad_pulses: usize,
    pub indicators_kept: usize,
    pub inactive: usize,
    pub expired: usize,
    /// IPv4/IPv6/CIDR values that do not parse.
    pub bad_values: usize,
    pub aged_out: usize,
    /// Pulses whose `more_indicators` says OTX left indicators out of the page.
    pub truncated: usize,
    /// Pulses in the cache that a full sync no longer returned (unsubscribed or deleted).
    pub unsubscribed: usize,
    pub skipped_types: BTreeMap<String, u64>,
}

/// Runs one sync; see the module comment for what a failure leaves behind.
pub(super) fn sync(
    plan: &SyncPlan<'_>,
    key: &Key,
    policy: &HttpPolicy,
    log: &mut Log,
) -> Result<(SyncOutcome, SyncStats), String> {
    let old = match Cache::read(plan.cache_path) {
        Ok(old) => old,
        Err(err) => {
            log.warn(format!("otx: {err}; doing a full sync"));
            None
        }
    };
    if let Some(last) = old.as_ref().and_then(|c| c.last_sync_ms) {
        if !is_due(last, plan.now_ms, plan.refresh_ms) {
            return Ok((SyncOutcome::NotDue, SyncStats::default()));
        }
    }

    let full = old
        .as_ref()
        .and_then(|c| c.last_full_sync_ms)
        .map_or(true, |last| {
            let elapsed = plan.now_ms.saturating_sub(last);
            !(0..FULL_SYNC_EVERY_MS).contains(&elapsed)
        });
    let since = match full {
        true => plan.now_ms.saturating_sub(plan.max_age_ms),
        false => modified_since(old.as_ref(), plan),
    };
    let mut stats = SyncStats::default();
    let fresh = fetch_pulses(plan, since, key, policy, &mut stats).map_err(|e| key.redact(&e))?;

    let old = old.unwrap_or_else(Cache::empty);
    // A full answer is the whole subscription: what it lacks is no longer subscribed.
    let kept = match full {
        true => Cache::empty(),
        false => old.clone(),
    };
    let answered: HashSet<String> = fresh.iter().map(|p| p.id.clone()).collect();
    let mut new = merge(&kept, fresh, plan, &mut stats);
    new.last_full_sync_ms = if full {
        Some(plan.now_ms)
    } else {
        old.last_full_sync_ms
    };
    if full {
        // What an incremental sync would have aged out is counted so here too.
        let (recent, ancient): (Vec<_>, Vec<_>) = old
            .pulses
            .iter()
            .filter(|p| !answered.contains(&p.id))
            .partition(|p| p.is_recent(plan.now_ms, plan.max_age_ms));
        stats.aged_out += ancient.len();
        stats.unsubscribed = recent.len();
    }
    let changed = sorted(old.pulses) != new.pulses;
    // Written even when unchanged: the sync time moves, and with it `modified_since`.
    write_cache(plan.cache_path, &new)?;

    let outcome = if changed {
        SyncOutcome::Changed
    } else {
        SyncOutcome::Unchanged
    };
    Ok((outcome, stats))
}

fn write_cache(path: &Path, cache: &Cache) -> Result<(), String> {
    let mut bytes = serde_json::to_vec_pretty(cache).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    super::files::write_atomically(path, &bytes)
}

/// Due once `refresh` has passed, less a little slack so a timer with the same period and
/// some jitter does not skip every other run. A last fetch in the future means the clock
/// was set back: due, rather than waiting for the clock to catch up.
pub fn is_due(last_ms: i64, now_ms: i64, refresh_ms: i64) -> bool {
    let slack = (refresh_ms / 20).min(300_000);
    let elapsed = now_ms.saturating_sub(last_ms);
    elapsed < 0 || elapsed >= refresh_ms.saturating_sub(slack)
}

/// The overlap before the last sync, but never older than `max-age` asks for.
fn modified_since(old: Option<&Cache>, plan: &SyncPlan<'_>) -> i64 {
    let oldest_wanted = plan.now_ms.saturating_sub(plan.max_age_ms);
    match old.and_then(|c| c.last_sync_ms) {
        Some(last) => last.saturating_sub(plan.overlap_ms).max(oldest_wanted),
        None => oldest_wanted,
    }
}

fn first_url(base: &str, since_ms: i64) -> String {
    let base = base.trim_end_matches('/');
    let since = otx::format_otx_time(since_ms).replace(':', "%3A");
    format!("{base}/api/v1/pulses/subscribed?limit={PAGE_LIMIT}&modified_since={since}")
}

fn fetch_pulses(
    plan: &SyncPlan<'_>,
    since_ms: i64,
    key: &Key,
    policy: &HttpPolicy,
    stats: &mut SyncStats,
) -> Result<Vec<CachedPulse>, String> {
    let mut url = first_url(plan.base_url, since_ms);
    let mut seen = HashSet::new();
    let mut pulses = Vec::new();
    loop {
        if stats.pages >= MAX_PAGES || !seen.insert(url.clone()) {
            return Err(format!(
                "stopped after {} pages: the next links loop",
                stats.pages
            ));
        }
        stats.pages += 1;
        let body =
            fetch_page(&url, key, policy).map_err(|why| format!("page {}: {why}", stats.pages))?;
        let page = stats.pages;
        let next = read_page(&body, plan.now_ms, stats, &mut pulses)
            .map_err(|why| format!("page {page}: {why}"))?;
        match next.as_deref().map(str::trim) {
            None | Some("") => return Ok(pulses),
            Some(next) => url = join_next(plan.base_url, next)?,
        }
    }
}

/// One page of `/api/v1/pulses/subscribed`; pulses stay raw so one bad pulse is only counted.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    results: Vec<serde_json::Value>,
    #[serde(default)]
    next: Option<String>,
}

/// Reads one page's body as the API sends it: the pulses kept are appended to `pulses`,
/// the rest counted in `stats`; the value is the page's `next` link. Strangers write this
/// JSON, so it is also a fuzz target (`fuzz/fuzz_targets/otx_page.rs`).
pub fn read_page(
    body: &[u8],
    now_ms: i64,
    stats: &mut SyncStats,
    pulses: &mut Vec<CachedPulse>,
) -> Result<Option<String>, String> {
    let page: Page =
        serde_json::from_slice(body).map_err(|err| format!("not OTX pulse JSON: {err}"))?;
    for value in page.results {
        stats.pulses += 1;
        if let Some(pulse) = convert_pulse(value, now_ms, stats) {
            pulses.push(pulse);
        }
    }
    Ok(page.next)
}

fn fetch_page(url: &str, key: &Key, policy: &HttpPolicy) -> Result<Vec<u8>, String> {
    let request = Request {
        url,
        headers: vec![("X-OTX-API-KEY", key.0.as_str())],
        follow_redirects: false,
    };
    let reply = http::get(&request, policy).map_err(|err| describe_failure(err, policy))?;
    match reply.status {
        200 => {}
        401 | 403 => {
            let status = reply.status;
            return Err(format!("the OTX API key was refused (HTTP {status})"));
        }
        status => return Err(format!("HTTP status {status}")),
    }
    Ok(reply.body)
}

fn describe_failure(err: FetchError, policy: &HttpPolicy) -> String {
    match err {
        FetchError::Status(status) => {
            format!("HTTP status {status} after {} tries", policy.tries.max(1))
        }
        FetchError::BadHeader(_) => "the OTX API key is not a valid header value".into(),
        other => other.to_string(),
    }
}

/// `next`'s path and query on the configured base, whatever host `next` names.
pub fn join_next(base: &str, next: &str) -> Result<String, String> {
    let path_and_query = path_and_query(next).ok_or("a next link without a usable path")?;

    // A base with a path prefix (a mirror) keeps it unless the link already carries it.
    let base = base.trim_end_matches('/');
    let (origin, prefix) = split_origin(base);
    if !prefix.is_empty() && path_and_query.starts_with(&format!("{prefix}/")) {
        return Ok(format!("{origin}{path_and_query}"));
    }
    Ok(format!("{base}{path_and_query}"))
}

/// `/path?query` of an absolute or root-relative link, without its fragment; `None` when
/// there is no path or it holds spaces or control bytes.
fn path_and_query(link: &str) -> Option<&str> {
    let rest = match link.split_once("://") {
        Some((_, after_scheme)) => after_scheme.get(after_scheme.find('/')?..)?,
        None => link,
    };
    let rest = rest.split('#').next()?;
    let printable = rest.bytes().all(|b| b.is_ascii_graphic());
    (rest.starts_with('/') && printable).then_some(rest)
}

/// `https://host:port/prefix` as (`https://host:port`, `/prefix`).
fn split_origin(base: &str) -> (&str, &str) {
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |at| authority_start + at);
    base.split_at(path_start)
}

#[derive(Deserialize)]
struct ApiPulse {
    id: String,
    #[serde(default)]
    name: Option<String>,
    modified: String,
    #[serde(default)]
    indicators: Vec<serde_json::Value>,
    #[serde(default)]
    more_indicators: serde_json::Value,
}

#[derive(Deserialize)]
struct ApiIndicator {
    indicator: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    is_active: serde_json::Value,
}

fn convert_pulse(
    value: serde_json::Value,
    now_ms: i64,
    stats: &mut SyncStats,
) -> Option<CachedPulse> {
    let pulse = serde_json::from_value::<ApiPulse>(value).ok();
    let pulse = pulse.filter(|p| valid_pulse_id(&p.id));
    let modified_ms = pulse
        .as_ref()
        .and_then(|p| otx::parse_otx_time(&p.modified));
    let (Some(pulse), Some(modified_ms)) = (pulse, modified_ms) else {
        stats.bad_pulses += 1;
        return None;
    };
    if is_true(&pulse.more_indicators) {
        stats.truncated += 1;
    }

    let indicators = pulse
        .indicators
        .into_iter()
        .filter_map(|value| convert_indicator(value, now_ms, stats))
        .collect();
    let name = pulse.name.unwrap_or_default();
    Some(CachedPulse {
        id: pulse.id,
        name: name.chars().take(MAX_NAME_CHARS).collect(),
        modified_ms,
        indicators,
    })
}

/// OTX ids are 24 hex digits; anything URL-safe and short is accepted.
fn valid_pulse_id(id: &str) -> bool {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    (1..=64).contains(&id.len()) && id.bytes().all(safe)
}

fn convert_indicator(
    value: serde_json::Value,
    now_ms: i64,
    stats: &mut SyncStats,
) -> Option<CachedIndicator> {
    let Ok(raw) = serde_json::from_value::<ApiIndicator>(value) else {
        stats.bad_values += 1;
        return None;
    };
    if !otx::KEPT_TYPES.contains(&raw.kind.as_str()) {
        count_skipped_type(&raw.kind, stats);
        return None;
    }
    if otx::parse_indicator(&raw.indicator).is_none() {
        stats.bad_values += 1;
        return None;
    }

    let expiration = raw
        .expiration
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    // An expiration that cannot be read is treated as past: better a miss than a guess.
    let expiration_ms = expiration.map(|text| otx::parse_otx_time(text).unwrap_or(i64::MIN));
    let indicator = CachedIndicator {
        kind: raw.kind,
        indicator: raw.indicator.trim().to_owned(),
        expiration_ms,
        is_active: !is_false(&raw.is_active),
    };
    if !indicator.is_active {
        stats.inactive += 1;
        return None;
    }
    if !indicator.is_current(now_ms) {
        stats.expired += 1;
        return None;
    }
    stats.indicators_kept += 1;
    Some(indicator)
}

fn count_skipped_type(kind: &str, stats: &mut SyncStats) {
    let known = stats.skipped_types.contains_key(kind);
    let name = if known || stats.skipped_types.len() < MAX_TYPE_NAMES {
        kind.chars().take(40).collect()
    } else {
        "other".to_owned()
    };
    *stats.skipped_types.entry(name).or_default() += 1;
}

/// `is_active` is 0/1 in OTX; a boolean is read the same way, anything else as active.
fn is_false(value: &serde_json::Value) -> bool {
    value.as_i64() == Some(0) || value.as_bool() == Some(false)
}

fn is_true(value: &serde_json::Value) -> bool {
    value.as_bool() == Some(true) || value.as_i64().is_some_and(|n| n != 0)
}

/// The old cache with every fresh pulse replacing its old version, then expiry and ageing
/// applied to all of it; pulses left without indicators are dropped.
fn merge(
    old: &Cache,
    fresh: Vec<CachedPulse>,
    plan: &SyncPlan<'_>,
    stats: &mut SyncStats,
) -> Cache {
    // Within one sync a pulse can show on two pages if it changed while paging: keep the
    // newer version.
    let mut fresh_by_id: BTreeMap<String, CachedPulse> = BTreeMap::new();
    for pulse in fresh {
        match fresh_by_id.get(&pulse.id) {
            Some(seen) if seen.modified_ms >= pulse.modified_ms => {}
            _ => {
                fresh_by_id.insert(pulse.id.clone(), pulse);
            }
        }
    }
    let mut by_id: BTreeMap<String, CachedPulse> = old
        .pulses
        .iter()
        .map(|p| (p.id.clone(), p.clone()))
        .collect();
    by_id.extend(fresh_by_id);

    for pulse in by_id.values_mut() {
        pulse.indicators.retain(|i| i.is_current(plan.now_ms));
    }
    let before = by_id.len();
    by_id.retain(|_, p| p.is_recent(plan.now_ms, plan.max_age_ms));
    stats.aged_out = before - by_id.len();
    by_id.retain(|_, p| !p.indicators.is_empty());

    Cache {
        version: otx::CACHE_VERSION,
        last_sync_ms: Some(plan.now_ms),
        last_full_sync_ms: None,
        pulses: by_id.into_values().collect(),
    }
}

fn sorted(mut pulses: Vec<CachedPulse>) -> Vec<CachedPulse> {
    pulses.sort_by(|a, b| a.id.cmp(&b.id));
    pulses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_on_another_host_keeps_only_path_and_query() {
        let next = "https://otx.example.invalid/api/v1/pulses/subscribed?page=2#top";
        assert_eq!(
            join_next("http://127.0.0.1:8080/", next),
            Ok("http://127.0.0.1:8080/api/v1/pulses/subscribed?page=2".into())
        );
        assert_eq!(
            join_next("https://mirror.example/otx", next),
            Ok("https://mirror.example/otx/api/v1/pulses/subscribed?page=2".into())
        );
        assert_eq!(
            join_next(
                "https://mirror.example/otx",
                "https://x/otx/api/v1/p?page=3"
            ),
            Ok("https://mirror.example/otx/api/v1/p?page=3".into())
        );
        assert_eq!(
            join_next(
                "https://otx.alienvault.com",
                "/api/v1/pulses/subscribed?page=4"
            ),
            Ok("https://otx.alienvault.com/api/v1/pulses/subscribed?page=4".into())
        );
    }

    #[test]
    fn next_link_that_could_change_the_host_is_refused() {
        let base = "https://otx.alienvault.com";
        for next in ["https://evil.example", "@evil.example/x", "/a b", "page=2"] {
            assert!(join_next(base, next).is_err(), "{next}");
        }
    }

    #[test]
    fn plain_http_is_only_private_to_this_host() {
        assert!(is_private_channel("https://otx.alienvault.com"));
        assert!(is_private_channel("http://127.0.0.1:8080/"));
        assert!(is_private_channel("http://[::1]:8080"));
        assert!(is_private_channel("http://localhost"));
        assert!(!is_private_channel("http://otx.alienvault.com"));
        assert!(!is_private_channel("http://127.0.0.1.example/"));
        assert!(!is_private_channel("ftp://127.0.0.1/"));
    }

    #[test]
    fn key_comes_from_the_file_first_trimmed_then_the_environment() {
        let dir = std::env::temp_dir().join(format!("flowalert-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "  abc123\n").unwrap();

        assert_eq!(read_key(Some(&file), Some("env")).unwrap().0, "abc123");
        assert_eq!(read_key(None, Some(" env\n")).unwrap().0, "env");
        assert!(read_key(None, None)
            .unwrap_err()
            .contains("FLOWALERT_OTX_KEY"));
        std::fs::write(&file, "\n").unwrap();
        assert!(read_key(Some(&file), None)
            .unwrap_err()
            .ends_with("is empty"));
        assert_eq!(format!("{:?}", Key("abc123".into())), "Key(<redacted>)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn due_after_refresh_less_slack() {
        let hour = 3_600_000;
        assert!(!is_due(0, 3_000_000, hour));
        // 5% of an hour is three minutes of slack.
        assert!(is_due(0, hour - 180_000, hour));
        assert!(!is_due(0, hour - 180_001, hour));
        assert!(is_due(hour, 0, hour));
    }

    #[test]
    fn indicators_counted_by_why_they_were_dropped() {
        let now = otx::parse_otx_time("2024-06-01T00:00:00").unwrap();
        let pulse = serde_json::json!({
            "id": "6650a1b2c3d4e5f601234567", "name": "P", "modified": "2024-05-20T14:02:11",
            "more_indicators": true,
            "indicators": [
                {"indicator": "192.0.2.1", "type": "IPv4", "expiration": null, "is_active": 1},
                {"indicator": "192.0.2.2", "type": "IPv4", "is_active": 0},
                {"indicator": "192.0.2.3", "type": "IPv4", "expiration": "2024-05-01T00:00:00"},
                {"indicator": "192.0.2.4", "type": "IPv4", "expiration": "soon"},
                {"indicator": "192.0.2.999", "type": "IPv4"},
                {"indicator": "x.example", "type": "domain"},
                {"indicator": "y.example", "type": "domain"},
                {"indicator": "2001:db8::/48", "type": "CIDR", "expiration": "2024-07-01T00:00:00"}
            ]
        });
        let mut stats = SyncStats::default();
        let pulse = convert_pulse(pulse, now, &mut stats).unwrap();

        let kept: Vec<_> = pulse
            .indicators
            .iter()
            .map(|i| i.indicator.as_str())
            .collect();
        assert_eq!(kept, ["192.0.2.1", "2001:db8::/48"]);
        assert_eq!(
            pulse.modified_ms,
            otx::parse_otx_time("2024-05-20T14:02:11").unwrap()
        );
        assert_eq!(
            (
                stats.indicators_kept,
                stats.inactive,
                stats.expired,
                stats.bad_values
            ),
            (2, 1, 2, 1)
        );
        assert_eq!(
            stats.skipped_types,
            BTreeMap::from([("domain".to_owned(), 2)])
        );
        assert_eq!(stats.truncated, 1);
    }

    #[test]
    fn pulse_without_id_or_with_unsafe_id_is_counted_bad() {
        let now = 0;
        let mut stats = SyncStats::default();
        let no_id = serde_json::json!({"name": "P", "modified": "2024-05-20T14:02:11"});
        let slash = serde_json::json!({"id": "../x", "modified": "2024-05-20T14:02:11"});
        let no_time = serde_json::json!({"id": "abc", "modified": "yesterday"});
        for value in [no_id, slash, no_time] {
            assert!(convert_pulse(value, now, &mut stats).is_none());
        }
        assert_eq!(stats.bad_pulses, 3);
    }
}
