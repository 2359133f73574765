//! The configuration file: TOML with kebab-case keys, read into typed settings.
//!
//! Every problem is collected, not only the first, and each names the file, the line and the
//! key (`flowalert.toml:12: [alerts] repeat-window: ...`). Unknown keys are errors. Defaults
//! live here and are documented key by key in `etc/flowalert.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

mod duration;
mod locate;

pub use duration::{format_duration, parse_duration};
use locate::Locator;

/// Where the service and the packages look when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/flowalert/flowalert.toml";

/// Names a list may have: what `lists=` shows and what a glob's file stems must be.
pub const LIST_FORMATS: &[&str] = &[
    "auto",
    "plain",
    "spamhaus",
    "spamhaus-json",
    "dshield",
    "firehol",
    "feodo-csv",
    "tor-exit",
    "zeek-intel",
    "suricata-iprep",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this came from, for messages.
    pub path: PathBuf,
    pub input: Input,
    pub templates: Templates,
    pub networks: Networks,
    pub state: State,
    pub lists: Vec<List>,
    pub otx: Otx,
    pub dnsbl: Dnsbl,
    pub alerts: Alerts,
    pub status: Status,
    pub output: Output,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub listen: Vec<SocketAddr>,
    /// Socket receive buffer asked for, in bytes.
    pub receive_buffer: usize,
    /// Exporters allowed to send; empty accepts any.
    pub exporters: Vec<IpNet>,
    pub workers: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    pub max_per_exporter: usize,
    pub max_exporters: usize,
    pub idle_expiry: Duration,
    pub hold_bytes: usize,
    pub hold_time: Duration,
    pub max_restored_age: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Networks {
    pub home: Vec<IpNet>,
    pub exclude: Vec<IpNet>,
    pub exclude_bogons: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub name: String,
    /// A file, or a glob whose every file is a list named after its stem.
    pub path: String,
    pub format: String,
    pub url: Option<String>,
    pub refresh: Duration,
    pub ref_url: Option<String>,
    pub categories: Vec<String>,
    pub min_score: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Otx {
    pub enabled: bool,
    pub url: String,
    pub api_key_file: Option<PathBuf>,
    pub refresh: Duration,
    pub max_age: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dnsbl {
    pub enabled: bool,
    /// A local recursive resolver: Spamhaus refuses queries that come through public ones.
    pub resolver: SocketAddr,
    /// Queries per second at most (a token bucket holding one second's worth).
    pub qps: u32,
    /// Queries per UTC day at most, over all zones.
    pub daily_cap: u64,
    /// Answers kept, over all zones.
    pub cache_size: usize,
    /// Queries waiting for an answer at once.
    pub max_pending: usize,
    pub max_ttl: Duration,
    /// Cap on how long an NXDOMAIN is kept (its SOA minimum otherwise).
    pub negative_ttl: Duration,
    /// How long a failure (SERVFAIL, timeout) is kept before the address is asked again.
    pub error_ttl: Duration,
    pub timeout: Duration,
    pub self_test_every: Duration,
    /// How long a zone stays paused after an answer that says the resolver was refused.
    pub pause: Duration,
    pub zones: Vec<DnsblZone>,
}

/// One `[[dnsbl.zone]]`. `Debug` masks a DQS key, so a printed configuration never shows it.
#[derive(Clone, PartialEq)]
pub struct DnsblZone {
    /// `[a-z0-9._-]{1,32}`: what records show in `lists=`.
    pub name: String,
    /// The DNS zone asked, lower case, without a trailing dot.
    pub zone: String,
    pub listed: Vec<ReturnRange>,
    pub ignore: Vec<ReturnRange>,
    /// Ask TXT for a URL to show in `refs=` when an address is listed.
    pub txt: bool,
}

/// A range of answers (return codes) with the label records show for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub label: String,
}

impl ReturnRange {
    pub fn contains(&self, code: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&code)
    }
}

impl fmt::Debug for DnsblZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsblZone")
            .field("name", &self.name)
            .field("zone", &masked_zone(&self.zone))
            .field("listed", &self.listed)
            .field("ignore", &self.ignore)
            .field("txt", &self.txt)
            .finish()
    }
}

/// The zone as logs and records may show it: the key of a Spamhaus DQS zone
/// (`KEY.zen.dq.spamhaus.net`, the first label) is replaced by `****`.
pub fn masked_zone(zone: &str) -> String {
    // Anywhere in the name, not only as a suffix: a mistyped zone must not leak its key.
    let is_dqs = zone.to_ascii_lowercase().contains(".dq.spamhaus.");
    match zone.split_once('.') {
        Some((_key, rest)) if is_dqs => format!("****.{rest}"),
        _ => zone.to_owned(),
    }
}

/// Each zone multiplies the queries per address; more than this is a mistake.
pub const MAX_DNSBL_ZONES: usize = 16;

/// Resolvers anyone may use. Spamhaus answers 127.255.255.254 through them, so they are
/// refused at load rather than discovered as a paused zone.
pub const PUBLIC_RESOLVERS: &[&str] = &[
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "149.112.112.112",
    "208.67.222.222",
    "208.67.220.220",
    "94.140.14.14",
    "94.140.15.15",
    "64.6.64.6",
    "64.6.65.6",
    "185.228.168.9",
    "76.76.2.0",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2606:4700:4700::1111",
    "2606:4700:4700::1001",
    "2620:fe::fe",
    "2620:fe::9",
    "2620:119:35::35",
    "2620:119:53::53",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub repeat_window: Duration,
    pub max_peers: usize,
    pub max_records_per_second: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub exporter_silence: Duration,
    pub stale_after: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub file: Option<PathBuf>,
    pub syslog: Vec<String>,
    pub stdout: bool,
    pub hostname: Option<String>,
    pub facility: String,
    pub queue: usize,
    pub enterprise_id: u32,
}

/// One thing wrong with a configuration file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub line: usize,
    /// `[section] key`, or `[section]` for a whole section.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file as a whole (a key it lacks), not one of its lines.
        let file = self.path.display();
        match self.line {
            0 => write!(f, "{file}: {}: {}", self.key, self.message),
            line => write!(f, "{file}:{line}: {}: {}", self.key, self.message),
        }
    }
}

/// What reading a configuration found: errors make it unusable, warnings do not.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Config {
    /// Reads and checks `path`. `Err` carries every error; warnings come with either result.
    pub fn load(path: &Path) -> (Result<Config, ()>, Report) {
        let mut report = Report::default();
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => {
                report.errors.push(Problem {
                    path: path.to_owned(),
                    line: 0,
                    key: "-".into(),
                    message: format!("cannot read: {err}"),
                });
                return (Err(()), report);
            }
        };
        warn_if_world_writable(path, &mut report);
        let config = Config::parse(&text, path, &mut report);
        match config {
            Some(config) if report.errors.is_empty() => (Ok(config), report),
            _ => (Err(()), report),
        }
    }

    /// Parses configuration text; `path` only labels the problems.
    pub fn parse(text: &str, path: &Path, report: &mut Report) -> Option<Config> {
        let table: Table = match text.parse() {
            Ok(table) => table,
            Err(err) => {
                let line = err.span().map_or(0, |span| line_of(text, span.start));
                let message = err.message().trim_end().to_owned();
                report.errors.push(Problem {
                    path: path.to_owned(),
                    line,
                    key: "-".into(),
                    message,
                });
                return None;
            }
        };

        let mut reader = Reader {
            path,
            locator: Locator::new(text),
            report,
        };
        let mut config = reader.config(table);
        reader.check(&config);
        config.resolve_relative_paths();
        report.errors.sort_by_key(|problem| problem.line);
        report.warnings.sort_by_key(|problem| problem.line);
        Some(config)
    }
}

impl Config {
    /// Relative paths in the file are relative to the file's own directory, so a
    /// configuration and its lists can move together (the demo relies on this).
    fn resolve_relative_paths(&mut self) {
        let Some(base) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) else {
            return;
        };
        let base = base.to_owned();
        let resolve = |path: &Path| -> PathBuf {
            if path.is_absolute() {
                path.to_owned()
            } else {
                base.join(path)
            }
        };
        for list in &mut self.lists {
            if !list.path.is_empty() {
                list.path = resolve(Path::new(&list.path))
                    .to_string_lossy()
                    .into_owned();
            }
        }
        self.state.dir = resolve(&self.state.dir);
        self.output.file = self.output.file.as_deref().map(resolve);
        self.otx.api_key_file = self.otx.api_key_file.as_deref().map(resolve);
    }
}

/// Reads sections out of the parsed table, recording problems instead of stopping.
struct Reader<'a> {
    path: &'a Path,
    locator: Locator,
    report: &'a mut Report,
}

/// One table being read: its name for messages, and the keys not yet taken.
struct Section {
    name: String,
    /// The header as the locator knows it, e.g. `list` with index 2 for the third `[[list]]`.
    header: String,
    index: usize,
    keys: BTreeMap<String, Value>,
}

impl Reader<'_> {
    fn config(&mut self, mut table: Table) -> Config {
        let mut input = self.section(&mut table, "input");
        let mut templates = self.section(&mut table, "templates");
        let mut networks = self.section(&mut table, "networks");
        let mut state = self.section(&mut table, "state");
        let mut otx = self.section(&mut table, "otx");
        let mut dnsbl = self.section(&mut table, "dnsbl");
        let mut alerts = self.section(&mut table, "alerts");
        let mut status = self.section(&mut table, "status");
        let mut output = self.section(&mut table, "output");
        let list_tables = self.list_tables(&mut table);

        for (key, _) in table {
            let line = self.locator.top_level(&key);
            self.error(line, format!("[{key}]"), "unknown section".into());
        }

        let config = Config {
            path: self.path.to_owned(),
            input: self.input(&mut input),
            templates: self.templates(&mut templates),
            networks: self.networks(&mut networks),
            state: State {
                dir: self.get(&mut state, "dir", "/var/lib/flowalert".into()),
            },
            lists: list_tables
                .into_iter()
                .map(|mut s| self.list(&mut s))
                .collect(),
            otx: self.otx(&mut otx),
            dnsbl: self.dnsbl(&mut dnsbl),
            alerts: self.alerts(&mut alerts),
            status: Status {
                exporter_silence: self.duration(&mut status, "exporter-silence", "15m"),
                stale_after: self.duration(&mut status, "stale-after", "2d"),
            },
            output: self.output(&mut output),
        };

        for section in [
            input, templates, networks, state, otx, dnsbl, alerts, status, output,
        ] {
            self.reject_leftovers(section);
        }
        config
    }

    fn input(&mut self, s: &mut Section) -> Input {
        let listen: Vec<String> = self.get(s, "listen", vec!["0.0.0.0:2055".into()]);
        let listen = listen
            .iter()
            .filter_map(|text| self.parsed(s, "listen", text, "an address:port"))
            .collect();
        Input {
            listen,
            receive_buffer: self.get(s, "receive-buffer", 8 * 1024 * 1024),
            exporters: self.networks_list(s, "exporters"),
            workers: self.get(s, "workers", 1),
        }
    }

    fn templates(&mut self, s: &mut Section) -> Templates {
        Templates {
            max_per_exporter: self.get(s, "max-per-exporter", 1024),
            max_exporters: self.get(s, "max-exporters", 4096),
            idle_expiry: self.duration(s, "idle-expiry", "1d"),
            hold_bytes: self.get(s, "hold-bytes", 4 * 1024 * 1024),
            hold_time: self.duration(s, "hold-time", "5m"),
            max_restored_age: self.duration(s, "max-restored-age", "1d"),
        }
    }

    fn networks(&mut self, s: &mut Section) -> Networks {
        Networks {
            home: self.networks_list(s, "home"),
            exclude: self.networks_list(s, "exclude"),
            exclude_bogons: self.get(s, "exclude-bogons", true),
        }
    }

    fn list(&mut self, s: &mut Section) -> List {
        let name: String = self.get(s, "name", String::new());
        let format: String = self.get(s, "format", "auto".into());
        let list = List {
            path: self.get(s, "path", String::new()),
            url: self.get(s, "url", None),
            refresh: self.duration(s, "refresh", "1d"),
            ref_url: self.get(s, "ref", None),
            categories: self.get(s, "categories", Vec::new()),
            min_score: self.get(s, "min-score", None),
            name,
            format,
        };
        self.check_list(s, &list);
        self.reject_leftovers(std::mem::replace(s, empty_section()));
        list
    }

    fn check_list(&mut self, s: &Section, list: &List) {
        let key = |key: &str| (s.header.as_str(), s.index, key.to_owned());
        if !valid_list_name(&list.name) {
            let (header, index, k) = key("name");
            let line = self.locator.key_line(header, index, &k);
            let message = format!("{:?} is not a list name ([a-z0-9._-]{{1,32}})", list.name);
            self.error(line, format!("[{}] name", s.name), message);
        }
        if list.path.is_empty() {
            let line = self.locator.header_line(&s.header, s.index);
            self.error(line, format!("[{}] path", s.name), "missing".into());
        }
        if !LIST_FORMATS.contains(&list.format.as_str()) {
            let (header, index, k) = key("format");
            let line = self.locator.key_line(header, index, &k);
            let message = format!(
                "unknown format {:?}; one of {}",
                list.format,
                LIST_FORMATS.join(", ")
            );
            self.error(line, format!("[{}] format", s.name), message);
        }
    }

    fn otx(&mut self, s: &mut Section) -> Otx {
        Otx {
            enabled: self.get(s, "enabled", false),
            url: self.get(s, "url", "https://otx.alienvault.com".into()),
            api_key_file: self.get(s, "api-key-file", None),
            refresh: self.duration(s, "refresh", "1h"),
            max_age: self.duration(s, "max-age", "90d"),
        }
    }

    fn dnsbl(&mut self, s: &mut Section) -> Dnsbl {
        let zone_tables = self.dnsbl_zone_tables(s);
        let resolver: String = self.get(s, "resolver", "127.0.0.1:53".into());
        let resolver = self.resolver(s, &resolver);
        Dnsbl {
            enabled: self.get(s, "enabled", false),
            resolver,
            qps: self.get(s, "qps", 20),
            daily_cap: self.get(s, "daily-cap", 300_000),
            cache_size: self.get(s, "cache-size", 100_000),
            max_pending: self.get(s, "max-pending", 1000),
            max_ttl: self.duration(s, "max-ttl", "1h"),
            negative_ttl: self.duration(s, "negative-ttl", "1h"),
            error_ttl: self.duration(s, "error-ttl", "5m"),
            timeout: self.duration(s, "timeout", "2s"),
            self_test_every: self.duration(s, "self-test-every", "1h"),
            pause: self.duration(s, "pause", "30m"),
            zones: zone_tables
                .into_iter()
                .map(|mut zone| self.dnsbl_zone(&mut zone))
                .collect(),
        }
    }

    /// `127.0.0.1:53`, or a bare address meaning port 53.
    fn resolver(&mut self, s: &Section, text: &str) -> SocketAddr {
        let fallback = SocketAddr::from(([127, 0, 0, 1], 53));
        let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
            text.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        match parsed {
            Some(address) => address,
            None => {
                let line = self.locator.key_line(&s.header, s.index, "resolver");
                let message = format!("{text:?} is not an address or address:port");
                self.error(line, "[dnsbl] resolver".into(), message);
                fallback
            }
        }
    }

    fn dnsbl_zone_tables(&mut self, s: &mut Section) -> Vec<Section> {
        let zones = match s.keys.remove("zone") {
            None => return Vec::new(),
            Some(Value::Array(zones)) => zones,
            Some(_) => {
                let line = self.locator.key_line("dnsbl", 0, "zone");
                let message = "must be an array of tables ([[dnsbl.zone]])".into();
                self.error(line, "[dnsbl] zone".into(), message);
                return Vec::new();
            }
        };
        let mut sections = Vec::new();
        for (index, value) in zones.into_iter().enumerate() {
            let Value::Table(keys) = value else {
                let line = self.locator.header_line("dnsbl.zone", index);
                self.error(line, "[[dnsbl.zone]]".into(), "must be a table".into());
                continue;
            };
            sections.push(Section {
                name: "dnsbl.zone".into(),
                header: "dnsbl.zone".into(),
                index,
                keys: keys.into_iter().collect(),
            });
        }
        sections
    }

    fn dnsbl_zone(&mut self, s: &mut Section) -> DnsblZone {
        let zone: String = self.get(s, "zone", String::new());
        let zone = zone.trim_end_matches('.').to_ascii_lowercase();
        let zone = DnsblZone {
            name: self.get(s, "name", String::new()),
            zone,
            listed: self.return_ranges(s, "listed"),
            ignore: self.return_ranges(s, "ignore"),
            txt: self.get(s, "txt", false),
        };
        self.check_dnsbl_zone(s, &zone);
        self.reject_leftovers(std::mem::replace(s, empty_section()));
        zone
    }

    fn return_ranges(&mut self, s: &mut Section, key: &str) -> Vec<ReturnRange> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            range: String,
            label: String,
        }

        let entries: Vec<Entry> = self.get(s, key, Vec::new());
        let mut ranges = Vec::new();
        for entry in entries {
            match parse_return_range(&entry.range) {
                Ok((first, last)) => ranges.push(ReturnRange {
                    first,
                    last,
                    label: entry.label,
                }),
                Err(message) => {
                    let line = self.locator.key_line(&s.header, s.index, key);
                    self.error(line, format!("[{}] {key}", s.name), message);
                }
            }
        }
        ranges
    }

    fn check_dnsbl_zone(&mut self, s: &Section, zone: &DnsblZone) {
        let mut problems = Vec::new();
        if !valid_list_name(&zone.name) {
            let message = format!("{:?} is not a zone name ([a-z0-9._-]{{1,32}})", zone.name);
            problems.push(("name", message));
        }
        if !valid_dns_zone(&zone.zone) {
            let shown = masked_zone(&zone.zone);
            let message = format!("{shown:?} is not a DNS zone (labels of a-z, 0-9, - and _)");
            problems.push(("zone", message));
        }
        if zone.listed.is_empty() {
            problems.push(("listed", "no answer range counts as listed".into()));
        }
        let labels = zone.listed.iter().chain(&zone.ignore);
        if labels.clone().any(|range| !printable_label(&range.label)) {
            let message = "labels are 1 to 32 printable ASCII characters".into();
            problems.push(("listed", message));
        }
        for (key, message) in problems {
            let line = self.locator.key_line(&s.header, s.index, key);
            self.error(line, format!("[{}] {key}", s.name), message);
        }
    }

    /// The `[dnsbl]` checks that need more than one key.
    fn check_dnsbl(&mut self, dnsbl: &Dnsbl) {
        let mut problems = Vec::new();
        if dnsbl.enabled && dnsbl.zones.is_empty() {
            problems.push((
                "enabled",
                "true but no [[dnsbl.zone]] is configured".to_owned(),
            ));
        }
        if is_public_resolver(dnsbl.resolver.ip()) {
            let message = format!(
                "{} is a public resolver; Spamhaus and other DNSBLs refuse queries \
                 through them: use a local recursive resolver",
                dnsbl.resolver.ip()
            );
            problems.push(("resolver", message));
        }
        if dnsbl.zones.len() > MAX_DNSBL_ZONES {
            // Pointed at the first zone too many.
            let line = self.locator.header_line("dnsbl.zone", MAX_DNSBL_ZONES);
            let message = format!("{} zones; at most {MAX_DNSBL_ZONES}", dnsbl.zones.len());
            self.error(line, "[[dnsbl.zone]]".into(), message);
        }
        if dnsbl.resolver.port() == 0 {
            problems.push(("resolver", "port 0".to_owned()));
        }
        let limits = [
            ("qps", dnsbl.qps as u64, 1, 100_000),
            ("daily-cap", dnsbl.daily_cap, 1, u64::MAX),
            ("cache-size", dnsbl.cache_size as u64, 1, 100_000_000),
            ("max-pending", dnsbl.max_pending as u64, 1, 30_000),
        ];
        for (key, value, low, high) in limits {
            if !(low..=high).contains(&value) {
                problems.push((key, format!("must be {low} to {high}")));
            }
        }
        let timeout = dnsbl.timeout;
        if timeout < Duration::from_millis(10) || timeout > Duration::from_secs(60) {
            problems.push(("timeout", "must be 10ms to 60s".to_owned()));
        }
        for (key, value) in [
            ("self-test-every", dnsbl.self_test_every),
            ("pause", dnsbl.pause),
        ] {
            if value < Duration::from_secs(1) {
                problems.push((key, "must be at least 1s".to_owned()));
            }
        }

        for (key, message) in problems {
            let line = self.locator.key_line("dnsbl", 0, key);
            self.error(line, format!("[dnsbl] {key}"), message);
        }
        self.check_duplicate_zones(&dnsbl.zones);
    }

    fn check_duplicate_zones(&mut self, zones: &[DnsblZone]) {
        for (index, zone) in zones.iter().enumerate() {
            let earlier = zones[..index].iter().any(|other| other.name == zone.name);
            if earlier && !zone.name.is_empty() {
                let line = self.locator.key_line("dnsbl.zone", index, "name");
                let message = format!("{:?} is used by an earlier [[dnsbl.zone]]", zone.name);
                self.error(line, "[dnsbl.zone] name".into(), message);
            }
        }
    }

    fn alerts(&mut self, s: &mut Section) -> Alerts {
        Alerts {
            repeat_window: self.duration(s, "repeat-window", "10m"),
            max_peers: self.get(s, "max-peers", 100),
            max_records_per_second: self.get(s, "max-records-per-second", 1000),
        }
    }

    fn output(&mut self, s: &mut Section) -> Output {
        Output {
            file: self.get(s, "file", None),
            syslog: self.get(s, "syslog", Vec::new()),
            stdout: self.get(s, "stdout", false),
            hostname: self.get(s, "hostname", None),
            facility: self.get(s, "facility", "daemon".into()),
            queue: self.get(s, "queue", 10_000),
            enterprise_id: self.get(s, "enterprise-id", 0),
        }
    }

    /// Checks that need more than one key.
    fn check(&mut self, config: &Config) {
        self.check_output(&config.output);
        if config.networks.home.is_empty() {
            let line = self.locator.key_line("networks", 0, "home");
            let message = "empty: every alert's dir will be `unknown`".to_owned();
            self.warning(line, "[networks] home".into(), message);
        }
        if config.input.listen.is_empty() {
            let line = self.locator.key_line("input", 0, "listen");
            self.error(
                line,
                "[input] listen".into(),
                "no address to listen on".into(),
            );
        }
        if config.input.workers == 0 || config.input.workers > 64 {
            let line = self.locator.key_line("input", 0, "workers");
            self.error(line, "[input] workers".into(), "must be 1 to 64".into());
        }
        self.check_dnsbl(&config.dnsbl);
        self.check_duplicate_lists(&config.lists);
    }

    /// Syslog targets and the facility are checked here, so a typo fails `check-config`
    /// instead of the next start.
    fn check_output(&mut self, output: &Output) {
        if output.file.is_none() && output.syslog.is_empty() && !output.stdout {
            let line = self.locator.header_line("output", 0);
            let message = "no file, syslog or stdout: the service's alerts go nowhere".into();
            self.warning(line, "[output]".into(), message);
        }
        for target in &output.syslog {
            if let Err(message) = crate::output::parse_target(target) {
                let line = self.locator.key_line("output", 0, "syslog");
                self.error(line, "[output] syslog".into(), message);
            }
        }
        if crate::output::facility_code(&output.facility).is_none() {
            let line = self.locator.key_line("output", 0, "facility");
            let message = format!("{:?} is not a syslog facility", output.facility);
            self.error(line, "[output] facility".into(), message);
        }
    }

    fn check_duplicate_lists(&mut self, lists: &[List]) {
        for (index, list) in lists.iter().enumerate() {
            let earlier = lists[..index].iter().any(|other| other.name == list.name);
            if earlier && !list.name.is_empty() {
                let line = self.locator.key_line("list", index, "name");
                let message = format!("{:?} is used by an earlier [[list]]", list.name);
                self.error(line, "[list] name".into(), message);
            }
        }
    }

    fn section(&mut self, table: &mut Table, name: &str) -> Section {
        let keys = match table.remove(name) {
            None => BTreeMap::new(),
            Some(Value::Table(keys)) => keys.into_iter().collect(),
            Some(_) => {
                let line = self.locator.top_level(name);
                self.error(line, format!("[{name}]"), "must be a table".into());
                BTreeMap::new()
            }
        };
        Section {
            name: name.to_owned(),
            header: name.to_owned(),
            index: 0,
            keys,
        }
    }

    fn list_tables(&mut self, table: &mut Table) -> Vec<Section> {
        let lists = match table.remove("list") {
            None => return Vec::new(),
            Some(Value::Array(lists)) => lists,
            Some(_) => {
                let line = self.locator.top_level("list");
                let message = "must be an array of tables ([[list]])".into();
                self.error(line, "[[list]]".into(), message);
                return Vec::new();
            }
        };
        let mut sections = Vec::new();
        for (index, value) in lists.into_iter().enumerate() {
            let Value::Table(keys) = value else {
                let line = self.locator.header_line("list", index);
                self.error(line, "[[list]]".into(), "must be a table".into());
                continue;
            };
            sections.push(Section {
                name: "list".into(),
                header: "list".into(),
                index,
                keys: keys.into_iter().collect(),
            });
        }
        sections
    }

    /// Takes `key` from the section as a `T`, or the default when absent or wrong.
    fn get<T: DeserializeOwned>(&mut self, s: &mut Section, key: &str, default: T) -> T {
        let Some(value) = s.keys.remove(key) else {
            return default;
        };
        match T::deserialize(value) {
            Ok(parsed) => parsed,
            Err(err) => {
                let line = self.locator.key_line(&s.header, s.index, key);
                let message = err.to_string().trim_end().to_owned();
                self.error(line, format!("[{}] {key}", s.name), message);
                default
            }
        }
    }

    fn duration(&mut self, s: &mut Section, key: &str, default: &str) -> Duration {
        let fallback = parse_duration(default).unwrap_or_default();
        let text: Option<String> = self.get(s, key, None);
        match text.as_deref().map(parse_duration) {
            None => fallback,
            Some(Ok(duration)) => duration,
            Some(Err(message)) => {
                let line = self.locator.key_line(&s.header, s.index, key);
                self.error(line, format!("[{}] {key}", s.name), message);
                fallback
            }
        }
    }

    fn networks_list(&mut self, s: &mut Section, key: &str) -> Vec<IpNet> {
        let texts: Vec<String> = self.get(s, key, Vec::new());
        texts
            .iter()
            .filter_map(|text| self.parsed_net(s, key, text))
            .collect()
    }

    fn parsed_net(&mut self, s: &Section, key: &str, text: &str) -> Option<IpNet> {
        let parsed = text
            .parse::<IpNet>()
            .ok()
            .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from));
        if parsed.is_none() {
            let line = self.locator.key_line(&s.header, s.index, key);
            let message = format!("{text:?} is not an address or prefix");
            self.error(line, format!("[{}] {key}", s.name), message);
        }
        parsed.map(|net| net.trunc())
    }

    fn parsed<T: std::str::FromStr>(
        &mut self,
        s: &Section,
        key: &str,
        text: &str,
        what: &str,
    ) -> Option<T> {
        let parsed = text.parse().ok();
        if parsed.is_none() {
            let line = self.locator.key_line(&s.header, s.index, key);
            self.error(
                line,
                format!("[{}] {key}", s.name),
                format!("{text:?} is not {what}"),
            );
        }
        parsed
    }

    fn reject_leftovers(&mut self, s: Section) {
        for key in s.keys.keys() {
            let line = self.locator.key_line(&s.header, s.index, key);
            self.error(line, format!("[{}] {key}", s.name), "unknown key".into());
        }
    }

    fn error(&mut self, line: usize, key: String, message: String) {
        let problem = Problem {
            path: self.path.to_owned(),
            line,
            key,
            message,
        };
        self.report.errors.push(problem);
    }

    fn warning(&mut self, line: usize, key: String, message: String) {
        let problem = Problem {
            path: self.path.to_owned(),
            line,
            key,
            message,
        };
        self.report.warnings.push(problem);
    }
}

fn empty_section() -> Section {
    Section {
        name: String::new(),
        header: String::new(),
        index: 0,
        keys: BTreeMap::new(),
    }
}

/// `[a-z0-9._-]{1,32}`: list names appear in every record and in file names.
pub fn valid_list_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
    (1..=32).contains(&name.len()) && name.bytes().all(allowed)
}

/// `127.0.0.2`, or `127.0.0.2-127.0.0.3`: answers inside 127.0.0.0/8 (RFC 5782), first
/// not after last, and not the 127.255.255.0/24 that Spamhaus uses to refuse a query.
fn parse_return_range(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let parse = |part: &str| part.trim().parse::<Ipv4Addr>().ok();
    let (Some(first), Some(last)) = (parse(first), parse(last)) else {
        return Err(format!("{text:?} is not an address or a range A-B"));
    };
    let loopback = |code: Ipv4Addr| code.octets()[0] == 127;
    let refusal = |code: Ipv4Addr| matches!(code.octets(), [127, 255, 255, _]);
    if first > last {
        return Err(format!("{text:?}: the first address is after the last"));
    }
    if !loopback(first) || !loopback(last) {
        return Err(format!("{text:?} is outside 127.0.0.0/8 (RFC 5782)"));
    }
    if refusal(first) || refusal(last) {
        return Err(format!(
            "{text:?} reaches 127.255.255.0/24, the refusal codes"
        ));
    }
    Ok((first, last))
}

/// A zone the reversed address is put in front of: at most 190 bytes, so even an IPv6
/// query name (64 nibbles and dots) stays under the 253 a name may have.
fn valid_dns_zone(zone: &str) -> bool {
    let label_ok = |label: &str| {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        (1..=63).contains(&label.len()) && label.bytes().all(allowed)
    };
    (1..=190).contains(&zone.len()) && zone.contains('.') && zone.split('.').all(label_ok)
}

fn printable_label(label: &str) -> bool {
    (1..=32).contains(&label.len()) && label.bytes().all(|b| (b' '..=b'~').contains(&b))
}

fn is_public_resolver(address: IpAddr) -> bool {
    let address = crate::flow::canonical(address);
    PUBLIC_RESOLVERS
        .iter()
        .any(|known| known.parse::<IpAddr>().ok() == Some(address))
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A configuration anyone may rewrite is a way to redirect alerts; say so.
fn warn_if_world_writable(path: &Path, report: &mut Report) {
    use std::os::unix::fs::PermissionsExt;

    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o002 != 0 {
        report.warnings.push(Problem {
            path: path.to_owned(),
            line: 0,
            key: "-".into(),
            message: "the file is world-writable".into(),
        });
    }
}

#[cfg(test)]
mod tests;
