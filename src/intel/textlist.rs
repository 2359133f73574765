//! Text blocklists in the formats operators have, read line by line from any `BufRead`.
//!
//! Invariant: no input makes a parser panic or hold more than `MAX_LINE` bytes of one line;
//! every line that is not used and not a comment is reported with its number, up to
//! `MAX_PROBLEMS` one by one and then as one count. Parsing never stops at a bad line.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};

use super::{Indicator, LineProblem};

/// Longest line kept; the rest of a longer line is skipped and the line reported.
pub const MAX_LINE: usize = 8192;

/// Problems listed one by one; further bad lines are counted in one last problem.
pub const MAX_PROBLEMS: usize = 1000;

/// How the last problem says how many more bad lines were not listed.
const MORE_SUFFIX: &str = " more bad lines not listed one by one";

/// Lines `auto` looks at to decide the format.
const SAMPLE_LINES: usize = 64;

/// The list formats `[[list]] format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    Plain,
    Spamhaus,
    SpamhausJson,
    Dshield,
    Firehol,
    FeodoCsv,
    TorExit,
    ZeekIntel,
    SuricataIprep,
}

const NAMES: &[(Format, &str)] = &[
    (Format::Auto, "auto"),
    (Format::Plain, "plain"),
    (Format::Spamhaus, "spamhaus"),
    (Format::SpamhausJson, "spamhaus-json"),
    (Format::Dshield, "dshield"),
    (Format::Firehol, "firehol"),
    (Format::FeodoCsv, "feodo-csv"),
    (Format::TorExit, "tor-exit"),
    (Format::ZeekIntel, "zeek-intel"),
    (Format::SuricataIprep, "suricata-iprep"),
];

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        NAMES.iter().find(|(_, n)| *n == name).map(|&(f, _)| f)
    }

    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("auto", |&(_, n)| n)
    }
}

/// Settings only some formats use.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// suricata-iprep: category ids or names to keep; empty keeps all.
    pub categories: Vec<String>,
    /// suricata-iprep: lowest score kept.
    pub min_score: Option<u8>,
    /// suricata-iprep: category id -> short name, from the categories file.
    pub category_names: HashMap<u32, String>,
}

/// What a parser made of one list.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The format used (what `auto` decided).
    pub format: Format,
    pub indicators: Vec<Indicator>,
    pub problems: Vec<LineProblem>,
    /// Well-formed rows left out on purpose (other Zeek types, a score below min-score).
    pub skipped: usize,
    pub lines: usize,
    unlisted: usize,
    last_unlisted: usize,
}

impl Parsed {
    fn new(format: Format) -> Parsed {
        Parsed {
            format,
            indicators: Vec::new(),
            problems: Vec::new(),
            skipped: 0,
            lines: 0,
            unlisted: 0,
            last_unlisted: 0,
        }
    }

    fn problem(&mut self, line: usize, reason: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(LineProblem { line, reason });
        } else {
            self.unlisted += 1;
            self.last_unlisted = line;
        }
    }

    /// Adds the one problem that stands for the lines not listed one by one.
    fn finish(&mut self) {
        if self.unlisted > 0 {
            let reason = format!(
                "{}{MORE_SUFFIX} (the last at line {})",
                self.unlisted, self.last_unlisted
            );
            let line = self.last_unlisted;
            self.problems.push(LineProblem { line, reason });
        }
    }

    fn push(&mut self, net: IpNet, entry: &str, comment: &str, url: Option<&str>) {
        self.indicators.push(Indicator {
            net,
            entry: entry.into(),
            comment: comment.into(),
            url: url.map(Into::into),
        });
    }
}

/// How many lines `problems` stands for, counting the lines the last one summarises.
pub fn rejected_lines(problems: &[LineProblem]) -> usize {
    let summarised = problems.get(MAX_PROBLEMS).and_then(|last| {
        let (count, rest) = last.reason.split_once(' ')?;
        rest.starts_with(MORE_SUFFIX.trim_start())
            .then(|| count.parse::<usize>().ok())?
    });
    match summarised {
        Some(more) => MAX_PROBLEMS + more,
        None => problems.len(),
    }
}

/// Reads a whole list. Only an I/O error stops it; bad lines become problems.
pub fn parse<R: BufRead>(reader: R, format: Format, options: &Options) -> io::Result<Parsed> {
    let mut lines = Lines::new(reader);
    let mut sample = Vec::new();
    if format == Format::Auto {
        while sample.len() < SAMPLE_LINES {
            match lines.next_line()? {
                Some(line) => sample.push(line),
                None => break,
            }
        }
    }
    let format = match format {
        Format::Auto => detect(sample.iter().filter_map(|line| line.text.as_deref())),
        other => other,
    };

    let mut parser = Parser::new(format, options);
    let mut parsed = Parsed::new(format);
    for line in sample {
        parser.feed(&line, &mut parsed);
    }
    while let Some(line) = lines.next_line()? {
        parser.feed(&line, &mut parsed);
    }
    parsed.lines = lines.number;
    parsed.finish();
    Ok(parsed)
}

/// Reads a Suricata categories file: `id,short name,description` per line.
pub fn parse_categories<R: BufRead>(reader: R) -> io::Result<HashMap<u32, String>> {
    let mut lines = Lines::new(reader);
    let mut names = HashMap::new();
    while let Some(line) = lines.next_line()? {
        let Some(text) = line.text.as_deref() else {
            continue;
        };
        let mut fields = text.split(',');
        let id = fields.next().and_then(|id| id.trim().parse::<u32>().ok());
        if let (Some(id), Some(name)) = (id, fields.next()) {
            names.insert(id, name.trim().to_owned());
        }
    }
    Ok(names)
}

/// One line as read: `None` text when it was longer than `MAX_LINE`.
struct Line {
    number: usize,
    text: Option<String>,
}

/// Splits a reader into lines of at most `MAX_LINE` bytes, CR LF or LF ended, invalid UTF-8
/// replaced.
struct Lines<R> {
    reader: R,
    number: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            number: 0,
            buf: Vec::new(),
        }
    }

    fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        let mut overlong = false;
        let mut seen = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if chunk.is_empty() {
                break;
            }
            seen = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let content = &chunk[..newline.unwrap_or(chunk.len())];
            let room = MAX_LINE + 1 - self.buf.len().min(MAX_LINE + 1);
            overlong |= content.len() > room;
            self.buf
                .extend_from_slice(&content[..content.len().min(room)]);
            let used = newline.map_or(chunk.len(), |at| at + 1);
            self.reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        if !seen {
            return Ok(None);
        }

        self.number += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let text = (!overlong && self.buf.len() <= MAX_LINE)
            .then(|| String::from_utf8_lossy(&self.buf).into_owned());
        Ok(Some(Line {
            number: self.number,
            text,
        }))
    }
}

/// Guesses the format from the first lines.
fn detect<'a>(sample: impl Iterator<Item = &'a str> + Clone) -> Format {
    let lines = sample.clone().map(str::trim);
    let data = || {
        sample
            .clone()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !is_comment(l))
    };
    let any = |pred: &dyn Fn(&str) -> bool| lines.clone().any(pred);

    if any(&|l| l.starts_with("#fields") && l.contains("indicator")) {
        return Format::ZeekIntel;
    }
    if any(&|l| l.starts_with("ExitNode ") || l.starts_with("ExitAddress ")) {
        return Format::TorExit;
    }
    match data().next() {
        Some(first) if first.starts_with('{') => return Format::SpamhausJson,
        Some(first) if first.starts_with('"') => return Format::FeodoCsv,
        _ => {}
    }
    if any(&|l| l.starts_with("Start\tEnd")) || data().any(is_dshield_row) {
        return Format::Dshield;
    }
    if any(&|l| l.starts_with(';') && l.contains("Spamhaus")) {
        return Format::Spamhaus;
    }
    if data().any(is_iprep_row) {
        return Format::SuricataIprep;
    }
    if any(&|l| l.starts_with('#') && l.contains(" hash:") && l.contains("ipset")) {
        return Format::Firehol;
    }
    Format::Plain
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#') || line.starts_with(';') || line.starts_with("//")
}

fn is_dshield_row(line: &str) -> bool {
    let mut fields = line.split('\t');
    let mut address = || fields.next().is_some_and(|f| f.parse::<IpAddr>().is_ok());
    address() && address()
}

fn is_iprep_row(line: &str) -> bool {
    let fields: Vec<&str> = line.split(',').collect();
    fields.len() == 3
        && parse_net(fields[0]).is_some()
        && fields[1].trim().parse::<u32>().is_ok()
        && fields[2].trim().parse::<u32>().is_ok()
}

/// A parser with the state its format needs across lines.
struct Parser<'o> {
    format: Format,
    options: &'o Options,
    /// tor-exit: the fingerprint of the ExitNode being read.
    exit_node: String,
    /// zeek-intel: column positions from `#fields`, and the separator.
    zeek: ZeekColumns,
}

#[derive(Debug, Clone)]
struct ZeekColumns {
    separator: char,
    indicator: usize,
    kind: usize,
    source: Option<usize>,
    url: Option<usize>,
}

impl Default for ZeekColumns {
    /// The layout Zeek's own examples use, for a file without `#fields`.
    fn default() -> ZeekColumns {
        ZeekColumns {
            separator: '\t',
            indicator: 0,
            kind: 1,
            source: Some(2),
            url: None,
        }
    }
}

impl<'o> Parser<'o> {
    fn new(format: Format, options: &'o Options) -> Parser<'o> {
        Parser {
            format,
            options,
            exit_node: String::new(),
            zeek: ZeekColumns::default(),
        }
    }

    fn feed(&mut self, line: &Line, out: &mut Parsed) {
        let Some(text) = line.text.as_deref() else {
            out.problem(line.number, format!("line longer than {MAX_LINE} bytes"));
            return;
        };
        let result = match self.format {
            Format::Auto | Format::Plain | Format::Spamhaus | Format::Firehol => plain(text, out),
            Format::SpamhausJson => spamhaus_json(text, out),
            Format::Dshield => dshield(text, out),
            Format::FeodoCsv => feodo_csv(text, out),
            Format::TorExit => self.tor_exit(text, out),
            Format::ZeekIntel => self.zeek_intel(text, out),
            Format::SuricataIprep => self.suricata_iprep(text, out),
        };
        if let Err(reason) = result {
            out.problem(line.number, reason);
        }
    }

    fn tor_exit(&mut self, text: &str, out: &mut Parsed) -> Result<(), String> {
        let mut words = text.split_whitespace();
        match words.next() {
            None => Ok(()),
            Some("ExitNode") => {
                self.exit_node = words.next().unwrap_or("").chars().take(64).collect();
                Ok(())
            }
            Some("Published" | "LastStatus") => Ok(()),
            Some("ExitAddress") => {
                let address = words.next().unwrap_or("");
                let net = parse_net(address).ok_or_else(|| not_address(address))?;
                let comment = format!("Tor exit {}", self.exit_node);
                out.push(net, address, comment.trim_end(), None);
                Ok(())
            }
            Some(_) => Err(format!("not an exit list line: {}", quoted(text))),
        }
    }

    fn zeek_intel(&mut self, text: &str, out: &mut Parsed) -> Result<(), String> {
        if let Some(sep) = text.strip_prefix("#separator") {
            self.zeek.separator = zeek_separator(sep.trim()).ok_or("unknown #separator")?;
            return Ok(());
        }
        if let Some(fields) = text.strip_prefix("#fields") {
            self.zeek = zeek_columns(fields, self.zeek.separator)?;
            return Ok(());
        }
        if text.starts_with('#') || text.trim().is_empty() {
            return Ok(());
        }

        let fields: Vec<&str> = text.split(self.zeek.separator).collect();
        let field = |at: Option<usize>| {
            at.and_then(|at| fields.get(at))
                .map(|f| f.trim())
                .filter(|f| !matches!(*f, "" | "-" | "(empty)"))
        };
        let indicator = field(Some(self.zeek.indicator)).ok_or("no indicator")?;
        let kind = field(Some(self.zeek.kind)).ok_or("no indicator_type")?;
        let net = match kind {
            "Intel::ADDR" => indicator.parse::<IpAddr>().ok().map(IpNet::from),
            "Intel::SUBNET" => indicator.parse::<IpNet>().ok().map(|net| net.trunc()),
            _ => {
                out.skipped += 1;
                return Ok(());
            }
        };
        let net = net.ok_or_else(|| format!("{kind} {}", not_address(indicator)))?;
        let comment = field(self.zeek.source).unwrap_or("");
        out.push(net, indicator, comment, field(self.zeek.url));
        Ok(())
    }

    fn suricata_iprep(&mut self, text: &str, out: &mut Parsed) -> Result<(), String> {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(());
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let [address, category, score] = fields[..] else {
            return Err(format!("not address,category,score: {}", quoted(text)));
        };
        let net = parse_net(address).ok_or_else(|| not_address(address))?;
        let category: u32 = category
            .parse()
            .map_err(|_| format!("category {} is not a number", quoted(category)))?;
        let score: u8 = score
            .parse()
            .map_err(|_| format!("score {} is not 0-255", quoted(score)))?;

        let name = self.options.category_names.get(&category);
        if !self.keeps(category, name, score) {
            out.skipped += 1;
            return Ok(());
        }
        let comment = match name {
            Some(name) => format!("{name} score {score}"),
            None => format!("category {category} score {score}"),
        };
        out.push(net, address, &comment, None);
        Ok(())
    }

    fn keeps(&self, category: u32, name: Option<&String>, score: u8) -> bool {
        let wanted = self.options.categories.is_empty()
            || self.options.categories.iter().any(|want| {
                want.parse::<u32>().ok() == Some(category)
                    || name.is_some_and(|name| name.eq_ignore_ascii_case(want))
            });
        wanted && self.options.min_score.map_or(true, |min| score >= min)
    }
}

fn zeek_separator(text: &str) -> Option<char> {
    match text.strip_prefix("\\x") {
        Some(hex) => u8::from_str_radix(hex, 16).ok().map(char::from),
        None => text.chars().next(),
    }
}

fn zeek_columns(fields: &str, separator: char) -> Result<ZeekColumns, String> {
    let names: Vec<&str> = fields
        .split(separator)
        .flat_map(str::split_whitespace)
        .collect();
    let at = |name: &str| names.iter().position(|n| *n == name);
    Ok(ZeekColumns {
        separator,
        indicator: at("indicator").ok_or("#fields has no indicator")?,
        kind: at("indicator_type").ok_or("#fields has no indicator_type")?,
        source: at("meta.source"),
        url: at("meta.url"),
    })
}

/// IPs, CIDRs and `a-b` ranges, one a line, with `#`, `;` or `//` comments; text after the
/// address (or after a comment marker) is kept as the entry's comment.
fn plain(text: &str, out: &mut Parsed) -> Result<(), String> {
    let text = text.trim();
    let (body, comment) = split_comment(text);
    let body = body.trim();
    if body.is_empty() {
        return Ok(());
    }

    let words: Vec<&str> = body.split_whitespace().collect();
    let range = match words[..] {
        [first, "-", last, ..] => Some((first, last)),
        [word, ..] => word.split_once('-'),
        [] => None,
    };
    if let Some((first, last)) = range {
        let entry = format!("{first}-{last}");
        for net in parse_range(first, last).ok_or_else(|| not_address(&entry))? {
            out.push(net, &entry, comment, None);
        }
        return Ok(());
    }
    let address = words.first().copied().unwrap_or("");
    let net = parse_net(address).ok_or_else(|| not_address(address))?;
    let rest = words.get(1..).unwrap_or(&[]).join(" ");
    let comment = if comment.is_empty() { &rest } else { comment };
    out.push(net, address, comment, None);
    Ok(())
}

/// The text before the first comment marker, and the comment after it (trimmed).
fn split_comment(text: &str) -> (&str, &str) {
    let at = [text.find('#'), text.find(';'), text.find("//")]
        .into_iter()
        .flatten()
        .min();
    match at {
        Some(at) => {
            let comment = text[at..].trim_start_matches(['#', ';', '/']).trim();
            (&text[..at], comment)
        }
        None => (text, ""),
    }
}

/// Spamhaus DROP as JSON lines: `{"cidr":..,"sblid":..}` records and a metadata trailer.
fn spamhaus_json(text: &str, out: &mut Parsed) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    if field("type") == Some("metadata") {
        return Ok(());
    }
    if let Some(cidr) = field("cidr") {
        let net = parse_net(cidr).ok_or_else(|| not_address(cidr))?;
        out.push(net, cidr, field("sblid").unwrap_or(""), None);
        return Ok(());
    }
    match value.get("asn") {
        Some(asn) => Err(format!("an ASN record (AS{asn}) names no prefix")),
        None => Err("a JSON record with no cidr".into()),
    }
}

/// DShield block.txt: start, end, prefix length, attacks, name, country, email; tab apart.
fn dshield(text: &str, out: &mut Parsed) -> Result<(), String> {
    if text.trim().is_empty() || text.starts_with('#') || text.starts_with("Start\t") {
        return Ok(());
    }
    let fields: Vec<&str> = text.split('\t').map(str::trim).collect();
    let (first, last) = match fields[..] {
        [first, last, ..] => (first, last),
        _ => return Err(format!("not a block.txt row: {}", quoted(text))),
    };
    let nets = parse_range(first, last).ok_or_else(|| not_address(&format!("{first}-{last}")))?;

    let get = |at: usize| fields.get(at).copied().unwrap_or("");
    let entry = match nets[..] {
        [net] => net.to_string(),
        _ => format!("{first}-{last}"),
    };
    let attacks = (!get(3).is_empty()).then(|| format!("{} attacks", get(3)));
    let parts = [Some(get(4)), Some(get(5)), attacks.as_deref()];
    let comment: Vec<&str> = parts
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    for net in nets {
        out.push(net, &entry, &comment.join(", "), None);
    }
    Ok(())
}

/// abuse.ch Feodo Tracker CSV: quoted first_seen_utc, dst_ip, dst_port, c2_status,
/// last_online, malware.
fn feodo_csv(text: &str, out: &mut Parsed) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(());
    }
    let fields: Vec<&str> = text
        .split(',')
        .map(|f| f.trim().trim_matches('"'))
        .collect();
    let Some(&address) = fields.get(1) else {
        return Err(format!("not a Feodo CSV row: {}", quoted(text)));
    };
    if address == "dst_ip" {
        return Ok(());
    }
    let net = parse_net(address).ok_or_else(|| not_address(address))?;
    let malware = fields.get(5).copied().unwrap_or("");
    let comment = match fields.get(2) {
        Some(port) if !port.is_empty() => format!("{malware} C2 port {port}"),
        _ => malware.to_owned(),
    };
    out.push(net, address, comment.trim(), None);
    Ok(())
}

/// An address or a prefix (host bits cleared).
pub fn parse_net(text: &str) -> Option<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// The prefixes that exactly cover `first..=last` (same family, in order).
fn parse_range(first: &str, last: &str) -> Option<Vec<IpNet>> {
    match (first.parse::<IpAddr>().ok()?, last.parse::<IpAddr>().ok()?) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            Some(Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            Some(Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect())
        }
        _ => None,
    }
}

fn not_address(text: &str) -> String {
    format!("not an address, prefix or range: {}", quoted(text))
}

/// At most 40 characters of `text`, quoted and escaped, for a problem message.
fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests;
