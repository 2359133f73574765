//! The shipped Wazuh and OSSEC decoders and rules, applied to golden records.
//!
//! The XML files are read as shipped; their OS_Regex and OS_Match patterns are translated
//! mechanically into `regex` patterns (per the OSSEC regex syntax: `\d \w \s \S \p \W \D \.`,
//! `+ *` after a class, `^ $ | ( )`, everything else literal, case-insensitive), and run the
//! way analysisd runs them: the pre-decoder splits the syslog header, the first parent that
//! matches (program name and/or prematch) wins, then its first child whose prematch matches,
//! then that child's regex fills the fields named in `order`. Rules are selected from the
//! roots down through `if_sid`. The translation is exact only for patterns whose quantified
//! classes are followed by a character the class cannot match (OS_Regex is lazy, `regex` is
//! greedy); the shipped files keep to that, and `quantifiers_are_unambiguous` checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use regex::Regex;

// ---------------------------------------------------------------------------------------
// Golden records. The lead will add records the binary emits; each needs its file-form line,
// its syslog severity and the decoded fields (Wazuh names; OSSEC names are mapped from them).

struct Golden {
    line: &'static str,
    severity: u8,
    fields: &'static [(&'static str, &'static str)],
    rule: u32,
    level: u32,
}

fn golden_records() -> Vec<Golden> {
    vec![
        Golden {
            line: "2026-12-03T19:47:09.517513+00:00 fwcol flowalert[4711]: hit src=203.0.113.9 \
                   sport=44444 dst=192.0.2.10 dport=22 proto=TCP dir=in match=src \
                   listed=203.0.113.9 lists=drop refs=- start=2026-12-03T19:46:40.120Z \
                   exporter=192.0.2.241 sampling=1 packets=3 bytes=180 names=\"SBL900001\"",
            severity: 5,
            fields: &[
                ("srcip", "203.0.113.9"),
                ("srcport", "44444"),
                ("dstip", "192.0.2.10"),
                ("dstport", "22"),
                ("protocol", "TCP"),
                ("flowalert.dir", "in"),
                ("flowalert.match", "src"),
                ("flowalert.listed", "203.0.113.9"),
                ("flowalert.lists", "drop"),
                ("flowalert.refs", "-"),
                ("flowalert.start", "2026-12-03T19:46:40.120Z"),
                ("flowalert.exporter", "192.0.2.241"),
                ("flowalert.sampling", "1"),
                ("flowalert.packets", "3"),
                ("flowalert.bytes", "180"),
                ("flowalert.names", "\"SBL900001\""),
            ],
            rule: 100101,
            level: 6,
        },
        Golden {
            line: "2026-12-03T19:47:09.517601+00:00 fwcol flowalert[4711]: hit \
                   src=2001:db8:1::12 sport=0 dst=2001:db8:bad::5 dport=0 proto=IPV6-ICMP \
                   dir=out match=dst listed=2001:db8:bad::5 lists=otx,drop \
                   refs=https://otx.alienvault.com/pulse/64e38336d783f91d6948a7b1 \
                   start=2026-12-03T19:46:58.002Z exporter=2001:db8::1 sampling=1000 packets=1 \
                   bytes=64 names=\"Example \\\"quoted\\\" pulse | SBL900002\"",
            severity: 4,
            fields: &[
                ("srcip", "2001:db8:1::12"),
                ("srcport", "0"),
                ("dstip", "2001:db8:bad::5"),
                ("dstport", "0"),
                ("protocol", "IPV6-ICMP"),
                ("flowalert.dir", "out"),
                ("flowalert.match", "dst"),
                ("flowalert.listed", "2001:db8:bad::5"),
                ("flowalert.lists", "otx,drop"),
                (
                    "flowalert.refs",
                    "https://otx.alienvault.com/pulse/64e38336d783f91d6948a7b1",
                ),
                ("flowalert.start", "2026-12-03T19:46:58.002Z"),
                ("flowalert.exporter", "2001:db8::1"),
                ("flowalert.sampling", "1000"),
                ("flowalert.packets", "1"),
                ("flowalert.bytes", "64"),
                (
                    "flowalert.names",
                    "\"Example \\\"quoted\\\" pulse | SBL900002\"",
                ),
            ],
            rule: 100102,
            level: 10,
        },
        // Backslash, quotes and a non-ASCII character (written as `?`), cut names and refs.
        Golden {
            line: "2026-12-03T19:50:00.000001+00:00 fwcol flowalert[4711]: hit \
                   src=198.51.100.23 sport=53 dst=192.0.2.77 dport=53000 proto=UDP dir=unknown \
                   match=src listed=198.51.100.23 lists=firehol_level1,feodo \
                   refs=https://a.example/1,https://a.example/2,https://a.example/3,+2 \
                   start=2026-12-03T19:49:59.900Z exporter=192.0.2.241 sampling=1 packets=2 \
                   bytes=152 names=\"C:\\\\drop \\\"x\\\" caf? | SBL900003 (+2 more)\"",
            severity: 5,
            fields: &[
                ("srcip", "198.51.100.23"),
                ("srcport", "53"),
                ("dstip", "192.0.2.77"),
                ("dstport", "53000"),
                ("protocol", "UDP"),
                ("flowalert.dir", "unknown"),
                ("flowalert.match", "src"),
                ("flowalert.listed", "198.51.100.23"),
                ("flowalert.lists", "firehol_level1,feodo"),
                (
                    "flowalert.refs",
                    "https://a.example/1,https://a.example/2,https://a.example/3,+2",
                ),
                ("flowalert.start", "2026-12-03T19:49:59.900Z"),
                ("flowalert.exporter", "192.0.2.241"),
                ("flowalert.sampling", "1"),
                ("flowalert.packets", "2"),
                ("flowalert.bytes", "152"),
                (
                    "flowalert.names",
                    "\"C:\\\\drop \\\"x\\\" caf? | SBL900003 (+2 more)\"",
                ),
            ],
            rule: 100103,
            level: 5,
        },
        Golden {
            line: "2026-12-03T19:51:00.250000+00:00 fwcol flowalert[4711]: hit src=192.0.2.10 \
                   sport=51515 dst=203.0.113.66 dport=443 proto=TCP dir=out match=dst \
                   listed=203.0.113.66 lists=drop refs=https://www.spamhaus.org/drop/ \
                   start=2026-12-03T19:50:59.001Z exporter=192.0.2.241 sampling=1 packets=12 \
                   bytes=4410 names=\"SBL900004\"",
            severity: 4,
            fields: &[
                ("srcip", "192.0.2.10"),
                ("srcport", "51515"),
                ("dstip", "203.0.113.66"),
                ("dstport", "443"),
                ("protocol", "TCP"),
                ("flowalert.dir", "out"),
                ("flowalert.match", "dst"),
                ("flowalert.listed", "203.0.113.66"),
                ("flowalert.lists", "drop"),
                ("flowalert.refs", "https://www.spamhaus.org/drop/"),
                ("flowalert.start", "2026-12-03T19:50:59.001Z"),
                ("flowalert.exporter", "192.0.2.241"),
                ("flowalert.sampling", "1"),
                ("flowalert.packets", "12"),
                ("flowalert.bytes", "4410"),
                ("flowalert.names", "\"SBL900004\""),
            ],
            rule: 100102,
            level: 10,
        },
        Golden {
            line: "2026-12-03T19:52:00.000000+00:00 fwcol flowalert[4711]: hit \
                   src=2001:db8:bad::9 sport=40000 dst=2001:db8:1::80 dport=80 proto=TCP dir=in \
                   match=src listed=2001:db8:bad::/48 lists=otx refs=- \
                   start=2026-12-03T19:51:58.000Z exporter=2001:db8::1 sampling=1 packets=1 \
                   bytes=60 names=\"\"",
            severity: 5,
            fields: &[
                ("srcip", "2001:db8:bad::9"),
                ("srcport", "40000"),
                ("dstip", "2001:db8:1::80"),
                ("dstport", "80"),
                ("protocol", "TCP"),
                ("flowalert.dir", "in"),
                ("flowalert.match", "src"),
                ("flowalert.listed", "2001:db8:bad::/48"),
                ("flowalert.lists", "otx"),
                ("flowalert.refs", "-"),
                ("flowalert.start", "2026-12-03T19:51:58.000Z"),
                ("flowalert.exporter", "2001:db8::1"),
                ("flowalert.sampling", "1"),
                ("flowalert.packets", "1"),
                ("flowalert.bytes", "60"),
                ("flowalert.names", "\"\""),
            ],
            rule: 100101,
            level: 6,
        },
        Golden {
            line: "2026-12-03T19:57:09.000004+00:00 fwcol flowalert[4711]: repeat \
                   src=203.0.113.9 dst=192.0.2.10 proto=TCP dir=in match=src \
                   listed=203.0.113.9 lists=drop peers=1 flows=57 packets=171 bytes=10260 \
                   first=2026-12-03T19:46:40.120Z last=2026-12-03T19:56:58.004Z \
                   names=\"SBL900001\"",
            severity: 6,
            fields: &[
                ("srcip", "203.0.113.9"),
                ("dstip", "192.0.2.10"),
                ("protocol", "TCP"),
                ("flowalert.dir", "in"),
                ("flowalert.match", "src"),
                ("flowalert.listed", "203.0.113.9"),
                ("flowalert.lists", "drop"),
                ("flowalert.peers", "1"),
                ("flowalert.flows", "57"),
                ("flowalert.packets", "171"),
                ("flowalert.bytes", "10260"),
                ("flowalert.first", "2026-12-03T19:46:40.120Z"),
                ("flowalert.last", "2026-12-03T19:56:58.004Z"),
                ("flowalert.names", "\"SBL900001\""),
            ],
            rule: 100110,
            level: 3,
        },
        Golden {
            line: "2026-12-03T20:02:00.000120+00:00 fwcol flowalert[4711]: status \
                   kind=exporter-silent subject=192.0.2.241 detail=\"no datagram for 15m\"",
            severity: 4,
            fields: &[
                ("flowalert.kind", "exporter-silent"),
                ("flowalert.subject", "192.0.2.241"),
                ("flowalert.detail", "\"no datagram for 15m\""),
            ],
            rule: 100121,
            level: 7,
        },
        Golden {
            line: "2026-12-03T20:03:00.000000+00:00 fwcol flowalert[4711]: status \
                   kind=stale-source subject=drop detail=\"last update 2026-11-30T20:03:00.000Z\"",
            severity: 4,
            fields: &[
                ("flowalert.kind", "stale-source"),
                ("flowalert.subject", "drop"),
                (
                    "flowalert.detail",
                    "\"last update 2026-11-30T20:03:00.000Z\"",
                ),
            ],
            rule: 100121,
            level: 7,
        },
        Golden {
            line: "2026-12-03T20:04:00.000000+00:00 fwcol flowalert[4711]: status \
                   kind=build-failed subject=lists.d detail=\"/etc/flowalert/lists.d/x.txt: \
                   line 3: \\\"10.0.0.0/33\\\" is not a prefix\"",
            severity: 3,
            fields: &[
                ("flowalert.kind", "build-failed"),
                ("flowalert.subject", "lists.d"),
                (
                    "flowalert.detail",
                    "\"/etc/flowalert/lists.d/x.txt: line 3: \\\"10.0.0.0/33\\\" is not a prefix\"",
                ),
            ],
            rule: 100122,
            level: 10,
        },
        Golden {
            line: "2026-12-03T20:05:00.000000+00:00 fwcol flowalert[4711]: status \
                   kind=no-indicators subject=- detail=\"0 prefixes from 0 sources\"",
            severity: 3,
            fields: &[
                ("flowalert.kind", "no-indicators"),
                ("flowalert.subject", "-"),
                ("flowalert.detail", "\"0 prefixes from 0 sources\""),
            ],
            rule: 100122,
            level: 10,
        },
        Golden {
            line: "2026-12-03T20:06:00.000000+00:00 fwcol flowalert[4711]: status \
                   kind=sink-dropped subject=tcp://192.0.2.50:514 detail=\"12 records dropped\"",
            severity: 4,
            fields: &[
                ("flowalert.kind", "sink-dropped"),
                ("flowalert.subject", "tcp://192.0.2.50:514"),
                ("flowalert.detail", "\"12 records dropped\""),
            ],
            rule: 100120,
            level: 4,
        },
    ]
}

/// The OSSEC static field each Wazuh field lands in, per record kind.
fn ossec_name(kind: &str, wazuh: &str) -> Option<&'static str> {
    let name = match (kind, wazuh) {
        (_, "srcip") => "srcip",
        (_, "srcport") => "srcport",
        (_, "dstip") => "dstip",
        (_, "dstport") => "dstport",
        (_, "protocol") => "protocol",
        ("hit" | "repeat", "flowalert.dir") => "action",
        ("hit" | "repeat", "flowalert.lists") => "extra_data",
        ("hit", "flowalert.refs") => "url",
        ("status", "flowalert.kind") => "status",
        ("status", "flowalert.subject") => "system_name",
        ("status", "flowalert.detail") => "extra_data",
        _ => return None,
    };
    Some(name)
}

/// The three forms of one record: the file line, RFC 5424 as sent to a network target,
/// and RFC 5424 with an enterprise SD element.
fn forms(golden: &Golden, sequence: u64) -> Vec<(String, String)> {
    let (time, host, message) = split_file_line(golden.line);
    // MSG repeats the kind, as the file form has it (src/output/framing.rs).
    let (msgid, _) = message.split_once(' ').expect("message has a record kind");
    let pri = 3 * 8 + u32::from(golden.severity);
    let meta = format!("[meta sequenceId=\"{sequence}\"]");
    let plain = format!("<{pri}>1 {time} {host} flowalert 4711 {msgid} {meta} {message}");
    let private = format!(
        "<{pri}>1 {time} {host} flowalert 4711 {msgid} {meta}[flowalert@32473 kind=\"{msgid}\"] \
         {message}"
    );
    vec![
        ("file".to_owned(), golden.line.to_owned()),
        ("rfc5424".to_owned(), plain),
        ("rfc5424+enterprise".to_owned(), private),
    ]
}

fn split_file_line(line: &str) -> (&str, &str, &str) {
    let (time, rest) = line.split_once(' ').expect("time");
    let (host, rest) = rest.split_once(' ').expect("host");
    let (_tag, message) = rest.split_once(": ").expect("tag");
    (time, host, message)
}

fn record_kind(golden: &Golden) -> &str {
    let (_, _, message) = split_file_line(golden.line);
    message.split(' ').next().unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// OS_Regex and OS_Match, translated.

const CLASS_W: &str = "A-Za-z0-9_@\\-";
const CLASS_P: &str = "()*+,\\-.:;<=>?\\[\\]!\"'#$%&|{}";

/// The `regex` character class (or `(?s:.)`) for OS_Regex's `\c`, or None for an escaped
/// literal.
fn os_class(c: char) -> Option<String> {
    let class = match c {
        'd' => "[0-9]".to_owned(),
        'D' => "[^0-9]".to_owned(),
        'w' => format!("[{CLASS_W}]"),
        'W' => format!("[^{CLASS_W}]"),
        's' => "[ ]".to_owned(),
        'S' => "[^ ]".to_owned(),
        'p' => format!("[{CLASS_P}]"),
        '.' => "(?s:.)".to_owned(),
        't' => "\\t".to_owned(),
        _ => return None,
    };
    Some(class)
}

/// OS_Regex to `regex`: case-insensitive, `|` separates whole patterns, `^`/`$` only at the
/// ends of one, `+`/`*` only after a backslash class, `(`/`)` capture.
fn translate_os_regex(pattern: &str) -> String {
    let alternatives: Vec<String> = pattern.split('|').map(translate_one_regex).collect();
    format!("(?i)(?:{})", alternatives.join("|"))
}

fn translate_one_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut after_class = false;
    if chars.peek() == Some(&'^') {
        chars.next();
        out.push('^');
    }
    while let Some(c) = chars.next() {
        let was_class = std::mem::take(&mut after_class);
        match c {
            '\\' => {
                let escaped = chars.next().expect("pattern ends in a backslash");
                match os_class(escaped) {
                    Some(class) => {
                        out.push_str(&class);
                        after_class = true;
                    }
                    None => out.push_str(&regex::escape(&escaped.to_string())),
                }
            }
            '+' | '*' => {
                assert!(was_class, "`{c}` not after a class in {pattern:?}");
                out.push(c);
            }
            '$' if chars.peek().is_none() => out.push('$'),
            '(' | ')' => out.push(c),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

/// OS_Match (sregex) to `regex`: literal text, case-insensitive, `^`/`$` anchors, `|`.
fn translate_os_match(pattern: &str) -> String {
    let alternatives: Vec<String> = pattern
        .split('|')
        .map(|alt| {
            let (start, alt) = alt.strip_prefix('^').map_or(("", alt), |a| ("^", a));
            let (alt, end) = alt.strip_suffix('$').map_or((alt, ""), |a| (a, "$"));
            format!("{start}{}{end}", regex::escape(alt))
        })
        .collect();
    format!("(?i)(?:{})", alternatives.join("|"))
}

fn os_regex(pattern: &str) -> Regex {
    Regex::new(&translate_os_regex(pattern)).expect("translated OS_Regex compiles")
}

fn os_match(pattern: &str) -> Regex {
    Regex::new(&translate_os_match(pattern)).expect("translated OS_Match compiles")
}

// ---------------------------------------------------------------------------------------
// Reading the XML files: each element's text and attributes, in order, under its parent.

#[derive(Debug, Default, Clone)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn all(&self, name: &str) -> impl Iterator<Item = &Element> {
        let name = name.to_owned();
        self.children.iter().filter(move |c| c.name == name)
    }

    fn first(&self, name: &str) -> Option<&Element> {
        self.all(name).next()
    }

    /// OSSEC concatenates repeated elements (`<regex>` on several lines) into one pattern.
    fn joined(&self, name: &str) -> Option<String> {
        let parts: Vec<&str> = self.all(name).map(|e| e.text.as_str()).collect();
        (!parts.is_empty()).then(|| parts.concat())
    }
}

fn shipped(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The file's elements under a synthetic root (OSSEC files have several top-level ones).
fn read_xml(path: &Path) -> Element {
    let text = std::fs::read_to_string(path).expect("shipped XML file is readable");
    let mut reader = Reader::from_str(&text);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            XmlEvent::Start(e) => stack.push(element(&e)),
            XmlEvent::Empty(e) => stack.last_mut().expect("root").children.push(element(&e)),
            XmlEvent::End(_) => {
                let done = stack.pop().expect("balanced");
                stack.last_mut().expect("root").children.push(done);
            }
            XmlEvent::Text(t) => {
                let text = t.decode().expect("utf-8");
                stack.last_mut().expect("root").text.push_str(&text);
            }
            XmlEvent::GeneralRef(r) => {
                let entity = match r.decode().expect("utf-8").as_ref() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unknown entity &{other};"),
                };
                stack.last_mut().expect("root").text.push_str(entity);
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements in {}", path.display());
    stack.pop().expect("root")
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Element {
    let name = String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name");
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("attribute");
            let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
            let value = String::from_utf8(a.value.to_vec()).expect("utf-8 value");
            assert!(!value.contains('&'), "entity in attribute {key}");
            (key, value)
        })
        .collect();
    Element {
        name,
        attrs,
        ..Element::default()
    }
}

// ---------------------------------------------------------------------------------------
// Decoders, as analysisd runs them.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Offset {
    Log,
    AfterParent,
    AfterPrematch,
}

struct Decoder {
    name: String,
    parent: Option<String>,
    program_name: Option<Regex>,
    prematch: Option<(Regex, Offset)>,
    regex: Option<(Regex, Offset)>,
    order: Vec<String>,
    own_name: bool,
}

fn offset_of(e: &Element) -> Offset {
    match e.attrs.get("offset").map(String::as_str) {
        None => Offset::Log,
        Some("after_parent") => Offset::AfterParent,
        Some("after_prematch") => Offset::AfterPrematch,
        Some(other) => panic!("unknown offset {other}"),
    }
}

fn load_decoders(relative: &str) -> Vec<Decoder> {
    let root = read_xml(&shipped(relative));
    root.all("decoder").map(decoder).collect()
}

fn decoder(e: &Element) -> Decoder {
    for child in &e.children {
        let known = [
            "parent",
            "program_name",
            "prematch",
            "regex",
            "order",
            "use_own_name",
        ];
        assert!(
            known.contains(&child.name.as_str()),
            "unhandled <{}>",
            child.name
        );
    }
    let with_offset = |name: &str| {
        let first = e.first(name)?;
        Some((os_regex(&e.joined(name)?), offset_of(first)))
    };
    Decoder {
        name: e.attrs["name"].clone(),
        parent: e.first("parent").map(|p| p.text.clone()),
        program_name: e.first("program_name").map(|p| os_match(&p.text)),
        prematch: with_offset("prematch"),
        regex: with_offset("regex"),
        order: e
            .first("order")
            .map(|o| o.text.split(',').map(|f| f.trim().to_owned()).collect())
            .unwrap_or_default(),
        own_name: e.first("use_own_name").is_some_and(|u| u.text == "true"),
    }
}

/// What the pre-decoder leaves: the program name (when a header was recognised) and the log.
struct Event {
    program_name: Option<String>,
    log: String,
}

/// remoted drops a leading `<PRI>`; then OS_CleanMSG recognises the rsyslog header
/// `YYYY-MM-DDTHH:MM:SS.ffffff+hh:mm HOST PROGRAM[PID]: ` by its fixed positions.
fn predecode(received: &str) -> Event {
    let line = match received.strip_prefix('<').and_then(|r| r.split_once('>')) {
        Some((pri, rest)) if pri.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => received,
    };
    let unrecognised = Event {
        program_name: None,
        log: line.to_owned(),
    };
    let b = line.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let header = at(4) == b'-'
        && at(7) == b'-'
        && at(10) == b'T'
        && at(13) == b':'
        && at(16) == b':'
        && at(19) == b'.';
    let Some(colon) = (24..=29).find(|&i| at(i) == b':').filter(|_| header) else {
        return unrecognised;
    };
    let rest = line.get(colon + 3..).unwrap_or("").trim_start_matches(' ');
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_./@".contains(c);
    let host_end = rest.find(|c: char| !valid(c)).unwrap_or(rest.len());
    let Some(rest) = rest.get(host_end..).and_then(|r| r.strip_prefix(' ')) else {
        return unrecognised;
    };
    let name_end = rest.find(|c: char| !valid(c)).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(name_end);
    let pid = Regex::new(r"^\[[0-9]+\]: ").expect("static");
    match pid.find(tail) {
        Some(m) => Event {
            program_name: Some(name.to_owned()),
            log: tail[m.end()..].to_owned(),
        },
        None => unrecognised,
    }
}

struct Decoded {
    decoder: String,
    fields: Vec<(String, String)>,
}

fn decode(decoders: &[Decoder], event: &Event) -> Option<Decoded> {
    let log = event.log.as_str();
    for parent in decoders.iter().filter(|d| d.parent.is_none()) {
        let Some(after_parent) = parent_match(parent, event) else {
            continue;
        };
        let children: Vec<&Decoder> = decoders
            .iter()
            .filter(|d| d.parent.as_deref() == Some(parent.name.as_str()))
            .collect();
        if children.is_empty() {
            return Some(run_regex(parent, parent, log, after_parent, after_parent));
        }
        for child in children {
            let after_prematch = match &child.prematch {
                None => after_parent,
                Some((re, offset)) => {
                    let start = if *offset == Offset::AfterParent {
                        after_parent
                    } else {
                        0
                    };
                    match re.find(&log[start..]) {
                        Some(m) => start + m.end(),
                        None => continue,
                    }
                }
            };
            return Some(run_regex(parent, child, log, after_parent, after_prematch));
        }
        return Some(Decoded {
            decoder: parent.name.clone(),
            fields: Vec::new(),
        });
    }
    None
}

/// The offset just past the parent's match in the log, or None when it does not apply.
fn parent_match(parent: &Decoder, event: &Event) -> Option<usize> {
    if let Some(program) = &parent.program_name {
        if !program.is_match(event.program_name.as_deref()?) {
            return None;
        }
    }
    match &parent.prematch {
        Some((re, _)) => re.find(&event.log).map(|m| m.end()),
        None => Some(0),
    }
}

fn run_regex(
    parent: &Decoder,
    child: &Decoder,
    log: &str,
    after_parent: usize,
    after_prematch: usize,
) -> Decoded {
    let name = if child.own_name {
        &child.name
    } else {
        &parent.name
    };
    let mut fields = Vec::new();
    if let Some((re, offset)) = &child.regex {
        let start = match offset {
            Offset::Log => 0,
            Offset::AfterParent => after_parent,
            Offset::AfterPrematch => after_prematch,
        };
        let caps = re.captures(&log[start..]);
        let caps = caps.unwrap_or_else(|| panic!("{} regex fails on {log:?}", child.name));
        assert_eq!(
            caps.len() - 1,
            child.order.len(),
            "{}: captures vs order",
            child.name
        );
        for (field, value) in child.order.iter().zip(caps.iter().skip(1)) {
            let value = value.map_or("", |m| m.as_str());
            fields.push((field.clone(), value.to_owned()));
        }
    }
    Decoded {
        decoder: name.clone(),
        fields,
    }
}

// ---------------------------------------------------------------------------------------
// Rules: roots first, then down through if_sid, as analysisd does for one event.

enum Condition {
    DecodedAs(String),
    Action(String),
    Static(String, Regex),
    Field(String, Regex),
    Match(Regex),
    Regex(Regex),
}

struct Rule {
    id: u32,
    level: u32,
    if_sid: Vec<u32>,
    if_matched_sid: Option<u32>,
    frequency: Option<u32>,
    same_source: bool,
    conditions: Vec<Condition>,
}

fn load_rules(relative: &str) -> Vec<Rule> {
    let root = read_xml(&shipped(relative));
    let group = root.first("group").expect("rules sit in a <group>");
    group.all("rule").map(rule).collect()
}

fn rule(e: &Element) -> Rule {
    let number = |s: &str| s.trim().parse::<u32>().expect("number");
    let mut rule = Rule {
        id: number(&e.attrs["id"]),
        level: number(&e.attrs["level"]),
        if_sid: Vec::new(),
        if_matched_sid: None,
        frequency: e.attrs.get("frequency").map(|f| number(f)),
        same_source: false,
        conditions: Vec::new(),
    };
    for child in &e.children {
        let text = child.text.as_str();
        let condition = match child.name.as_str() {
            "description" | "group" => continue,
            "if_sid" => {
                rule.if_sid.extend(text.split(',').map(number));
                continue;
            }
            "if_matched_sid" => {
                rule.if_matched_sid = Some(number(text));
                continue;
            }
            "same_source_ip" | "same_srcip" => {
                rule.same_source = true;
                continue;
            }
            "decoded_as" => Condition::DecodedAs(text.to_owned()),
            "action" => Condition::Action(text.to_owned()),
            "status" => Condition::Static("status".into(), os_match(text)),
            "extra_data" => Condition::Static("extra_data".into(), os_match(text)),
            "url" => Condition::Static("url".into(), os_match(text)),
            "field" => Condition::Field(child.attrs["name"].clone(), os_regex(text)),
            "match" => Condition::Match(os_match(text)),
            "regex" => Condition::Regex(os_regex(text)),
            other => panic!("rule {}: unhandled <{other}>", rule.id),
        };
        rule.conditions.push(condition);
    }
    rule
}

fn holds(rule: &Rule, decoded: &Decoded, log: &str) -> bool {
    let field = |name: &str| {
        let found = decoded.fields.iter().find(|(f, _)| f == name);
        found.map(|(_, v)| v.as_str())
    };
    rule.conditions.iter().all(|c| match c {
        Condition::DecodedAs(name) => decoded.decoder == *name,
        Condition::Action(want) => field("action").is_some_and(|a| a.eq_ignore_ascii_case(want)),
        Condition::Static(name, re) | Condition::Field(name, re) => {
            field(name).is_some_and(|v| re.is_match(v))
        }
        Condition::Match(re) | Condition::Regex(re) => re.is_match(log),
    })
}

/// The rule one event raises (frequency rules need earlier events and are not considered).
fn select(rules: &[Rule], decoded: &Decoded, log: &str) -> Option<(u32, u32)> {
    let single = |r: &&Rule| r.if_matched_sid.is_none();
    let roots = rules.iter().filter(single).filter(|r| r.if_sid.is_empty());
    let mut current = roots.into_iter().find(|r| holds(r, decoded, log))?;
    while let Some(child) = rules
        .iter()
        .filter(single)
        .find(|r| r.if_sid.contains(&current.id) && holds(r, decoded, log))
    {
        current = child;
    }
    Some((current.id, current.level))
}

// ---------------------------------------------------------------------------------------
// The tests.

struct Flavour {
    decoders: &'static str,
    rules: &'static str,
    ossec: bool,
}

const OSSEC: Flavour = Flavour {
    decoders: "etc/ossec/flowalert_decoders.xml",
    rules: "etc/ossec/flowalert_rules.xml",
    ossec: true,
};
const WAZUH: Flavour = Flavour {
    decoders: "etc/wazuh/flowalert_decoders.xml",
    rules: "etc/wazuh/flowalert_rules.xml",
    ossec: false,
};

fn expected_fields(flavour: &Flavour, golden: &Golden) -> Vec<(String, String)> {
    let kind = record_kind(golden);
    let rename = |name: &str| match flavour.ossec {
        true => ossec_name(kind, name).map(str::to_owned),
        false => Some(name.to_owned()),
    };
    let mut want: Vec<(String, String)> = golden
        .fields
        .iter()
        .filter_map(|(name, value)| Some((rename(name)?, (*value).to_owned())))
        .collect();
    want.sort();
    want
}

fn check_flavour(flavour: &Flavour) {
    let decoders = load_decoders(flavour.decoders);
    let rules = load_rules(flavour.rules);
    for (n, golden) in golden_records().iter().enumerate() {
        let kind = record_kind(golden);
        for (form, line) in forms(golden, n as u64 + 1) {
            let event = predecode(&line);
            let decoded = decode(&decoders, &event)
                .unwrap_or_else(|| panic!("{}: no decoder for {form} {line:?}", flavour.decoders));
            assert_eq!(
                decoded.decoder,
                format!("flowalert-{kind}"),
                "{form} {line}"
            );

            let mut got = decoded.fields.clone();
            got.sort();
            assert_eq!(got, expected_fields(flavour, golden), "{form} {line}");

            let selected = select(&rules, &decoded, &event.log);
            assert_eq!(selected, Some((golden.rule, golden.level)), "{form} {line}");
        }
    }
}

#[test]
fn ossec_decoders_and_rules_handle_every_golden_record() {
    check_flavour(&OSSEC);
}

#[test]
fn wazuh_decoders_and_rules_handle_every_golden_record() {
    check_flavour(&WAZUH);
}

#[test]
fn predecoder_splits_the_rsyslog_header_and_leaves_raw_rfc5424_whole() {
    let file = predecode(golden_records()[0].line);
    assert_eq!(file.program_name.as_deref(), Some("flowalert"));
    assert!(
        file.log.starts_with("hit src=203.0.113.9 sport=44444 "),
        "{}",
        file.log
    );

    let (_, raw) = forms(&golden_records()[0], 7).remove(1);
    let raw = predecode(&raw);
    assert_eq!(raw.program_name, None);
    assert!(raw
        .log
        .starts_with("1 2026-12-03T19:47:09.517513+00:00 fwcol flowalert 4711 hit "));

    // A `Z` header (what the syslog crate writes) is not recognised: the reason for +00:00.
    let zulu = predecode("2026-12-03T19:47:09.517Z fwcol flowalert[1]: hit src=1 ");
    assert_eq!(zulu.program_name, None);
}

#[test]
fn frequency_rules_count_hits_from_one_source() {
    for flavour in [&OSSEC, &WAZUH] {
        let rules = load_rules(flavour.rules);
        let find = |id: u32| rules.iter().find(|r| r.id == id).expect("rule present");
        let inbound = find(100104);
        assert_eq!((inbound.level, inbound.if_matched_sid), (8, Some(100101)));
        assert!(inbound.same_source && inbound.frequency == Some(5));
        let outbound = find(100105);
        assert_eq!(
            (outbound.level, outbound.if_matched_sid),
            (12, Some(100102))
        );
        assert!(outbound.same_source && outbound.frequency == Some(3));
        assert!(rules.iter().all(|r| (100100..=100199).contains(&r.id)));
    }
}

#[test]
fn rfc5424_forms_parse_with_syslog_loose() {
    use syslog_loose::{parse_message, ProcId, Protocol, Variant};

    for (n, golden) in golden_records().iter().enumerate() {
        let (_, _, message) = split_file_line(golden.line);
        let (msgid, _) = message.split_once(' ').expect("kind");
        for (form, line) in forms(golden, n as u64 + 1).into_iter().skip(1) {
            let parsed = parse_message(&line, Variant::RFC5424);
            assert!(
                matches!(parsed.protocol, Protocol::RFC5424(1)),
                "{form} {line}"
            );
            assert_eq!(parsed.severity.map(|s| s as u8), Some(golden.severity));
            assert_eq!(parsed.hostname, Some("fwcol"));
            assert_eq!(parsed.appname, Some("flowalert"));
            assert!(matches!(parsed.procid, Some(ProcId::PID(4711))), "{line}");
            assert_eq!(parsed.msgid, Some(msgid));
            assert_eq!(parsed.msg, message, "{form}");
            let meta = &parsed.structured_data[0];
            assert_eq!(meta.id, "meta");
            assert_eq!(
                meta.params,
                vec![("sequenceId", (n as u64 + 1).to_string().as_str())]
            );
            let timestamp = parsed.timestamp.expect("timestamp");
            let timestamp = timestamp.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string();
            assert_eq!(timestamp, split_file_line(golden.line).0);
        }
    }
}

/// The Wazuh runtests-style file: every sample line must hit its rule, level and decoder.
#[test]
fn runtests_ini_samples_hit_their_rules() {
    let decoders = load_decoders(WAZUH.decoders);
    let rules = load_rules(WAZUH.rules);
    let text = std::fs::read_to_string(shipped("etc/wazuh/flowalert.ini")).expect("ini");
    let mut checked = 0;
    for section in text.split("\n[").skip(1) {
        let value = |key: &str| {
            section
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix("= "))
                .unwrap_or_else(|| panic!("[{section}] lacks {key}"))
        };
        let rule: u32 = value("rule").parse().expect("rule id");
        let level: u32 = value("alert").parse().expect("level");
        let decoder_name = value("decoder");
        for line in section.lines().filter(|l| l.starts_with("log ")) {
            let (_, log) = line.split_once(" = ").expect("log N pass = LINE");
            let event = predecode(log);
            let decoded = decode(&decoders, &event).expect("decoded");
            assert_eq!(decoded.decoder, decoder_name, "{log}");
            assert_eq!(
                select(&rules, &decoded, &event.log),
                Some((rule, level)),
                "{log}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} samples in the ini");
}

#[test]
fn os_regex_translation_follows_the_ossec_syntax() {
    assert_eq!(
        translate_os_regex(r"^\d+ (\S+)$"),
        "(?i)(?:^[0-9]+ ([^ ]+)$)"
    );
    assert_eq!(translate_os_regex(r"a.b|\(x\)"), r"(?i)(?:a\.b|\(x\))");
    assert_eq!(translate_os_match("^flowalert$"), "(?i)(?:^flowalert$)");
    assert!(os_regex(r"^\w+ \p").is_match("a-b_c@x :"));
    assert!(!os_regex(r"^\W").is_match("@"));
    assert!(os_match("^EXPORTER-silent$|^x").is_match("exporter-silent"));
}

/// Every `\c+` / `\c*` in the shipped decoders is followed by a literal the class cannot
/// match (or ends the pattern), so lazy (OSSEC) and greedy (`regex`) matching agree.
#[test]
fn quantifiers_are_unambiguous() {
    let follower = Regex::new(r"\\(.)[+*]\)?(\\.|.)?").expect("static");
    for path in [OSSEC.decoders, WAZUH.decoders] {
        let root = read_xml(&shipped(path));
        for d in root.all("decoder") {
            for pattern in ["prematch", "regex"].iter().filter_map(|n| d.joined(n)) {
                for alt in pattern.split('|') {
                    for caps in follower.captures_iter(alt) {
                        let class = os_class(caps[1].chars().next().unwrap_or(' '));
                        let class = Regex::new(&class.expect("a class")).expect("class");
                        let next = caps.get(2).map_or("", |m| m.as_str());
                        let unambiguous =
                            next.is_empty() || (!next.starts_with('\\') && !class.is_match(next));
                        assert!(unambiguous, "{path}: {alt:?} quantifier before {next:?}");
                    }
                }
            }
        }
    }
}

/// OSSEC 3.x knows only its static fields; Wazuh's own names all sit under `flowalert.`.
#[test]
fn decoders_use_the_field_names_each_manager_accepts() {
    let ossec_static = [
        "srcip",
        "dstip",
        "srcport",
        "dstport",
        "protocol",
        "action",
        "status",
        "id",
        "url",
        "extra_data",
        "user",
        "srcuser",
        "dstuser",
        "system_name",
    ];
    for d in load_decoders(OSSEC.decoders) {
        for field in &d.order {
            assert!(
                ossec_static.contains(&field.as_str()),
                "{}: {field}",
                d.name
            );
        }
    }
    for d in load_decoders(WAZUH.decoders) {
        for field in &d.order {
            let known = ossec_static[..5].contains(&field.as_str());
            assert!(
                known || field.starts_with("flowalert."),
                "{}: {field}",
                d.name
            );
        }
    }
}

/// The records the binary really writes (`replay` of the demo capture), through both
/// managers' decoders and rules: the right decoder, both ends, and the rule for the kind
/// and direction.
#[test]
fn records_the_binary_emits_decode_and_hit_their_rules() {
    let demo = shipped("tests/data/demo");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .arg("--config")
        .arg(demo.join("flowalert.toml"))
        .arg("replay")
        .arg(demo.join("demo.pcap"))
        .output()
        .expect("cannot run flowalert replay");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");

    for flavour in [&OSSEC, &WAZUH] {
        let decoders = load_decoders(flavour.decoders);
        let rules = load_rules(flavour.rules);
        for line in &lines {
            let (_, _, message) = split_file_line(line);
            let value = |key: &str| {
                let pair = message
                    .split(' ')
                    .find(|p| p.starts_with(&format!("{key}=")));
                pair.map(|p| p[key.len() + 1..].to_owned())
                    .unwrap_or_default()
            };
            let kind = message.split(' ').next().unwrap_or_default();
            let event = predecode(line);
            let decoded = decode(&decoders, &event).unwrap_or_else(|| panic!("no decoder: {line}"));
            assert_eq!(decoded.decoder, format!("flowalert-{kind}"), "{line}");
            let field = |name: &str| {
                let found = decoded.fields.iter().find(|(n, _)| n == name);
                found.map(|(_, v)| v.clone()).unwrap_or_default()
            };
            assert_eq!(field("srcip"), value("src"), "{line}");
            assert_eq!(field("dstip"), value("dst"), "{line}");

            let rule = match (kind, value("dir").as_str()) {
                ("hit", "in") => 100101,
                ("hit", "out") => 100102,
                ("repeat", _) => 100110,
                other => panic!("unexpected record {other:?}: {line}"),
            };
            let selected = select(&rules, &decoded, &event.log).map(|(id, _)| id);
            assert_eq!(selected, Some(rule), "{} {line}", flavour.decoders);
        }
    }
}

/// For other tests: what both managers make of `line` with the shipped files, as
/// (decoder, srcip, dstip, rule) for OSSEC and then Wazuh.
pub(crate) fn decoded_by_shipped_files(line: &str) -> Vec<(String, String, String, u32)> {
    let mut found = Vec::new();
    for flavour in [&OSSEC, &WAZUH] {
        let decoders = load_decoders(flavour.decoders);
        let rules = load_rules(flavour.rules);
        let event = predecode(line);
        let Some(decoded) = decode(&decoders, &event) else {
            found.push(("none".into(), String::new(), String::new(), 0));
            continue;
        };
        let field = |name: &str| {
            let value = decoded.fields.iter().find(|(n, _)| n == name);
            value.map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let rule = select(&rules, &decoded, &event.log).map_or(0, |(id, _)| id);
        found.push((
            decoded.decoder.clone(),
            field("srcip"),
            field("dstip"),
            rule,
        ));
    }
    found
}
