//! The path every datagram takes, shared by `run` and `replay`: exporter filter, decoder,
//! indicator lookup, alerting, outputs.
//!
//! The pipeline never blocks and never does slow work: building an indicator set happens in
//! `rebuild` (on another thread in the service, inline in replay) and is handed over whole by
//! `apply`. Time is always passed in, so replay can drive every window with capture time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;

use crate::alert::{self, AlertCounters, Alerter, Event, Severity};
use crate::config::{format_duration, Config, Report};
use crate::flow::{self, Decoder, FlowRecord, Limits};
use crate::intel::build::{self, Built};
use crate::intel::set::IndicatorSet;
use crate::output::Outputs;

/// Where the template cache is kept between runs, inside `[state] dir`.
const TEMPLATE_FILE: &str = "templates.bin";
/// How often silent exporters and dropping sinks are looked for.
const WATCH_EVERY_US: i64 = 10 * 1_000_000;
/// How often the template cache is saved while running.
const SAVE_EVERY_US: i64 = 300 * 1_000_000;

/// Counts the pipeline keeps itself; the decoder, alerter and outputs keep their own.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PipelineCounters {
    /// Datagrams from exporters outside `[input] exporters`, dropped unread.
    pub refused_exporter: u64,
    /// Errors `recv_from` reported (ICMP errors and the like).
    pub receive_errors: u64,
    /// Records that name no address at all, counted and not looked up.
    pub records_without_address: u64,
    /// Reloads that swapped in a new set, and those that kept the old one.
    pub reloads: u64,
    pub reloads_failed: u64,
}

/// What a rebuild produced, handed from the builder thread to the loop.
pub struct Rebuild {
    pub config: Result<Config, Report>,
    pub built: Result<Built, String>,
}

/// Reads `path` again and builds a new indicator set from what it names.
pub fn rebuild(path: &Path, now_us: i64) -> Rebuild {
    let (config, report) = Config::load(path);
    let Ok(config) = config else {
        return Rebuild {
            config: Err(report),
            built: Err("the configuration has errors".into()),
        };
    };
    for problem in &report.warnings {
        crate::warn!("{problem}");
    }
    let built = build_set(&config, now_us);
    Rebuild {
        config: Ok(config),
        built,
    }
}

/// Loads every source the configuration names and builds the set from them.
pub fn build_set(config: &Config, now_us: i64) -> Result<Built, String> {
    let (sources, warnings) = build::load_sources(config, now_us / 1000)?;
    for warning in &warnings {
        crate::warn!("{warning}");
    }
    let built = build::build(sources, &config.networks);
    for warning in &built.warnings {
        crate::warn!("{warning}");
    }
    Ok(built)
}

pub struct Pipeline {
    exporters: Vec<IpNet>,
    decoder: Decoder,
    set: Arc<IndicatorSet>,
    alerter: Alerter,
    outputs: Outputs,
    watch: Watch,
    counters: PipelineCounters,
    /// Counts of the alerters reloads replaced, in `AlertCounters::fields` order, so the
    /// stats line never goes back when a reload starts a new alerter.
    retired_alerts: Vec<u64>,
    template_file: Option<PathBuf>,
    next_save: i64,
    /// Reused buffers: no allocation per datagram once they have grown.
    records: Vec<FlowRecord>,
    events: Vec<Event>,
}

impl Pipeline {
    /// The service's pipeline: the set built now, templates restored from the state dir.
    pub fn start(config: &Config, now_us: i64) -> anyhow::Result<Pipeline> {
        let built = build_set(config, now_us).map_err(anyhow::Error::msg)?;
        let outputs = Outputs::open(&config.output, std::process::id())?;
        let mut pipeline = Pipeline::new(config, outputs, now_us);
        pipeline.template_file = Some(config.state.dir.join(TEMPLATE_FILE));
        pipeline.restore_templates(now_us);
        pipeline.install(built, now_us);
        Ok(pipeline)
    }

    /// A pipeline with a set already built and outputs already open (replay, tests).
    pub fn with_parts(config: &Config, built: Built, outputs: Outputs, now_us: i64) -> Pipeline {
        let mut pipeline = Pipeline::new(config, outputs, now_us);
        pipeline.install(built, now_us);
        pipeline
    }

    fn new(config: &Config, outputs: Outputs, now_us: i64) -> Pipeline {
        Pipeline {
            exporters: config.input.exporters.clone(),
            decoder: Decoder::new(Limits::from_config(&config.templates)),
            set: Arc::new(IndicatorSet::empty()),
            alerter: Alerter::new(&config.alerts, &config.networks.home),
            outputs,
            watch: Watch::new(config, now_us),
            counters: PipelineCounters::default(),
            retired_alerts: Vec::new(),
            template_file: None,
            next_save: now_us + SAVE_EVERY_US,
            records: Vec::new(),
            events: Vec::new(),
        }
    }

    /// One datagram from `exporter`, received at `now_us`.
    pub fn on_datagram(&mut self, exporter: IpAddr, datagram: &[u8], now_us: i64) {
        let exporter = flow::canonical(exporter);
        if !self.exporter_allowed(exporter) {
            self.counters.refused_exporter += 1;
            return;
        }
        self.watch.heard(exporter, now_us);

        self.records.clear();
        self.decoder.decode(
            exporter,
            datagram,
            now_us.div_euclid(1000),
            &mut self.records,
        );

        // Windows due now close before this datagram's flows, as the alerter itself would.
        if self
            .alerter
            .next_deadline()
            .is_some_and(|due| now_us >= due)
        {
            self.alerter.tick(now_us, &mut self.events);
        }
        for record in &self.records {
            if !record.has_address() {
                self.counters.records_without_address += 1;
                continue;
            }
            if touches_set(&self.set, record) {
                self.alerter
                    .on_flow(record, self.set.as_ref(), now_us, &mut self.events);
            }
        }
        self.write_events();
    }

    fn exporter_allowed(&self, exporter: IpAddr) -> bool {
        self.exporters.is_empty() || self.exporters.iter().any(|net| net.contains(&exporter))
    }

    pub fn count_receive_error(&mut self, _err: &std::io::Error) {
        self.counters.receive_errors += 1;
    }

    /// Timers: folding windows, held data, silent exporters, periodic template saves.
    pub fn tick(&mut self, registry: Option<&mio::Registry>, now_us: i64) {
        self.alerter.tick(now_us, &mut self.events);
        self.decoder.expire(now_us.div_euclid(1000));
        self.watch.check(now_us, &self.outputs, &mut self.events);
        self.write_events();
        if let Some(registry) = registry {
            self.outputs.tick(registry, now_us);
        }
        if now_us >= self.next_save {
            self.save_templates();
            self.next_save = now_us + SAVE_EVERY_US;
        }
    }

    /// The earliest time `tick` has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        let deadlines = [
            self.alerter.next_deadline(),
            self.outputs.next_deadline(),
            Some(self.watch.next_check),
            Some(self.next_save),
        ];
        deadlines.into_iter().flatten().min()
    }

    /// Takes a finished rebuild; returns the new configuration when it was accepted.
    pub fn apply(&mut self, rebuilt: Rebuild, old: &Config, now_us: i64) -> Option<Config> {
        let config = match rebuilt.config {
            Ok(config) => config,
            Err(report) => {
                for problem in &report.errors {
                    crate::error!("{problem}");
                }
                self.reload_failed("the configuration has errors", now_us);
                return None;
            }
        };
        let built = match rebuilt.built {
            Ok(built) => built,
            Err(why) => {
                self.reload_failed(&why, now_us);
                return None;
            }
        };

        if config.input.listen != old.input.listen || config.input.workers != old.input.workers {
            crate::warn!("[input] listen and workers change only with a restart; kept the old");
        }
        if config.output != old.output {
            match Outputs::open(&config.output, std::process::id()) {
                Ok(outputs) => {
                    let mut old_outputs = std::mem::replace(&mut self.outputs, outputs);
                    old_outputs.flush();
                }
                Err(err) => crate::error!("kept the old outputs: {err:#}"),
            }
        } else {
            self.outputs.reopen_files();
        }
        self.exporters = config.input.exporters.clone();
        self.alerter = self.alerter_for(&config, now_us);
        self.watch.reconfigure(&config);
        self.install(built, now_us);
        self.counters.reloads += 1;
        Some(config)
    }

    /// A new alerter keeps no windows: close the old ones first so no repeat is lost.
    fn alerter_for(&mut self, config: &Config, now_us: i64) -> Alerter {
        self.alerter.flush(now_us, &mut self.events);
        self.write_events();
        retire(&mut self.retired_alerts, self.alerter.counters());
        Alerter::new(&config.alerts, &config.networks.home)
    }

    fn reload_failed(&mut self, why: &str, now_us: i64) {
        crate::error!("reload failed, the old indicator set stays: {why}");
        self.counters.reloads_failed += 1;
        let event = alert::status_event(now_us, "build-failed", "indicators", why, 3);
        self.outputs.write(&event);
    }

    /// Swaps `built` in; the old set is freed on another thread, since a big one takes time.
    fn install(&mut self, built: Built, now_us: i64) {
        for line in &built.summary {
            crate::info!("{line}");
        }
        let stale = self.watch.stale_sources(&built, now_us);
        let prefixes = built.set.prefixes();
        let old = std::mem::replace(&mut self.set, Arc::new(built.set));
        drop_elsewhere(old);

        crate::info!("indicator set ready: {prefixes} prefixes");
        if prefixes == 0 {
            let detail = "no indicators loaded: nothing can match";
            self.status("no-indicators", "indicators", detail, 3, now_us);
        }
        for (name, age) in stale {
            let detail = format!("data is {} old", format_duration(age));
            self.status("stale-source", &name, &detail, 4, now_us);
        }
    }

    fn status(&mut self, kind: &str, subject: &str, detail: &str, severity: Severity, now: i64) {
        let event = alert::status_event(now, kind, subject, detail, severity);
        self.outputs.write(&event);
    }

    pub fn register_outputs(
        &mut self,
        registry: &mio::Registry,
        first: usize,
    ) -> anyhow::Result<()> {
        self.outputs.register(registry, first)?;
        Ok(())
    }

    pub fn output_event(&mut self, registry: &mio::Registry, event: &mio::event::Event, now: i64) {
        self.outputs.on_event(registry, event, now);
    }

    pub fn reopen_files(&mut self) {
        self.outputs.reopen_files();
        crate::info!("output files reopened");
    }

    /// Closes every window and writes what is pending (SIGTERM, end of replay).
    pub fn shutdown(&mut self, now_us: i64) {
        self.alerter.flush(now_us, &mut self.events);
        self.write_events();
        self.outputs.flush();
        self.save_templates();
    }

    fn write_events(&mut self) {
        for event in self.events.drain(..) {
            self.outputs.write(&event);
        }
    }

    fn restore_templates(&mut self, now_us: i64) {
        let Some(path) = &self.template_file else {
            return;
        };
        if !path.exists() {
            return;
        }
        match self.decoder.restore(path, now_us.div_euclid(1000)) {
            Ok(count) => crate::info!("restored {count} templates from {}", path.display()),
            Err(why) => crate::warn!("discarded {}: {why}", path.display()),
        }
    }

    fn save_templates(&mut self) {
        let Some(path) = &self.template_file else {
            return;
        };
        if let Err(err) = self.decoder.save(path) {
            crate::warn!("cannot save templates to {}: {err}", path.display());
        }
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn counters(&self) -> &PipelineCounters {
        &self.counters
    }

    /// One line of every counter, for the periodic stats line and SIGUSR1.
    pub fn stats(&self) -> String {
        let mut line = String::new();
        let decoder = self.decoder.counters().fields();
        let alerts = with_retired(self.alerter.counters(), &self.retired_alerts);
        let outputs = self.outputs.counters().fields();
        let own = self.counters.fields();
        for (name, value) in own.chain(decoder).chain(alerts).chain(outputs) {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&format!("{name}={value}"));
        }
        line.push_str(&format!(" templates={}", self.decoder.templates_known()));
        line.push_str(&format!(" prefixes={}", self.set.prefixes()));
        line
    }
}

impl PipelineCounters {
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("refused-exporter", self.refused_exporter),
            ("receive-errors", self.receive_errors),
            ("records-without-address", self.records_without_address),
            ("reloads", self.reloads),
            ("reloads-failed", self.reloads_failed),
        ]
        .into_iter()
    }
}

/// Adds an alerter's counts to those of the alerters before it.
fn retire(retired: &mut Vec<u64>, counters: &AlertCounters) {
    for (index, (_, value)) in counters.fields().enumerate() {
        match retired.get_mut(index) {
            Some(total) => *total += value,
            None => retired.push(value),
        }
    }
}

/// The alert counters since the service started: the current alerter's plus the retired.
fn with_retired<'a>(
    counters: &'a AlertCounters,
    retired: &'a [u64],
) -> impl Iterator<Item = (&'static str, u64)> + 'a {
    let retired = retired.iter().copied().chain(std::iter::repeat(0));
    counters
        .fields()
        .zip(retired)
        .map(|((name, value), before)| (name, value + before))
}

/// Whether any address of `record` is listed; the alerter does nothing with a flow that has
/// none. Most flows have none, and this loop of plain lookups, with no provenance and no
/// folding between them, lets the cache misses of consecutive flows' lookups overlap.
#[inline]
fn touches_set(set: &IndicatorSet, record: &FlowRecord) -> bool {
    let addresses = [record.src, record.dst, record.nat_src, record.nat_dst];
    addresses
        .into_iter()
        .flatten()
        .any(|addr| set.is_listed(addr))
}

/// Dropping a set of a million prefixes takes milliseconds; do it off the loop thread.
fn drop_elsewhere(set: Arc<IndicatorSet>) {
    let spawned = std::thread::Builder::new()
        .name("free-set".into())
        .spawn(move || drop(set));
    // Without a thread the set is dropped here when the closure is: slower, still correct.
    let _ = spawned;
}

/// Status conditions that reach the SIEM: silent exporters, sinks dropping records, stale
/// sources. Each is written once when it starts, and again only after it cleared.
struct Watch {
    silence_us: i64,
    stale_after_us: i64,
    last_heard: HashMap<IpAddr, (i64, bool)>,
    next_check: i64,
    sink_drops_seen: u64,
    exporters_cap: usize,
}

impl Watch {
    fn new(config: &Config, now_us: i64) -> Watch {
        let mut watch = Watch {
            silence_us: 0,
            stale_after_us: 0,
            last_heard: HashMap::new(),
            next_check: now_us + WATCH_EVERY_US,
            sink_drops_seen: 0,
            exporters_cap: config.templates.max_exporters,
        };
        watch.reconfigure(config);
        watch
    }

    fn reconfigure(&mut self, config: &Config) {
        self.silence_us = micros(config.status.exporter_silence);
        self.stale_after_us = micros(config.status.stale_after);
        self.exporters_cap = config.templates.max_exporters;
    }

    fn heard(&mut self, exporter: IpAddr, now_us: i64) {
        if let Some(entry) = self.last_heard.get_mut(&exporter) {
            *entry = (now_us, false);
        } else if self.last_heard.len() < self.exporters_cap {
            self.last_heard.insert(exporter, (now_us, false));
        }
    }

    fn check(&mut self, now_us: i64, outputs: &Outputs, events: &mut Vec<Event>) {
        if now_us < self.next_check {
            return;
        }
        self.next_check = now_us + WATCH_EVERY_US;

        for (exporter, (last, reported)) in &mut self.last_heard {
            if !*reported && self.silence_us > 0 && now_us - *last >= self.silence_us {
                *reported = true;
                let quiet = std::time::Duration::from_micros((now_us - *last).unsigned_abs());
                let detail = format!("no datagram for {}", format_duration_floor(quiet));
                let subject = exporter.to_string();
                events.push(alert::status_event(
                    now_us,
                    "exporter-silent",
                    &subject,
                    &detail,
                    4,
                ));
            }
        }

        let dropped = outputs.counters().dropped;
        if dropped > self.sink_drops_seen {
            let detail = format!(
                "{} records dropped by sinks",
                dropped - self.sink_drops_seen
            );
            self.sink_drops_seen = dropped;
            events.push(alert::status_event(
                now_us,
                "sink-dropped",
                "outputs",
                &detail,
                4,
            ));
        }
    }

    /// Sources whose data is older than `stale-after`, with their age.
    fn stale_sources(&self, built: &Built, now_us: i64) -> Vec<(String, std::time::Duration)> {
        let now_ms = now_us.div_euclid(1000);
        let limit_ms = self.stale_after_us / 1000;
        let mut stale = Vec::new();
        for summary in &built.summary {
            let Some(time) = summary.data_time else {
                continue;
            };
            let age_ms = now_ms - time;
            if limit_ms > 0 && age_ms > limit_ms {
                let age = std::time::Duration::from_millis(age_ms.unsigned_abs());
                stale.push((summary.name.clone(), age));
            }
        }
        stale
    }
}

fn micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// "15m" rather than "15m3s": the detail says roughly how long, in its largest unit.
fn format_duration_floor(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m")];
    for (size, name) in units {
        if secs >= size {
            return format!("{}{name}", secs / size);
        }
    }
    format!("{secs}s")
}

/// The host name records carry when `[output] hostname` is not set.
pub fn system_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    if name.is_empty() {
        "localhost".into()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::SetBuilder;

    fn set_listing(net: &str) -> IndicatorSet {
        let mut builder = SetBuilder::new();
        let source = builder.add_source("drop", None).unwrap();
        let entry = builder.add_entry(source, net, "", None).unwrap();
        builder.cover_net(entry, net.parse().unwrap());
        builder.finish()
    }

    #[test]
    fn alert_counters_carry_over_the_alerters_reloads_replace() {
        let first = AlertCounters {
            hits: 5,
            hit_records: 4,
            pairs_evicted: 1,
            ..AlertCounters::default()
        };
        let second = AlertCounters {
            hits: 2,
            repeat_records: 3,
            ..AlertCounters::default()
        };
        let mut retired = Vec::new();
        retire(&mut retired, &first);
        retire(&mut retired, &second);
        let current = AlertCounters {
            hits: 1,
            ..AlertCounters::default()
        };
        let totals: Vec<_> = with_retired(&current, &retired).collect();
        let expected = [
            ("hits", 8),
            ("hit-records", 4),
            ("repeats-folded", 0),
            ("repeat-records", 3),
            ("records-capped", 0),
            ("pairs-evicted", 1),
        ];
        assert_eq!(totals, expected);
        assert_eq!(with_retired(&current, &[]).next(), Some(("hits", 1)));
    }

    #[test]
    fn touches_set_looks_at_every_address_of_the_flow_nat_included() {
        let set = set_listing("198.51.100.0/24");
        let listed: IpAddr = "198.51.100.7".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
        let mut flow = FlowRecord::new("127.0.0.2".parse().unwrap(), 10, 0);
        assert!(!touches_set(&set, &flow));

        flow.src = Some(other);
        flow.dst = Some(other);
        assert!(!touches_set(&set, &flow));
        for slot in 0..4 {
            let mut one = flow.clone();
            let field = [
                &mut one.src,
                &mut one.dst,
                &mut one.nat_src,
                &mut one.nat_dst,
            ];
            *field.into_iter().nth(slot).unwrap() = Some(listed);
            assert!(touches_set(&set, &one), "address {slot}");
        }
        flow.nat_dst = Some(mapped);
        assert!(touches_set(&set, &flow));
    }
}
