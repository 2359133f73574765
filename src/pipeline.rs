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

use anyhow::Context;

use ipnet::IpNet;

use crate::alert::{self, AlertCounters, Alerter, Event, Severity};
use crate::config::{format_duration, Config, Report};
use crate::dnsbl::{Dnsbl, DnsblHit};
use crate::flow::{self, Decoder, FlowRecord, Limits};
use crate::intel::build::{self, Built};
use crate::intel::set::IndicatorSet;
use crate::output::Outputs;

/// Where each worker keeps its template cache between runs, inside `[state] dir`:
/// `templates.bin` for worker 0, `templates-N.bin` for the others.
const TEMPLATE_PREFIX: &str = "templates";
const TEMPLATE_SUFFIX: &str = ".bin";
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
    /// Reloads that swapped in a new set, and those that kept the old one.
    pub reloads: u64,
    pub reloads_failed: u64,
}

/// What a rebuild produced, handed from the builder thread to every worker.
#[derive(Clone)]
pub struct Rebuild {
    pub config: Result<Config, Report>,
    pub built: Result<Arc<Built>, String>,
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
    let built = build_set(&config, now_us).map(Arc::new);
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
    let built = build::build_at(sources, &config.networks, now_us / 1000);
    for warning in &built.warnings {
        crate::warn!("{warning}");
    }
    Ok(built)
}

pub struct Pipeline {
    exporters: Vec<IpNet>,
    decoder: Decoder,
    /// Shared by every worker; swapped whole on reload.
    indicators: Arc<Built>,
    /// Worker 0 reports what is the same for all: load summaries, build status records.
    reporter: bool,
    alerter: Alerter,
    outputs: Outputs,
    watch: Watch,
    counters: PipelineCounters,
    /// Counts of the alerters reloads replaced, in `AlertCounters::fields` order, so the
    /// stats line never goes back when a reload starts a new alerter.
    retired_alerts: Vec<u64>,
    template_file: Option<PathBuf>,
    /// The first of the loop's output tokens, once `register_outputs` was called.
    output_tokens: Option<usize>,
    /// Outputs reloads replaced, until the next tick finishes them elsewhere.
    replaced_outputs: Vec<Outputs>,
    /// Threads finishing replaced outputs; shutdown waits for them.
    finishing: Vec<std::thread::JoinHandle<()>>,
    next_save: i64,
    /// DNS blocklists, asked for remote addresses no static list names (service only).
    dnsbl: Option<Dnsbl>,
    remote: RemoteFilter,
    /// Reused buffers: no allocation per datagram once they have grown.
    records: Vec<FlowRecord>,
    /// Per record of `records`: whether an address of it may be listed (`may_touch_set`).
    maybe_listed: Vec<bool>,
    events: Vec<Event>,
    dnsbl_hits: Vec<DnsblHit>,
}

impl Pipeline {
    /// Worker `worker`'s pipeline over a set built already; templates restored from the
    /// state dir (every worker's file: which worker an exporter lands on may change).
    pub fn start(
        config: &Config,
        built: Arc<Built>,
        worker: usize,
        now_us: i64,
    ) -> anyhow::Result<Pipeline> {
        let outputs = Outputs::open(&config.output, std::process::id())?;
        let mut pipeline = Pipeline::new(config, outputs, now_us);
        pipeline.reporter = worker == 0;
        pipeline.restore_templates(&config.state.dir, now_us);
        // The packages make the state directory; a configuration of one's own may name one
        // that does not exist yet.
        if let Err(err) = std::fs::create_dir_all(&config.state.dir) {
            let dir = config.state.dir.display();
            crate::warn!("cannot create the state directory {dir}: {err}");
        }
        pipeline.template_file = Some(config.state.dir.join(template_file(worker)));
        pipeline.install(built, now_us);
        if config.dnsbl.enabled {
            let dnsbl = Dnsbl::new(&config.dnsbl, now_us).context("cannot start DNSBL lookups")?;
            pipeline.dnsbl = Some(dnsbl);
        }
        Ok(pipeline)
    }

    /// A pipeline with a set already built and outputs already open (replay, tests).
    pub fn with_parts(config: &Config, built: Built, outputs: Outputs, now_us: i64) -> Pipeline {
        let mut pipeline = Pipeline::new(config, outputs, now_us);
        pipeline.install(Arc::new(built), now_us);
        pipeline
    }

    fn new(config: &Config, outputs: Outputs, now_us: i64) -> Pipeline {
        Pipeline {
            exporters: config.input.exporters.clone(),
            decoder: Decoder::new(Limits::from_config(&config.templates)),
            indicators: Arc::new(empty_set()),
            reporter: true,
            alerter: Alerter::new(&config.alerts, &config.networks.home),
            outputs,
            watch: Watch::new(config, now_us),
            counters: PipelineCounters::default(),
            retired_alerts: Vec::new(),
            template_file: None,
            output_tokens: None,
            replaced_outputs: Vec::new(),
            finishing: Vec::new(),
            next_save: now_us + SAVE_EVERY_US,
            dnsbl: None,
            remote: RemoteFilter::new(config),
            records: Vec::new(),
            maybe_listed: Vec::new(),
            events: Vec::new(),
            dnsbl_hits: Vec::new(),
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
        let set = &self.indicators.set;
        self.maybe_listed.clear();
        self.maybe_listed
            .extend(self.records.iter().map(|record| may_touch_set(set, record)));
        // The few records that pass get their full lookups in a second pass of their own,
        // with no branch between them either.
        for (record, maybe) in self.records.iter().zip(self.maybe_listed.iter_mut()) {
            *maybe = *maybe && touches_set(set, record);
        }
        for (record, &listed) in self.records.iter().zip(&self.maybe_listed) {
            // The decoder counts records without any address; there is nothing to look up.
            if !record.has_address() {
                continue;
            }
            if listed {
                self.alerter
                    .on_flow(record, &self.indicators.set, now_us, &mut self.events);
            }
            if let Some(dnsbl) = &mut self.dnsbl {
                let set = &self.indicators.set;
                for address in self.remote.candidates(record, set) {
                    dnsbl.consider(address, record, now_us, &mut self.dnsbl_hits);
                }
            }
        }
        self.write_dnsbl_hits(now_us);
        self.write_events();
    }

    /// The DNSBL socket is readable: answers become hit records for their flows.
    pub fn on_dnsbl_readable(&mut self, now_us: i64) {
        if let Some(dnsbl) = &mut self.dnsbl {
            dnsbl.on_readable(now_us, &mut self.dnsbl_hits, &mut self.events);
        }
        self.write_dnsbl_hits(now_us);
        self.write_events();
    }

    pub fn register_dnsbl(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
    ) -> std::io::Result<()> {
        match &mut self.dnsbl {
            Some(dnsbl) => dnsbl.register(registry, token),
            None => Ok(()),
        }
    }

    /// A DNSBL answer is written like any hit: the zone is the list, its codes the names.
    fn write_dnsbl_hits(&mut self, now_us: i64) {
        for hit in self.dnsbl_hits.drain(..) {
            self.alerter
                .on_flow(&hit.flow, &hit, now_us, &mut self.events);
        }
    }

    fn exporter_allowed(&self, exporter: IpAddr) -> bool {
        self.exporters.is_empty() || self.exporters.iter().any(|net| net.contains(&exporter))
    }

    pub fn count_receive_error(&mut self, _err: &std::io::Error) {
        self.counters.receive_errors += 1;
    }

    /// Timers: folding windows, held data, silent exporters, periodic template saves.
    pub fn tick(&mut self, registry: Option<&mio::Registry>, now_us: i64) {
        if let Some(dnsbl) = &mut self.dnsbl {
            dnsbl.tick(now_us, &mut self.dnsbl_hits, &mut self.events);
        }
        self.write_dnsbl_hits(now_us);
        self.alerter.tick(now_us, &mut self.events);
        self.decoder.expire(now_us.div_euclid(1000));
        self.watch
            .check(now_us, &self.decoder, &self.outputs, &mut self.events);
        self.write_events();
        if let Some(registry) = registry {
            self.settle_outputs(registry);
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
            self.dnsbl.as_ref().and_then(Dnsbl::next_deadline),
        ];
        deadlines.into_iter().flatten().min()
    }

    /// Takes a finished rebuild; returns the new configuration when it was accepted.
    pub fn apply(&mut self, rebuilt: Rebuild, old: &Config, now_us: i64) -> Option<Config> {
        let config = match rebuilt.config {
            Ok(config) => config,
            Err(report) => {
                for problem in report.errors.iter().filter(|_| self.reporter) {
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

        let restart =
            config.input.listen != old.input.listen || config.input.workers != old.input.workers;
        if restart && self.reporter {
            crate::warn!("[input] listen and workers change only with a restart; kept the old");
        }
        if config.dnsbl != old.dnsbl && self.reporter {
            crate::warn!("[dnsbl] changes take effect at the next restart; kept the old");
        }
        if config.output != old.output {
            match Outputs::open(&config.output, std::process::id()) {
                Ok(outputs) => {
                    let mut old_outputs = std::mem::replace(&mut self.outputs, outputs);
                    // Standard output now, so its lines keep their order.
                    old_outputs.end_turn();
                    // In a loop, the next tick registers the new outputs and finishes the
                    // old ones elsewhere; without one (tests), they finish here.
                    match self.output_tokens {
                        Some(_) => self.replaced_outputs.push(old_outputs),
                        None => finish_outputs(old_outputs),
                    }
                }
                Err(err) => crate::error!("kept the old outputs: {err:#}"),
            }
        } else {
            self.outputs.reopen_files();
        }
        self.exporters = config.input.exporters.clone();
        self.remote = RemoteFilter::new(&config);
        // Open windows survive a reload that leaves the alert settings alone: closing them
        // would write their repeats early and a second hit for every pair at its next flow.
        if config.alerts == old.alerts && config.networks.home == old.networks.home {
            self.alerter.new_set();
        } else {
            self.alerter = self.alerter_for(&config, now_us);
        }
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
        self.counters.reloads_failed += 1;
        if !self.reporter {
            return;
        }
        crate::error!("reload failed, the old indicator set stays: {why}");
        let event = alert::status_event(now_us, "build-failed", "indicators", why, 3);
        self.outputs.write(&event);
    }

    /// Swaps `built` in; the old set is freed on another thread, since a big one takes time.
    fn install(&mut self, built: Arc<Built>, now_us: i64) {
        let old = std::mem::replace(&mut self.indicators, built);
        drop_elsewhere(old);
        if !self.reporter {
            return;
        }

        let built = Arc::clone(&self.indicators);
        for line in &built.summary {
            crate::info!("{line}");
        }
        let stale = self.watch.stale_sources(&built, now_us);
        let prefixes = built.set.prefixes();

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
        self.output_tokens = Some(first);
        Ok(())
    }

    /// Outputs a reload opened are registered under the loop's output tokens; the ones
    /// they replaced leave the poll and are finished on another thread, since sending what
    /// a TCP queue holds can take seconds.
    fn settle_outputs(&mut self, registry: &mio::Registry) {
        let Some(first) = self
            .output_tokens
            .filter(|_| !self.replaced_outputs.is_empty())
        else {
            return;
        };
        let mut replaced = std::mem::take(&mut self.replaced_outputs);
        for old in &mut replaced {
            old.deregister(registry);
        }
        if let Err(err) = self.outputs.register(registry, first) {
            crate::error!("cannot register the new outputs: {err}");
        }
        // The outputs go over only once the thread runs: if it cannot start, they are
        // finished here instead of lost.
        let (handing, taking) = std::sync::mpsc::channel::<Vec<Outputs>>();
        let spawned = std::thread::Builder::new()
            .name("old-outputs".into())
            .spawn(move || taking.into_iter().flatten().for_each(finish_outputs));
        match spawned {
            Ok(thread) => {
                let _ = handing.send(replaced);
                self.finishing.retain(|thread| !thread.is_finished());
                self.finishing.push(thread);
            }
            Err(err) => {
                crate::warn!("cannot start a thread to finish the old outputs ({err}); here");
                replaced.into_iter().for_each(finish_outputs);
            }
        }
    }

    pub fn output_event(&mut self, registry: &mio::Registry, event: &mio::event::Event, now: i64) {
        self.outputs.on_event(registry, event, now);
    }

    /// The loop has handled what was ready: lines gathered for standard output go out.
    pub fn end_turn(&mut self) {
        self.outputs.end_turn();
    }

    pub fn reopen_files(&mut self) {
        self.outputs.reopen_files();
        crate::info!("output files reopened");
    }

    /// Closes every window and writes what is pending (SIGTERM, end of replay).
    pub fn shutdown(&mut self, now_us: i64) {
        self.alerter.flush(now_us, &mut self.events);
        self.write_events();
        self.replaced_outputs.drain(..).for_each(finish_outputs);
        for thread in self.finishing.drain(..) {
            let _ = thread.join();
        }
        self.outputs.flush();
        self.save_templates();
    }

    fn write_events(&mut self) {
        for event in self.events.drain(..) {
            self.outputs.write(&event);
        }
    }

    fn restore_templates(&mut self, dir: &Path, now_us: i64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(TEMPLATE_PREFIX) && name.ends_with(TEMPLATE_SUFFIX)) {
                continue;
            }
            let path = entry.path();
            match self.decoder.restore(&path, now_us.div_euclid(1000)) {
                Ok(count) => crate::info!("restored {count} templates from {}", path.display()),
                Err(why) => crate::warn!("discarded {}: {why}", path.display()),
            }
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

    /// One line of every counter, for the periodic stats line and SIGUSR1. Names are
    /// kebab-case like the configuration's; DNSBL counters carry a `dnsbl-` prefix.
    pub fn stats(&self) -> String {
        use std::fmt::Write;

        let decoder = self.decoder.counters().fields().map(|(n, v)| ("", n, v));
        let alerts = with_retired(self.alerter.counters(), &self.retired_alerts);
        let alerts = alerts.map(|(n, v)| ("", n, v));
        let outputs = self.outputs.counters().fields().map(|(n, v)| ("", n, v));
        let own = self.counters.fields().map(|(n, v)| ("", n, v));
        let dnsbl = self.dnsbl.iter().flat_map(|d| d.counters().fields());
        let dnsbl = dnsbl.map(|(n, v)| ("dnsbl-", n, v));
        let all = own.chain(decoder).chain(alerts).chain(outputs).chain(dnsbl);

        let mut line = String::new();
        for (prefix, name, value) in all {
            if !line.is_empty() {
                line.push(' ');
            }
            let _ = write!(line, "{prefix}{}={value}", name.replace('_', "-"));
        }
        line.push_str(&format!(" templates={}", self.decoder.templates_known()));
        line.push_str(&format!(" prefixes={}", self.indicators.set.prefixes()));
        line
    }
}

impl PipelineCounters {
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("refused-exporter", self.refused_exporter),
            ("receive-errors", self.receive_errors),
            ("reloads", self.reloads),
            ("reloads-failed", self.reloads_failed),
        ]
        .into_iter()
    }
}

/// Which addresses of a flow are worth a DNSBL query: remote (not `home`), not excluded
/// (`exclude`, and the bogons when `exclude-bogons`), and not already on a static list.
struct RemoteFilter {
    home: Vec<IpNet>,
    excluded: Vec<IpNet>,
}

impl RemoteFilter {
    fn new(config: &Config) -> RemoteFilter {
        let mut excluded = config.networks.exclude.clone();
        if config.networks.exclude_bogons {
            let bogons = build::BOGONS
                .iter()
                .filter_map(|(net, _)| net.parse::<IpNet>().ok());
            excluded.extend(bogons);
        }
        RemoteFilter {
            home: config.networks.home.clone(),
            excluded,
        }
    }

    fn candidates<'a>(
        &'a self,
        flow: &FlowRecord,
        set: &'a IndicatorSet,
    ) -> impl Iterator<Item = IpAddr> + 'a {
        let addresses = [flow.src, flow.dst, flow.nat_src, flow.nat_dst];
        let wanted = move |address: &IpAddr| {
            let address = flow::canonical(*address);
            let inside = |nets: &[IpNet]| nets.iter().any(|net| net.contains(&address));
            !inside(&self.home) && !inside(&self.excluded) && !set.is_listed(address)
        };
        addresses.into_iter().flatten().filter(wanted)
    }
}

fn template_file(worker: usize) -> String {
    match worker {
        0 => format!("{TEMPLATE_PREFIX}{TEMPLATE_SUFFIX}"),
        n => format!("{TEMPLATE_PREFIX}-{n}{TEMPLATE_SUFFIX}"),
    }
}

fn empty_set() -> Built {
    Built {
        set: IndicatorSet::empty(),
        summary: Vec::new(),
        warnings: Vec::new(),
        hidden: IndicatorSet::empty(),
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
/// none. Plain lookups with no provenance.
#[inline]
fn touches_set(set: &IndicatorSet, record: &FlowRecord) -> bool {
    any_address(record, |addr| set.is_listed(addr))
}

/// Whether some address of `record` may be listed, from the first step of each lookup only:
/// a datagram's records go through this first.
#[inline]
fn may_touch_set(set: &IndicatorSet, record: &FlowRecord) -> bool {
    any_address(record, |addr| set.may_list(addr))
}

/// Whether `test` holds for an address of `record`, NAT addresses included. Every address
/// is tested rather than stopping at the first that passes, so nothing waits on what one
/// lookup found and the cache misses of consecutive records' lookups overlap.
#[inline(always)]
fn any_address(record: &FlowRecord, test: impl Fn(IpAddr) -> bool) -> bool {
    let addresses = [record.src, record.dst, record.nat_src, record.nat_dst];
    addresses
        .iter()
        .fold(false, |any, addr| any | addr.is_some_and(&test))
}

/// Sends what replaced outputs still hold (waiting a few seconds at most per TCP target)
/// and says what could not be sent.
fn finish_outputs(mut outputs: Outputs) {
    let before: u64 = outputs.sinks().map(|(_, c)| c.dropped).sum();
    outputs.flush();
    let lost = outputs.sinks().map(|(_, c)| c.dropped).sum::<u64>() - before;
    if lost > 0 {
        crate::warn!("the replaced outputs could not send {lost} records");
    }
}

/// Dropping a set of a million prefixes takes milliseconds; do it off the loop thread.
fn drop_elsewhere(set: Arc<Built>) {
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
    /// Per exporter: data sets without a template and records seen at the last check, and
    /// whether the missing templates were reported.
    templates: HashMap<IpAddr, (u64, u64, bool)>,
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
            templates: HashMap::new(),
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

    fn check(
        &mut self,
        now_us: i64,
        decoder: &Decoder,
        outputs: &Outputs,
        events: &mut Vec<Event>,
    ) {
        if now_us < self.next_check {
            return;
        }
        self.next_check = now_us + WATCH_EVERY_US;
        self.check_templates(now_us, decoder, events);

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

    /// An exporter that sent data sets since the last check but not one record we could
    /// decode is sending templates we never got: the SIEM should know we are blind to it.
    fn check_templates(&mut self, now_us: i64, decoder: &Decoder, events: &mut Vec<Event>) {
        for (exporter, counters) in decoder.exporters() {
            let records = counters.records_v5 + counters.records_v9 + counters.records_ipfix;
            let missing = counters.sets_no_template;
            let Some(seen) = self.templates.get_mut(&exporter) else {
                if self.templates.len() < self.exporters_cap {
                    self.templates.insert(exporter, (missing, records, false));
                }
                continue;
            };
            let blind = missing > seen.0 && records == seen.1;
            if blind && !seen.2 {
                let detail = format!("{} data sets without a template", missing - seen.0);
                let subject = exporter.to_string();
                let event = alert::status_event(now_us, "templates-missing", &subject, &detail, 4);
                events.push(event);
            }
            *seen = (missing, records, blind || (seen.2 && records == seen.1));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Report;
    use crate::intel::{Indicator, Source};

    /// 2025-12-03T18:40:00Z.
    const T0: i64 = 1_764_787_200_000_000;
    const MINUTE: i64 = 60_000_000;

    struct Fixture {
        pipeline: Pipeline,
        log: PathBuf,
        dir: PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture(label: &str, extra: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("fa-pipeline-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("alerts.log");
        let text = format!(
            "[networks]\nhome = [\"192.0.2.0/24\"]\n[output]\nhostname = \"t\"\n\
             file = \"{}\"\n{extra}",
            log.display()
        );
        let mut report = Report::default();
        let config = Config::parse(&text, Path::new("t.toml"), &mut report).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);

        let source = Source {
            name: "drop".into(),
            indicators: vec![Indicator {
                net: "203.0.113.66/32".parse().unwrap(),
                entry: "203.0.113.66".into(),
                comment: "SBL1".into(),
                url: None,
            }],
            ..Source::default()
        };
        let built = build::build_at(vec![source], &config.networks, T0 / 1000);
        let outputs = Outputs::open(&config.output, 42).unwrap();
        let pipeline = Pipeline::with_parts(&config, built, outputs, T0);
        Fixture { pipeline, log, dir }
    }

    fn lines(fixture: &mut Fixture) -> Vec<String> {
        fixture.pipeline.outputs.flush();
        let text = std::fs::read_to_string(&fixture.log).unwrap_or_default();
        let messages = text
            .lines()
            .map(|l| l.split_once("]: ").unwrap().1.to_owned());
        messages.collect()
    }

    /// A v5 datagram with one TCP flow from `src` to 192.0.2.10:22.
    fn v5(src: [u8; 4]) -> Vec<u8> {
        let mut bytes = vec![0, 5, 0, 1];
        bytes.extend_from_slice(&600_000u32.to_be_bytes());
        bytes.extend_from_slice(&((T0 / 1_000_000) as u32).to_be_bytes());
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&src);
        bytes.extend_from_slice(&[192, 0, 2, 10, 0, 0, 0, 0, 0, 1, 0, 2]);
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&60u32.to_be_bytes());
        bytes.extend_from_slice(&590_000u32.to_be_bytes());
        bytes.extend_from_slice(&590_000u32.to_be_bytes());
        bytes.extend_from_slice(&[0xad, 0x9c, 0, 22, 0, 0x02, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
        bytes
    }

    #[test]
    fn a_silent_exporter_is_reported_once_after_the_silence() {
        let mut fixture = fixture("silent", "");
        let exporter: IpAddr = "127.0.0.7".parse().unwrap();
        fixture
            .pipeline
            .on_datagram(exporter, &v5([198, 51, 100, 1]), T0);
        fixture.pipeline.tick(None, T0 + 14 * MINUTE);
        assert_eq!(lines(&mut fixture), Vec::<String>::new());

        for minute in [16, 17, 30] {
            fixture.pipeline.tick(None, T0 + minute * MINUTE);
        }
        assert_eq!(
            lines(&mut fixture),
            ["status kind=exporter-silent subject=127.0.0.7 detail=\"no datagram for 16m\""]
        );
    }

    #[test]
    fn data_without_templates_is_reported_as_blindness() {
        let mut fixture = fixture("blind", "");
        let exporter: IpAddr = "127.0.0.8".parse().unwrap();
        // v9 header (count 1, uptime, secs, sequence 0, source id 0), then a data flowset
        // for template 256 that was never defined.
        let mut datagram = vec![0, 9, 0, 1, 0, 0, 0, 1, 0x69, 0x30, 0x81, 0x00];
        datagram.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        datagram.extend_from_slice(&[1, 0, 0, 8, 1, 2, 3, 4]);
        fixture.pipeline.tick(None, T0);
        fixture.pipeline.on_datagram(exporter, &datagram, T0);
        fixture.pipeline.tick(None, T0 + MINUTE);
        fixture
            .pipeline
            .on_datagram(exporter, &datagram, T0 + MINUTE);
        fixture.pipeline.tick(None, T0 + 2 * MINUTE);
        assert_eq!(
            lines(&mut fixture),
            ["status kind=templates-missing subject=127.0.0.8 \
              detail=\"1 data sets without a template\""]
        );
    }

    #[test]
    fn exporters_outside_the_allowed_prefixes_are_counted_and_dropped() {
        let mut fixture = fixture("refused", "[input]\nexporters = [\"127.0.0.0/30\"]\n");
        let allowed: IpAddr = "127.0.0.2".parse().unwrap();
        let refused: IpAddr = "::ffff:127.0.0.9".parse().unwrap();
        fixture
            .pipeline
            .on_datagram(refused, &v5([203, 0, 113, 66]), T0);
        fixture
            .pipeline
            .on_datagram(allowed, &v5([203, 0, 113, 66]), T0);
        assert_eq!(fixture.pipeline.counters().refused_exporter, 1);
        assert_eq!(fixture.pipeline.decoder().counters().datagrams, 1);
        let found = lines(&mut fixture);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("hit src=203.0.113.66 sport=44444 "),
            "{}",
            found[0]
        );
    }
}

/// The pieces that keep the stats line's alert counts across reloads.
#[cfg(test)]
mod counter_tests {
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
    fn may_touch_set_passes_every_listed_flow_and_few_others() {
        let set = set_listing("198.51.100.0/25");
        let mut flow = FlowRecord::new("127.0.0.2".parse().unwrap(), 10, 0);
        assert!(!may_touch_set(&set, &flow));
        let same_slash24: IpAddr = "198.51.100.200".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        flow.src = Some(other);
        flow.dst = Some(other);
        assert!(!may_touch_set(&set, &flow));
        for (slot, listed) in [(0, "198.51.100.7"), (3, "::ffff:198.51.100.9")] {
            let mut one = flow.clone();
            let listed = Some(listed.parse().unwrap());
            *[
                &mut one.src,
                &mut one.dst,
                &mut one.nat_src,
                &mut one.nat_dst,
            ][slot] = listed;
            assert!(may_touch_set(&set, &one), "slot {slot}");
            assert!(touches_set(&set, &one), "slot {slot}");
        }
        // The first step reads a /24 at a time, so its neighbour passes it; the full lookup
        // then says no.
        flow.nat_dst = Some(same_slash24);
        assert!(may_touch_set(&set, &flow));
        assert!(!touches_set(&set, &flow));
        // IPv6 has no first step of its own.
        flow.nat_dst = Some("2001:db8::1".parse().unwrap());
        assert!(may_touch_set(&set, &flow));
        assert!(!touches_set(&set, &flow));
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
