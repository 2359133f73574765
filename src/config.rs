//! The configuration file: TOML with kebab-case keys, read into typed settings.
//!
//! Every problem is collected, not only the first, and each names the file, the line and the
//! key (`flowalert.toml:12: [alerts] repeat-window: ...`). Unknown keys are errors. Defaults
//! live here and are documented key by key in `etc/flowalert.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
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
}

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
        let file = self.path.display();
        write!(f, "{file}:{}: {}: {}", self.line, self.key, self.message)
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
            dnsbl: Dnsbl {
                enabled: self.get(&mut dnsbl, "enabled", false),
            },
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
        if config.dnsbl.enabled {
            let line = self.locator.key_line("dnsbl", 0, "enabled");
            let message = "DNSBL lookups are not available in this version".to_owned();
            self.error(line, "[dnsbl] enabled".into(), message);
        }
        self.check_duplicate_lists(&config.lists);
    }

    /// Syslog targets and the facility are checked here, so a typo fails `check-config`
    /// instead of the next start.
    fn check_output(&mut self, output: &Output) {
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
