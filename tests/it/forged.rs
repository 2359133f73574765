//! Forged provenance text: list comments, Zeek meta fields and OTX pulse names written by
//! strangers, with newlines, NUL, quotes, backslashes, `]`, `=`, control bytes, non-ASCII and
//! 10 KB lengths, must each still make exactly one valid record.
//!
//! The path is the real one: the files are written to disk, read by `build_set` as the
//! service reads them, the flows go through `Pipeline::on_datagram`, and the records leave by
//! a UDP syslog output to a loopback receiver. Each record is checked as bytes (at most 1024,
//! printable ASCII, one line), by `syslog_loose` as RFC 5424, and by a strict pattern of the
//! hit layout in which free text can only be the final quoted `names="..."`, and by both
//! managers' shipped decoders and rules.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use flowalert::config::{Config, Report};
use flowalert::intel::otx::{Cache, CachedIndicator, CachedPulse};
use flowalert::output::Outputs;
use flowalert::pipeline::{self, Pipeline};
use regex::Regex;

use crate::harness::{v5_datagram, TempDir, V5Flow, PATIENCE};

/// The forged texts. Line-based lists cannot carry a newline (it ends the line) nor a line
/// over `MAX_LINE` (8192 bytes: such a line is rejected and counted), so those get CR and
/// 8000 bytes; the OTX cache (JSON) carries the real newline and the 10 KB name.
fn forged(line_based: bool) -> Vec<String> {
    let newline = if line_based { "\r" } else { "\n" };
    let long = if line_based { 8000 } else { 10 * 1024 };
    vec![
        format!("first{newline}<13>1 2026-01-01T00:00:00Z evil flowalert 1 hit - src=6.6.6.6"),
        "nul\0byte".into(),
        "say \"hi\" and \"bye".into(),
        "back\\slash\\".into(),
        "close] [meta sequenceId=\"999\"] [x@1 a=\"b\"]".into(),
        "k=v names=\"x\" lists=otx".into(),
        "non-ASCII: Ünïcødé ☠ \u{202e}rtl".into(),
        "\u{1b}[31mred\u{7}\u{7f}end".into(),
        "A".repeat(long),
        format!("{}\"\\", "é".repeat(long / 2)),
    ]
}

/// What the contract says quoted text becomes: `"` and `\` escaped, other control bytes as
/// `\xNN`, non-ASCII as `?`.
fn escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Listed addresses: plain list 203.0.113.N, Zeek 198.51.100.N, OTX 192.0.2.200+N is home,
/// so OTX uses 100.64.0.N.
fn address(kind: usize, n: usize) -> [u8; 4] {
    let n = n as u8 + 1;
    match kind {
        0 => [203, 0, 113, n],
        1 => [198, 51, 100, n],
        _ => [100, 64, 0, n],
    }
}

fn write_sources(dir: &TempDir, now_ms: i64) {
    let mut plain = String::new();
    let mut zeek = String::from("#fields\tindicator\tindicator_type\tmeta.source\tmeta.url\n");
    for (n, text) in forged(true).iter().enumerate() {
        let [a, b, c, d] = address(0, n);
        plain.push_str(&format!("{a}.{b}.{c}.{d} # {text}\n"));
        let [a, b, c, d] = address(1, n);
        let short: String = text.chars().take(40).collect();
        let url = format!("https://x.invalid/{short}");
        zeek.push_str(&format!("{a}.{b}.{c}.{d}\tIntel::ADDR\t{text}\t{url}\n"));
    }
    // A line over MAX_LINE is one rejected line, never a record.
    plain.push_str(&format!("203.0.113.250 # {}\n", "B".repeat(10 * 1024)));
    dir.write("forged.txt", &plain);
    dir.write("zeek.intel", &zeek);
    std::fs::create_dir_all(dir.path.join("state")).expect("state dir");
    write_otx(&dir.path.join("state/otx-cache.json"), now_ms);
}

fn write_otx(path: &std::path::Path, now_ms: i64) {
    let mut cache = Cache::empty();
    cache.last_sync_ms = Some(now_ms);
    for (n, name) in forged(false).into_iter().enumerate() {
        let [a, b, c, d] = address(2, n);
        cache.pulses.push(CachedPulse {
            id: format!("{n:024x}"),
            name,
            modified_ms: now_ms,
            indicators: vec![CachedIndicator {
                kind: "IPv4".into(),
                indicator: format!("{a}.{b}.{c}.{d}"),
                expiration_ms: None,
                is_active: true,
            }],
        });
    }
    let text = serde_json::to_string(&cache).expect("a cache");
    std::fs::write(path, text).expect("write the cache");
}

fn config(dir: &TempDir, target: &str) -> Config {
    let text = format!(
        "[input]\nlisten = [\"127.0.0.1:0\"]\n\
         [networks]\nhome = [\"192.0.2.0/24\"]\nexclude-bogons = false\n\
         [state]\ndir = \"state\"\n\
         [[list]]\nname = \"forged\"\npath = \"forged.txt\"\nformat = \"plain\"\n\
         [[list]]\nname = \"zeek\"\npath = \"zeek.intel\"\nformat = \"zeek-intel\"\n\
         [otx]\nenabled = true\n\
         [output]\nhostname = \"test\"\nsyslog = [\"udp://{target}\"]\n"
    );
    let path = dir.write("flowalert.toml", &text);
    let mut report = Report::default();
    let config = Config::parse(&text, &path, &mut report).expect("a configuration");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    config
}

/// A SYN from `src` to our server's port 22.
fn syn(src: [u8; 4]) -> V5Flow {
    V5Flow {
        src,
        dst: [192, 0, 2, 10],
        sport: 44444,
        dport: 22,
        proto: 6,
        flags: 0x02,
        packets: 1,
        octets: 60,
        first: 590_000,
        last: 590_000,
    }
}

/// The hit layout with every value's alphabet pinned: only `names` may hold free text.
fn hit_pattern() -> Regex {
    let layout = concat!(
        r"^src=(\S+) sport=44444 dst=192\.0\.2\.10 dport=22 proto=TCP dir=in match=src ",
        r#"listed=(\S+) lists=(forged|zeek|otx) refs=(-|[^\s"=\\]+) start=\S+Z "#,
        r"exporter=127\.0\.0\.1 sampling=1 packets=1 bytes=60 ",
        r#"names="((?:[^"\\]|\\["\\]|\\x[0-9a-f]{2})*)"$"#,
    );
    Regex::new(layout).expect("a pattern")
}

/// Checks one datagram: bytes, RFC 5424 fields and the message layout; returns
/// (listed address, lists, names as written).
fn check(record: &[u8], pattern: &Regex) -> (String, String, String) {
    assert!(record.len() <= 1024, "{} bytes", record.len());
    assert!(
        record.iter().all(|&b| (0x20..=0x7e).contains(&b)),
        "not printable ASCII: {record:?}"
    );
    let text = std::str::from_utf8(record).expect("ASCII");

    let parsed = syslog_loose::parse_message(text, syslog_loose::Variant::RFC5424);
    assert_eq!(
        parsed.protocol,
        syslog_loose::Protocol::RFC5424(1),
        "{text}"
    );
    assert_eq!(parsed.hostname, Some("test"), "{text}");
    assert_eq!(parsed.appname, Some("flowalert"), "{text}");
    assert_eq!(parsed.msgid, Some("hit"), "{text}");
    assert_eq!(parsed.structured_data.len(), 1, "{text}");
    assert_eq!(parsed.structured_data[0].id, "meta", "{text}");

    let message = parsed.msg.strip_prefix("hit ").unwrap_or(parsed.msg);
    let found = pattern
        .captures(message)
        .unwrap_or_else(|| panic!("not the hit layout: {message}"));
    assert_eq!(&found[1], &found[2], "{message}");
    assert!(!found[4].contains(' '), "refs split: {message}");
    (found[2].into(), found[3].into(), found[5].into())
}

#[test]
fn forged_comments_zeek_fields_and_pulse_names_make_one_valid_record_each() {
    let dir = TempDir::new("forged");
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("a receiver");
    receiver.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as i64;
    write_sources(&dir, now_us / 1000);
    let config = config(&dir, &receiver.local_addr().expect("addr").to_string());

    let built = pipeline::build_set(&config, now_us).expect("the set builds");
    let forged_summary = built.summary.iter().find(|s| s.name == "forged").unwrap();
    assert_eq!(forged_summary.entries, 10);
    assert_eq!(forged_summary.rejected, 1);
    let outputs = Outputs::open(&config.output, 4711).expect("outputs");
    let mut pipeline = Pipeline::with_parts(&config, built, outputs, now_us);

    let exporter: IpAddr = "127.0.0.1".parse().unwrap();
    let unix_secs = (now_us / 1_000_000) as u32;
    for kind in 0..3 {
        for n in 0..10 {
            let datagram = v5_datagram(600_000, unix_secs, 0, &[syn(address(kind, n))]);
            pipeline.on_datagram(exporter, &datagram, now_us);
        }
    }
    let listed_line = v5_datagram(600_000, unix_secs, 0, &[syn([203, 0, 113, 250])]);
    pipeline.on_datagram(exporter, &listed_line, now_us);
    pipeline.shutdown(now_us);

    let records = receive(&receiver, 30);
    let pattern = hit_pattern();
    let mut by_listed: HashMap<String, (String, String)> = HashMap::new();
    for record in &records {
        // Both managers' shipped decoders read the forged record as an inbound hit from the
        // listed address: free text cannot move or invent a field.
        let line = String::from_utf8_lossy(record);
        for (decoder, src, dst, rule) in crate::siem_decoders::decoded_by_shipped_files(&line) {
            let source = line.split(" src=").nth(1).and_then(|r| r.split(' ').next());
            assert_eq!(decoder, "flowalert-hit", "{line}");
            assert_eq!(Some(src.as_str()), source, "{line}");
            assert_eq!(dst, "192.0.2.10", "{line}");
            assert_eq!(rule, 100101, "{line}");
        }
        let (listed, lists, names) = check(record, &pattern);
        assert!(
            by_listed.insert(listed.clone(), (lists, names)).is_none(),
            "{listed} twice"
        );
    }
    assert_expected_names(&by_listed);
}

/// Every datagram until `count` arrived, then any straggler within a short wait.
fn receive(receiver: &UdpSocket, count: usize) -> Vec<Vec<u8>> {
    let mut buffer = [0u8; 4096];
    let mut records = Vec::new();
    while records.len() < count {
        let length = receiver.recv(&mut buffer).expect("a record in time");
        records.push(buffer[..length].to_vec());
    }
    receiver
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    if let Ok(length) = receiver.recv(&mut buffer) {
        panic!(
            "one record too many: {:?}",
            String::from_utf8_lossy(&buffer[..length])
        );
    }
    records
}

fn assert_expected_names(by_listed: &HashMap<String, (String, String)>) {
    let sources = [(0, "forged", true), (1, "zeek", true), (2, "otx", false)];
    for (kind, list, line_based) in sources {
        for (n, text) in forged(line_based).iter().enumerate() {
            let [a, b, c, d] = address(kind, n);
            let listed = format!("{a}.{b}.{c}.{d}");
            let (lists, names) = by_listed
                .get(&listed)
                .unwrap_or_else(|| panic!("no record for {listed} ({list})"));
            assert_eq!(lists, list, "{listed}");
            let want = escaped(text);
            if names.ends_with("...") {
                let kept = names.trim_end_matches("...");
                // `refs` may take room, but names always keeps at least 96 bytes.
                assert!(kept.len() >= 90, "{listed}: cut too short: {names}");
                assert!(want.starts_with(kept), "{listed}: {names}");
            } else {
                assert_eq!(names, &want, "{listed} ({list})");
            }
        }
    }
    assert!(!by_listed.contains_key("203.0.113.250"));
}
