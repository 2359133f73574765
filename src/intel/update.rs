//! `flowalert update`: downloads lists and OTX pulses, off any event loop.
//!
//! Each source is fetched on its own: one failing does not stop the others, and what
//! succeeded is written. A source's file is only replaced by a complete, plausible download
//! (atomically), so a failure leaves the previous file as it was. The OTX key never appears
//! in a diagnostic or an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;

mod download;
mod files;
mod http;
mod otx_sync;

pub use download::looks_like_list;
pub use http::HttpPolicy;

use download::{Downloads, ListOutcome};
pub use otx_sync::{read_page as read_otx_page, SyncStats};
use otx_sync::{SyncOutcome, SyncPlan};

/// The OTX cache file in the state directory.
pub const OTX_CACHE_FILE: &str = "otx-cache.json";

/// List download bookkeeping in the state directory.
pub const DOWNLOADS_FILE: &str = "downloads.json";

/// What an update did: the exit status tells a timer whether to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Some list file or the OTX cache was rewritten (exit 0).
    Changed,
    /// Nothing new anywhere (exit 3).
    Unchanged,
}

/// Settings that are not in the configuration: the network policy, and the key from the
/// environment (passed in so tests need not touch the process environment).
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub http: HttpPolicy,
    /// How far before the last sync OTX's `modified_since` reaches.
    pub otx_overlap: Duration,
    /// `FLOWALERT_OTX_KEY`, used when `[otx] api-key-file` is not set.
    pub otx_env_key: Option<String>,
}

impl UpdateOptions {
    /// The defaults, with the key from `FLOWALERT_OTX_KEY`.
    pub fn from_env() -> UpdateOptions {
        UpdateOptions {
            http: HttpPolicy::default(),
            otx_overlap: Duration::from_secs(3600),
            otx_env_key: std::env::var("FLOWALERT_OTX_KEY").ok(),
        }
    }
}

/// An update's result with every diagnostic line it wrote, so tests can read them.
#[derive(Debug)]
pub struct UpdateRun {
    pub outcome: anyhow::Result<UpdateOutcome>,
    pub log: Vec<String>,
}

/// Diagnostics of one run: written through the `diag` macros and kept.
#[derive(Debug, Default)]
struct Log {
    lines: Vec<String>,
}

impl Log {
    fn info(&mut self, line: String) {
        crate::info!("{line}");
        self.lines.push(format!("info: {line}"));
    }

    fn warn(&mut self, line: String) {
        crate::warn!("{line}");
        self.lines.push(format!("warning: {line}"));
    }
}

pub fn run_update(config: &Config, clock: &Clock) -> anyhow::Result<UpdateOutcome> {
    run_update_with(config, clock, &UpdateOptions::from_env()).outcome
}

/// Does every list with a `url`, then OTX when enabled, as of `clock`'s now. Failures are
/// collected into the error, after everything that could be done was done.
pub fn run_update_with(config: &Config, clock: &Clock, options: &UpdateOptions) -> UpdateRun {
    let now_ms = clock.now_millis();
    let mut log = Log::default();
    let mut failures = Vec::new();
    let _lock = match files::UpdateLock::take(&config.state.dir) {
        Ok(lock) => lock,
        Err(why) => {
            return UpdateRun {
                outcome: Err(anyhow::anyhow!("update: {why}")),
                log: log.lines,
            }
        }
    };

    let mut changed = update_lists(config, now_ms, options, &mut log, &mut failures);
    if config.otx.enabled {
        match update_otx(config, now_ms, options, &mut log) {
            Ok(otx_changed) => changed |= otx_changed,
            Err(why) => failures.push(format!("otx: {why}")),
        }
    }

    let outcome = if !failures.is_empty() {
        let count = failures.len();
        let all = failures.join("; ");
        Err(anyhow::anyhow!("update: {count} source(s) failed: {all}"))
    } else if changed {
        Ok(UpdateOutcome::Changed)
    } else {
        Ok(UpdateOutcome::Unchanged)
    };
    UpdateRun {
        outcome,
        log: log.lines,
    }
}

fn state_file(config: &Config, name: &str) -> PathBuf {
    config.state.dir.join(name)
}

/// Downloads the due lists; says whether any file was rewritten.
fn update_lists(
    config: &Config,
    now_ms: i64,
    options: &UpdateOptions,
    log: &mut Log,
    failures: &mut Vec<String>,
) -> bool {
    let remote: Vec<_> = config.lists.iter().filter(|l| l.url.is_some()).collect();
    if remote.is_empty() {
        return false;
    }
    let book_path = state_file(config, DOWNLOADS_FILE);
    let mut book = read_downloads(&book_path, log);
    let before = book.clone();

    let mut counts = ListCounts::default();
    for list in remote {
        let url = list.url.as_deref().unwrap_or_default();
        let last = book.lists.get(&list.name);
        match download::download_list(list, url, last, now_ms, &options.http) {
            Ok((outcome, record)) => {
                counts.add(outcome);
                if let Some(record) = record {
                    book.lists.insert(list.name.clone(), record);
                }
            }
            Err(why) => {
                counts.failed += 1;
                failures.push(format!(
                    "list {} ({}): {why}",
                    list.name,
                    without_query(url)
                ));
            }
        }
    }

    if book != before {
        if let Err(why) = save_downloads(&book, &book_path) {
            failures.push(format!("list bookkeeping: {why}"));
        }
    }
    log.info(counts.summary());
    counts.written > 0
}

fn read_downloads(path: &Path, log: &mut Log) -> Downloads {
    Downloads::read(path).unwrap_or_else(|why| {
        log.warn(format!("{why}; downloading every list afresh"));
        Downloads::empty()
    })
}

fn save_downloads(book: &Downloads, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    book.write(path)
}

/// A url's query may hold a token (some feeds take one there); messages leave it out.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

#[derive(Debug, Default)]
struct ListCounts {
    written: usize,
    same: usize,
    not_modified: usize,
    not_due: usize,
    failed: usize,
}

impl ListCounts {
    fn add(&mut self, outcome: ListOutcome) {
        match outcome {
            ListOutcome::Written => self.written += 1,
            ListOutcome::Same => self.same += 1,
            ListOutcome::NotModified => self.not_modified += 1,
            ListOutcome::NotDue => self.not_due += 1,
        }
    }

    fn summary(&self) -> String {
        format!(
            "update: lists: {} written, {} unchanged, {} not modified, {} not due, {} failed",
            self.written, self.same, self.not_modified, self.not_due, self.failed
        )
    }
}

/// Syncs OTX; says whether the cached indicators changed.
fn update_otx(
    config: &Config,
    now_ms: i64,
    options: &UpdateOptions,
    log: &mut Log,
) -> Result<bool, String> {
    let otx = &config.otx;
    let key = otx_sync::read_key(otx.api_key_file.as_deref(), options.otx_env_key.as_deref())?;
    let cache_path = state_file(config, OTX_CACHE_FILE);
    let plan = SyncPlan {
        base_url: &otx.url,
        cache_path: &cache_path,
        now_ms,
        refresh_ms: millis(otx.refresh),
        max_age_ms: millis(otx.max_age),
        overlap_ms: millis(options.otx_overlap),
    };

    if !otx_sync::is_private_channel(&otx.url) {
        log.warn(format!(
            "otx: {} is not https; the API key goes in clear",
            otx.url
        ));
    }
    let (outcome, stats) = otx_sync::sync(&plan, &key, &options.http, log)?;
    if stats.truncated > 0 {
        let count = stats.truncated;
        log.warn(key.redact(&format!(
            "otx: {count} pulse(s) say OTX left indicators out; only those sent are used"
        )));
    }
    log.info(key.redact(&otx_summary(outcome, &stats)));
    Ok(outcome == SyncOutcome::Changed)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn otx_summary(outcome: SyncOutcome, stats: &SyncStats) -> String {
    let what = match outcome {
        SyncOutcome::NotDue => return "update: otx: not due".into(),
        SyncOutcome::Unchanged => "unchanged",
        SyncOutcome::Changed => "changed",
    };
    let skipped: Vec<String> = stats
        .skipped_types
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    let skipped = if skipped.is_empty() {
        "-".to_owned()
    } else {
        skipped.join(", ")
    };
    let unsubscribed = match stats.unsubscribed {
        0 => String::new(),
        n => format!("; {n} pulse(s) no longer subscribed"),
    };
    format!(
        "update: otx: {what}; {} page(s), {} pulse(s) ({} bad), {} indicator(s) kept, \
         {} inactive, {} expired, {} bad value(s), {} pulse(s) aged out; skipped types: {}\
         {unsubscribed}",
        stats.pages,
        stats.pulses,
        stats.bad_pulses,
        stats.indicators_kept,
        stats.inactive,
        stats.expired,
        stats.bad_values,
        stats.aged_out,
        skipped
    )
}
