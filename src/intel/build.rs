//! From sources to a set: exclusions carved out, home networks warned about, every source
//! summarised; and reading the configured list files and the OTX cache.
//!
//! Invariant: an address inside a bogon range (when enabled), `[networks] exclude` or
//! `[networks] home` is never in `Built::set`; the parts carved away are kept in
//! `Built::hidden` so `flowalert lookup` can say what an exclusion hides. Every entry given
//! to `build` is counted in exactly one of: kept whole, carved, excluded, duplicate.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use super::set::{EntryId, IndicatorSet, SetBuilder, SourceId};
use super::textlist::{self, Format, Options};
use super::{Indicator, Indicators, Listing, Source};
use crate::config::{Config, List, Networks};

/// Built-in bogons: what `[networks] exclude-bogons` leaves out. The documentation ranges
/// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are not here: they stand
/// for public addresses in tests and examples.
pub const BOGONS: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\", RFC 791"),
    ("10.0.0.0/8", "private, RFC 1918"),
    ("100.64.0.0/10", "shared address space, RFC 6598"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private, RFC 1918"),
    ("192.168.0.0/16", "private, RFC 1918"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, RFC 1112"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local, RFC 4193"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
];

/// Entries named one by one in a home-network warning; the rest are counted.
const HOME_WARNINGS_PER_SOURCE: usize = 5;

/// The result of one build: the set to swap in, and what to log about it.
#[derive(Debug)]
pub struct Built {
    pub set: IndicatorSet,
    pub summary: Vec<SourceSummary>,
    pub warnings: Vec<String>,
    /// The parts of entries an exclusion carved away, for `explain`.
    pub hidden: IndicatorSet,
}

/// One source's line in the load summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSummary {
    pub name: String,
    /// Entries in the set (whole or carved).
    pub entries: usize,
    pub ipv4: usize,
    pub ipv6: usize,
    /// Lines the parser could not use.
    pub rejected: usize,
    /// Entries wholly inside an exclusion, so left out.
    pub excluded: usize,
    /// Entries that lost part of their addresses to an exclusion.
    pub carved: usize,
    /// Entries given twice by the same source, kept once.
    pub duplicates: usize,
    /// When the data was produced (file mtime, OTX sync), ms since the epoch.
    pub data_time: Option<i64>,
    /// How old the data was at the build, in ms.
    pub age_ms: Option<i64>,
}

impl fmt::Display for SourceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} entries ({} IPv4, {} IPv6), {} rejected lines, {} excluded, {} carved",
            self.name,
            self.entries,
            self.ipv4,
            self.ipv6,
            self.rejected,
            self.excluded,
            self.carved
        )?;
        if self.duplicates > 0 {
            write!(f, ", {} duplicates", self.duplicates)?;
        }
        match self.age_ms {
            Some(age) => write!(f, ", data {} old", age_text(age)),
            None => write!(f, ", data age unknown"),
        }
    }
}

fn age_text(age_ms: i64) -> String {
    let secs = u64::try_from(age_ms.max(0) / 1000).unwrap_or(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// The sum of every source's summary, named "total"; its age is the oldest source's.
pub fn total(summary: &[SourceSummary]) -> SourceSummary {
    let mut sum = SourceSummary {
        name: "total".into(),
        ..SourceSummary::default()
    };
    for s in summary {
        sum.entries += s.entries;
        sum.ipv4 += s.ipv4;
        sum.ipv6 += s.ipv6;
        sum.rejected += s.rejected;
        sum.excluded += s.excluded;
        sum.carved += s.carved;
        sum.duplicates += s.duplicates;
        sum.data_time = min_some(sum.data_time, s.data_time);
        sum.age_ms = sum.age_ms.max(s.age_ms);
    }
    sum
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Built {
    /// The load summary as log lines: one per source, then the total.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.summary.iter().map(ToString::to_string).collect();
        let (v4, v6) = self.set.segments();
        lines.push(format!(
            "{}; {} sources, {} prefixes, {} segments, {} KiB",
            total(&self.summary),
            self.summary.len(),
            self.set.prefixes(),
            v4 + v6,
            self.set.heap_bytes() / 1024
        ));
        lines
    }
}

/// Where an exclusion comes from, for counting and for `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Bogon(&'static str),
    Exclude,
    Home,
}

impl Why {
    /// "bogon range 10.0.0.0/8 (private, RFC 1918)", "[networks] home 192.0.2.0/24".
    fn describe(self, net: IpNet) -> String {
        match self {
            Why::Bogon(reason) => format!("the bogon range {net} ({reason})"),
            Why::Exclude => format!("[networks] exclude {net}"),
            Why::Home => format!("[networks] home {net}"),
        }
    }
}

/// Every excluded network with its reason, as the configuration gives them.
fn exclusions(networks: &Networks) -> Vec<(IpNet, Why)> {
    let mut out = Vec::new();
    if networks.exclude_bogons {
        for &(net, reason) in BOGONS {
            if let Ok(net) = net.parse::<IpNet>() {
                out.push((net, Why::Bogon(reason)));
            }
        }
    }
    out.extend(networks.exclude.iter().map(|&net| (net, Why::Exclude)));
    out.extend(networks.home.iter().map(|&net| (net, Why::Home)));
    out
}

/// An address range in one family, IPv4 held in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    v6: bool,
    first: u128,
    last: u128,
}

impl Span {
    fn of(net: IpNet) -> Span {
        match net {
            IpNet::V4(n) => Span {
                v6: false,
                first: u32::from(n.network()).into(),
                last: u32::from(n.broadcast()).into(),
            },
            IpNet::V6(n) => Span {
                v6: true,
                first: n.network().into(),
                last: n.broadcast().into(),
            },
        }
    }

    fn overlaps(&self, other: &Span) -> bool {
        self.v6 == other.v6 && self.first <= other.last && other.first <= self.last
    }
}

/// Disjoint, sorted spans: the union of some exclusions.
#[derive(Debug, Default)]
struct Carver {
    spans: Vec<Span>,
}

impl Carver {
    fn new(nets: impl Iterator<Item = IpNet>) -> Carver {
        let mut spans: Vec<Span> = nets.map(Span::of).collect();
        spans.sort();
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if last.v6 == span.v6 && span.first <= last.last.saturating_add(1) => {
                    last.last = last.last.max(span.last);
                }
                _ => merged.push(span),
            }
        }
        Carver { spans: merged }
    }

    /// Splits `span` into the parts outside every exclusion and the parts inside.
    fn carve(&self, span: Span, kept: &mut Vec<Span>, removed: &mut Vec<Span>) {
        let start = self
            .spans
            .partition_point(|s| (s.v6, s.last) < (span.v6, span.first));
        let mut next = span.first;
        let mut open = true;
        for cut in &self.spans[start..] {
            if cut.v6 != span.v6 || cut.first > span.last {
                break;
            }
            let (from, to) = (cut.first.max(span.first), cut.last.min(span.last));
            if from > next {
                kept.push(Span {
                    first: next,
                    last: from - 1,
                    ..span
                });
            }
            removed.push(Span {
                first: from,
                last: to,
                ..span
            });
            match to.checked_add(1) {
                Some(after) if to < span.last => next = after,
                _ => {
                    open = false;
                    break;
                }
            }
        }
        if open {
            kept.push(Span {
                first: next,
                ..span
            });
        }
    }
}

/// The build's exclusions in two stages: bogons and `exclude` first, then `home`, so that
/// only entries reaching a home network outside the other exclusions are warned about.
struct Exclusions {
    outer: Carver,
    home: Carver,
    home_nets: Vec<IpNet>,
}

impl Exclusions {
    fn new(networks: &Networks) -> Exclusions {
        let all = exclusions(networks);
        let outer = all.iter().filter(|(_, why)| *why != Why::Home);
        Exclusions {
            outer: Carver::new(outer.map(|&(net, _)| net)),
            home: Carver::new(networks.home.iter().copied()),
            home_nets: networks.home.clone(),
        }
    }
}

/// Builds the set from `sources` as of the system time.
pub fn build(sources: Vec<Source>, networks: &Networks) -> Built {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    build_at(sources, networks, now_ms)
}

/// Builds the set from `sources`; ages in the summary are relative to `now_ms`.
pub fn build_at(sources: Vec<Source>, networks: &Networks, now_ms: i64) -> Built {
    let exclusions = Exclusions::new(networks);
    let entries = sources.iter().map(|s| s.indicators.len()).sum();
    let text_bytes = sources
        .iter()
        .flat_map(|s| &s.indicators)
        .map(|i| i.entry.len())
        .sum();
    let mut builders = Builders {
        set: SetBuilder::with_capacity(entries, text_bytes),
        hidden: SetBuilder::new(),
        warnings: Vec::new(),
    };

    let mut summary = Vec::with_capacity(sources.len());
    for source in sources {
        summary.push(builders.add(source, &exclusions, now_ms));
    }
    Built {
        set: builders.set.finish(),
        summary,
        warnings: builders.warnings,
        hidden: builders.hidden.finish(),
    }
}

struct Builders {
    set: SetBuilder,
    hidden: SetBuilder,
    warnings: Vec<String>,
}

impl Builders {
    fn add(&mut self, source: Source, exclusions: &Exclusions, now_ms: i64) -> SourceSummary {
        let mut summary = SourceSummary {
            name: source.name.clone(),
            rejected: textlist::rejected_lines(&source.problems),
            data_time: source.data_time,
            age_ms: source.data_time.map(|t| now_ms.saturating_sub(t)),
            ..SourceSummary::default()
        };
        let ids = (
            self.set.add_source(&source.name, source.ref_url.as_deref()),
            self.hidden
                .add_source(&source.name, source.ref_url.as_deref()),
        );
        let (Some(id), Some(hidden_id)) = ids else {
            let message = format!("source {}: too many sources, left out", source.name);
            self.warnings.push(message);
            return summary;
        };

        let repeats = repeats(&source.indicators);
        summary.duplicates = repeats.iter().filter(|&&repeat| repeat).count();
        let mut home_hits = Vec::new();
        let mut pieces = Pieces::default();
        let unique = source.indicators.iter().zip(&repeats);
        for indicator in unique.filter(|(_, &repeat)| !repeat).map(|(i, _)| i) {
            pieces.cut(exclusions, canonical_net(indicator.net));
            let added = self.entry(id, indicator, &pieces.kept);
            self.hidden_entry(hidden_id, indicator, &pieces.removed);
            count(&mut summary, indicator, &pieces, added);
            if pieces.home {
                home_hits.push(indicator);
            }
        }
        self.warn_home(&source.name, &home_hits, &exclusions.home_nets);
        summary
    }

    /// Adds the kept parts of an entry to the set; false when the set had no room for it.
    fn entry(&mut self, source: SourceId, indicator: &Indicator, kept: &[Span]) -> bool {
        if kept.is_empty() {
            return true;
        }
        let Some(id) = add_entry(&mut self.set, source, indicator) else {
            return false;
        };
        cover(&mut self.set, id, kept);
        true
    }

    fn hidden_entry(&mut self, source: SourceId, indicator: &Indicator, removed: &[Span]) {
        if removed.is_empty() {
            return;
        }
        if let Some(id) = add_entry(&mut self.hidden, source, indicator) {
            cover(&mut self.hidden, id, removed);
        }
    }

    fn warn_home(&mut self, source: &str, hits: &[&Indicator], home: &[IpNet]) {
        for indicator in hits.iter().take(HOME_WARNINGS_PER_SOURCE) {
            let span = Span::of(canonical_net(indicator.net));
            let nets: Vec<String> = home
                .iter()
                .filter(|net| Span::of(**net).overlaps(&span))
                .map(ToString::to_string)
                .collect();
            let comment = match &*indicator.comment {
                "" => String::new(),
                comment => format!(" ({comment})"),
            };
            self.warnings.push(format!(
                "list {source}: entry {}{comment} overlaps home network {}",
                indicator.entry,
                nets.join(", ")
            ));
        }
        if hits.len() > HOME_WARNINGS_PER_SOURCE {
            let more = hits.len() - HOME_WARNINGS_PER_SOURCE;
            self.warnings.push(format!(
                "list {source}: {more} more entries cover home networks"
            ));
        }
    }
}

fn add_entry(builder: &mut SetBuilder, source: SourceId, i: &Indicator) -> Option<EntryId> {
    builder.add_entry(source, &i.entry, &i.comment, i.url.as_deref())
}

fn cover(builder: &mut SetBuilder, id: EntryId, spans: &[Span]) {
    for span in spans {
        if span.v6 {
            builder.cover_v6(id, span.first, span.last);
        } else {
            // IPv4 spans come from u32 values, so they fit.
            let (first, last) = (span.first as u32, span.last as u32);
            builder.cover_v4(id, first, last);
        }
    }
}

fn count(summary: &mut SourceSummary, indicator: &Indicator, pieces: &Pieces, added: bool) {
    if pieces.kept.is_empty() {
        summary.excluded += 1;
        return;
    }
    if !added {
        return;
    }
    summary.entries += 1;
    if !pieces.removed.is_empty() {
        summary.carved += 1;
    }
    match canonical_net(indicator.net) {
        IpNet::V4(_) => summary.ipv4 += 1,
        IpNet::V6(_) => summary.ipv6 += 1,
    }
}

/// One entry cut by the exclusions, buffers reused from entry to entry.
#[derive(Debug, Default)]
struct Pieces {
    outside: Vec<Span>,
    kept: Vec<Span>,
    removed: Vec<Span>,
    /// Whether a part outside bogons and `exclude` reached a home network.
    home: bool,
}

impl Pieces {
    fn cut(&mut self, exclusions: &Exclusions, net: IpNet) {
        self.outside.clear();
        self.kept.clear();
        self.removed.clear();
        exclusions
            .outer
            .carve(Span::of(net), &mut self.outside, &mut self.removed);
        let removed_before_home = self.removed.len();
        for &span in &self.outside {
            exclusions
                .home
                .carve(span, &mut self.kept, &mut self.removed);
        }
        self.home = self.removed.len() > removed_before_home;
        self.removed.sort();
    }
}

/// Which entries repeat another exactly (network, text, comment and url), so are left out.
/// Entries are taken in the order the source gave them: that is the order they sit in
/// memory, and reading a million boxed strings in sorted order cost more than the sort.
/// Only indices are sorted here, never the entries.
fn repeats(indicators: &[Indicator]) -> Vec<bool> {
    let mut keys: Vec<(NetKey, u32)> = indicators
        .iter()
        .zip(0u32..)
        .map(|(indicator, at)| (NetKey::of(indicator.net), at))
        .collect();
    keys.sort_unstable_by_key(|&(key, _)| key);

    let full = |at: u32| {
        let i = &indicators[at as usize];
        (&i.entry, &i.comment, &i.url)
    };
    let mut repeats = vec![false; indicators.len()];
    for same_net in keys
        .chunk_by_mut(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        same_net.sort_unstable_by(|a, b| full(a.1).cmp(&full(b.1)));
        for pair in same_net.windows(2) {
            repeats[pair[1].1 as usize] = full(pair[0].1) == full(pair[1].1);
        }
    }
    repeats
}

/// A network as a key that sorts as `IpNet` does: family, address, prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NetKey {
    v6: bool,
    addr: u128,
    len: u8,
}

impl NetKey {
    fn of(net: IpNet) -> NetKey {
        match net {
            IpNet::V4(n) => NetKey {
                v6: false,
                addr: u32::from(n.addr()).into(),
                len: n.prefix_len(),
            },
            IpNet::V6(n) => NetKey {
                v6: true,
                addr: n.addr().into(),
                len: n.prefix_len(),
            },
        }
    }
}

/// An IPv4-mapped IPv6 prefix as the IPv4 prefix it is; flows are looked up that way.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let Some(v4) = v6.network().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                if let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                    return IpNet::V4(mapped);
                }
            }
        }
    }
    net
}

/// What `flowalert lookup ADDR` prints: the entries that list the address, or "not listed",
/// and every exclusion that hides it with the entries it hides.
pub fn explain(config: &Config, built: &Built, addr: IpAddr) -> String {
    let addr = crate::flow::canonical(addr);
    let mut out = String::new();
    let mut listings = Vec::new();
    built.set.listings(addr, &mut listings);
    if listings.is_empty() {
        out.push_str(&format!("{addr}: not listed\n"));
    }
    for listing in &listings {
        out.push_str(&format!("{addr}: listed {}\n", describe(listing)));
    }

    let addr_span = Span::of(IpNet::from(addr));
    for (net, why) in exclusions(&config.networks) {
        if Span::of(net).overlaps(&addr_span) {
            out.push_str(&format!("{addr}: excluded by {}\n", why.describe(net)));
        }
    }
    let mut hidden = Vec::new();
    built.hidden.listings(addr, &mut hidden);
    for listing in &hidden {
        out.push_str(&format!("{addr}: hidden {}\n", describe(listing)));
    }
    out
}

fn describe(listing: &Listing<'_>) -> String {
    let mut text = format!("by {} entry {}", listing.source, listing.entry);
    if !listing.comment.is_empty() {
        text.push_str(&format!(" comment {:?}", listing.comment));
    }
    if let Some(url) = listing.url {
        text.push_str(&format!(" url {url}"));
    }
    text
}

/// Reads every configured list (globs expanded) and, when enabled, the OTX cache. `Err`
/// means the build must not replace the current set: a list could not be read or is not a
/// list at all (an error page saved under its name). Warnings do not stop the build.
pub fn load_sources(config: &Config, now_ms: i64) -> Result<(Vec<Source>, Vec<String>), String> {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    for list in &config.lists {
        for (name, path) in list_files(list, &mut warnings)? {
            if sources.iter().any(|s: &Source| s.name == name) {
                warnings.push(format!(
                    "{}: list name {name} already used, left out",
                    path.display()
                ));
                continue;
            }
            if let Some(source) = read_list(list, &name, &path, &mut warnings)? {
                sources.push(source);
            }
        }
    }
    if config.otx.enabled {
        sources.extend(read_otx(config, now_ms, &mut warnings)?);
    }
    Ok((sources, warnings))
}

/// The (name, file) pairs a `[[list]]` stands for: itself, or each file its glob matches.
fn list_files(list: &List, warnings: &mut Vec<String>) -> Result<Vec<(String, PathBuf)>, String> {
    if !list.path.contains(['*', '?', '[']) {
        return Ok(vec![(list.name.clone(), PathBuf::from(&list.path))]);
    }
    let paths = glob::glob(&list.path).map_err(|err| format!("{}: {err}", list.path))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|err| format!("{}: {err}", list.path))?;
        // A Suricata categories file belongs to the reputation list beside it.
        if !path.is_file() || is_categories_file(&path) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if crate::config::valid_list_name(stem) {
            files.push((stem.to_owned(), path));
        } else {
            let why = "its name is not a list name ([a-z0-9._-]{1,32}), left out";
            warnings.push(format!("{}: {why}", path.display()));
        }
    }
    if files.is_empty() {
        warnings.push(format!("list {}: {} matches no file", list.name, list.path));
    }
    files.sort();
    Ok(files)
}

fn is_categories_file(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.ends_with("categories")
}

/// Reads one list file. A missing file that `update` will download is a warning; any other
/// read error, and a non-empty file that yields no entry, is an error.
fn read_list(
    list: &List,
    name: &str,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<Source>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && list.url.is_some() => {
            let why = "not downloaded yet (run flowalert update)";
            warnings.push(format!("list {name}: {}: {why}", path.display()));
            return Ok(None);
        }
        Err(err) => return Err(format!("list {name}: {}: {err}", path.display())),
    };
    let data_time = file
        .metadata()
        .ok()
        .and_then(|m| m.modified().ok())
        .map(unix_ms);

    let format = Format::from_name(&list.format).unwrap_or(Format::Auto);
    let options = list_options(list, path, warnings);
    let parsed = textlist::parse(BufReader::new(file), format, &options)
        .map_err(|err| format!("list {name}: {}: {err}", path.display()))?;
    if parsed.indicators.is_empty() {
        if let Some(first) = parsed.problems.first() {
            return Err(format!(
                "list {name}: {}: not a list: no entries, line {} {}",
                path.display(),
                first.line,
                first.reason
            ));
        }
    }
    Ok(Some(Source {
        name: name.to_owned(),
        ref_url: list.ref_url.clone(),
        indicators: parsed.indicators,
        problems: parsed.problems,
        data_time,
    }))
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The suricata-iprep settings, with category names read from the categories file beside
/// the list: `<stem with "reputation" turned into "categories">.txt`, else `categories.txt`.
fn list_options(list: &List, path: &Path, warnings: &mut Vec<String>) -> Options {
    let mut options = Options {
        categories: list.categories.clone(),
        min_score: list.min_score,
        ..Options::default()
    };
    if list.format != "suricata-iprep" && list.categories.is_empty() {
        return options;
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let candidates = [
        path.with_file_name(format!("{}.txt", stem.replace("reputation", "categories"))),
        path.with_file_name("categories.txt"),
    ];
    let found = candidates
        .iter()
        .find(|c| c.as_path() != path && c.is_file());
    match found.map(|c| File::open(c).map(BufReader::new)) {
        Some(Ok(file)) => match textlist::parse_categories(file) {
            Ok(names) => options.category_names = names,
            Err(err) => warnings.push(format!("list {}: categories file: {err}", list.name)),
        },
        Some(Err(err)) => warnings.push(format!("list {}: categories file: {err}", list.name)),
        None if !list.categories.is_empty() => warnings.push(format!(
            "list {}: no categories file beside {}; categories match ids only",
            list.name,
            path.display()
        )),
        None => {}
    }
    options
}

/// The OTX cache, when `flowalert update` has written one.
fn read_otx(
    config: &Config,
    now_ms: i64,
    warnings: &mut Vec<String>,
) -> Result<Option<Source>, String> {
    let path = config.state.dir.join("otx-cache.json");
    if !path.exists() {
        let why = "no OTX cache yet (run flowalert update)";
        warnings.push(format!("otx: {}: {why}", path.display()));
        return Ok(None);
    }
    let max_age_ms = i64::try_from(config.otx.max_age.as_millis()).unwrap_or(i64::MAX);
    super::otx::load_cache(&path, now_ms, max_age_ms).map(Some)
}

#[cfg(test)]
mod tests;
