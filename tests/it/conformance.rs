//! Conformance over every NetFlow v5, v9 and IPFIX capture in the shared test data: each is
//! read with `CaptureReader`, decoded with a fresh `Decoder`, and checked three ways:
//! - against Wireshark's ground truth (`*.wireshark.csv`), record for record;
//! - for softflowd's exports of `own/input_traffic.pcap`, against the input's own flows
//!   (`input_traffic.expected_flows.csv`), start and end times included;
//! - against reviewed golden files of every decoded field (`tests/data/golden/`),
//!   rewritten instead when `FLOWALERT_BLESS=1`.
//!
//! Where Wireshark is wrong, `PINS` says what the right value is and why.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowalert::capture::CaptureReader;
use flowalert::flow::{Counters, Decoder, FlowRecord, Limits};

use crate::common::testdata;

/// Flow captures (v5, v9, IPFIX) under `captures/`; a changed count means a file was lost
/// or added without being looked at.
const FLOW_CAPTURES: usize = 85;

/// One decoded record and the capture frame whose datagram produced it.
struct Decoded {
    frame: u64,
    record: FlowRecord,
}

/// A capture decoded from start to end.
struct Run {
    records: Vec<Decoded>,
    /// (exporter, domain, template id) of every options template the capture defines.
    options_templates: HashSet<(IpAddr, u32, u16)>,
    counters: Counters,
    datagrams: u64,
}

fn decode_capture(path: &Path) -> Run {
    let mut reader =
        CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = Decoder::new(Limits::default());
    let mut run = Run {
        records: Vec::new(),
        options_templates: HashSet::new(),
        counters: Counters::default(),
        datagrams: 0,
    };

    let mut out = Vec::new();
    while let Some(d) = reader
        .next_datagram()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        let frame = reader.counters().frames;
        let exporter = flowalert::flow::canonical(d.src.ip());
        options_template_ids(exporter, &d.payload, &mut run.options_templates);
        decoder.decode(d.src.ip(), &d.payload, d.time_us / 1000, &mut out);
        run.records
            .extend(out.drain(..).map(|record| Decoded { frame, record }));
        run.datagrams += 1;
    }

    assert_eq!(
        reader.counters().frames,
        run.datagrams,
        "{}: every frame is one datagram",
        path.display()
    );
    run.counters = decoder.counters().clone();
    run
}

/// Finds the options templates in a v9 (flowset 1) or IPFIX (set 3) datagram, so the
/// options rows of Wireshark's CSV can be told from data records without addresses.
fn options_template_ids(exporter: IpAddr, d: &[u8], found: &mut HashSet<(IpAddr, u32, u16)>) {
    let be16 = |at: usize| d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let be32 = |at: usize| {
        d.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (header, wanted) = match be16(0) {
        Some(9) => (20, 1),
        Some(10) => (16, 3),
        _ => return,
    };
    let domain = be32(if header == 20 { 16 } else { 12 }).unwrap_or(0);

    let mut set = header;
    while let (Some(id), Some(len)) = (be16(set), be16(set + 2)) {
        let end = set + usize::from(len);
        if len < 4 || end > d.len() {
            return;
        }
        let mut at = set + 4;
        while id == wanted && at + 6 <= end {
            let (Some(tid), Some(a), Some(b)) = (be16(at), be16(at + 2), be16(at + 4)) else {
                break;
            };
            found.insert((exporter, domain, tid));
            at += if header == 20 {
                6 + usize::from(a) + usize::from(b)
            } else {
                ipfix_fields_end(d, at + 6, a) - at
            };
        }
        set = end;
    }
}

/// Where the `count` IPFIX field specifiers starting at `at` end.
fn ipfix_fields_end(d: &[u8], mut at: usize, count: u16) -> usize {
    for _ in 0..count {
        let enterprise = d.get(at).is_some_and(|b| b & 0x80 != 0);
        at += if enterprise { 8 } else { 4 };
    }
    at
}

// ---- Wireshark's ground truth ---------------------------------------------------------

/// One row of a `*.wireshark.csv`; `None` where Wireshark reported nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    frame: u64,
    exporter: IpAddr,
    domain: Option<u32>,
    version: u16,
    set_id: Option<u16>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    proto: Option<u8>,
    packets: Option<u64>,
    bytes: Option<u64>,
}

fn read_rows(csv: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(csv).expect("csv readable");
    text.lines().skip(1).map(parse_row).collect()
}

fn parse_row(line: &str) -> Row {
    let c: Vec<&str> = line.split(',').collect();
    assert!(c.len() >= 12, "short csv row: {line}");
    Row {
        frame: c[0].parse().expect("frame"),
        exporter: c[1].parse().expect("exporter"),
        domain: opt(c[2]),
        version: c[3].parse().expect("version"),
        set_id: opt(c[4]),
        src: opt(c[5]),
        dst: opt(c[6]),
        sport: opt(c[7]),
        dport: opt(c[8]),
        proto: opt(c[9]),
        packets: opt(c[10]),
        bytes: opt(c[11]),
    }
}

fn opt<T: std::str::FromStr>(cell: &str) -> Option<T> {
    if cell.is_empty() {
        None
    } else {
        Some(
            cell.parse()
                .ok()
                .unwrap_or_else(|| panic!("bad csv cell {cell:?}")),
        )
    }
}

/// True when every column Wireshark filled equals the decoded record.
fn row_matches(row: &Row, r: &FlowRecord) -> bool {
    let same = |want: Option<u64>, got: u64| want.map_or(true, |w| w == got);
    row.exporter == r.exporter
        && row.version == r.version
        && same(row.domain.map(u64::from), u64::from(r.domain))
        && (row.src.is_none() || row.src == r.src)
        && (row.dst.is_none() || row.dst == r.dst)
        && same(row.sport.map(u64::from), u64::from(r.src_port))
        && same(row.dport.map(u64::from), u64::from(r.dst_port))
        && same(row.proto.map(u64::from), u64::from(r.protocol))
        && same(row.packets, r.packets)
        && same(row.bytes, r.octets)
}

// ---- where Wireshark is wrong (see `pins.rs`) --------------------------------------

mod pins;

use pins::{Change, PINS};

/// Applies the pins of `file` to its rows; returns how many rows they added or changed.
fn apply_pins(file: &str, rows: &mut Vec<Row>) -> usize {
    let mut changed = 0;
    for pin in PINS.iter().filter(|p| p.file == file) {
        assert!(!pin.why.is_empty(), "{file}: a pin says why");
        match &pin.change {
            Change::Missed(lines) => {
                rows.extend(lines.iter().map(|l| parse_row(&format!("{l},,,"))));
                changed += lines.len();
            }
            Change::Rewrite(rewrites) => {
                let mut done = vec![false; rows.len()];
                for rw in rewrites.iter() {
                    let from = (rw.from.0.parse().ok(), rw.from.1.parse().ok());
                    let at = rows.iter().enumerate().position(|(i, r)| {
                        !done[i]
                            && r.frame == rw.frame
                            && (r.src, r.dst) == from
                            && (r.sport.unwrap_or(0), r.dport.unwrap_or(0)) == rw.ports
                            && r.bytes.unwrap_or(0) == rw.bytes
                    });
                    let at = at.unwrap_or_else(|| panic!("{file}: no row for pin {:?}", rw.from));
                    rows[at].src = Some(rw.to.0.parse().unwrap());
                    rows[at].dst = Some(rw.to.1.parse().unwrap());
                    done[at] = true;
                }
                changed += rewrites.len();
            }
        }
    }
    changed
}

/// Matches rows to records within each frame: addressed rows first, then the rest (data
/// records whose addresses the CSV script did not extract), each taking the first record
/// of its frame that agrees on every filled column. Options rows are not matched: the
/// decoder does not emit options records (they only set sampling and init-time state).
/// Returns how many rows were (options, data with addresses, data without addresses).
fn compare_with_wireshark(
    file: &str,
    run: &Run,
    rows: &[Row],
    problems: &mut Vec<String>,
) -> [usize; 3] {
    let is_options = |row: &Row| {
        let domain = row.domain.unwrap_or(0);
        row.src.is_none()
            && row.dst.is_none()
            && row
                .set_id
                .is_some_and(|id| run.options_templates.contains(&(row.exporter, domain, id)))
    };
    let options_rows = rows.iter().filter(|r| is_options(r)).count() as u64;
    if options_rows != run.counters.options_records {
        problems.push(format!(
            "{file}: {options_rows} options rows, decoder read {} options records",
            run.counters.options_records
        ));
    }
    let data_rows: Vec<&Row> = rows.iter().filter(|r| !is_options(r)).collect();
    let addressed = data_rows
        .iter()
        .filter(|r| r.src.is_some() || r.dst.is_some());
    let others = data_rows
        .iter()
        .filter(|r| r.src.is_none() && r.dst.is_none());
    let tally = [
        options_rows as usize,
        addressed.clone().count(),
        others.clone().count(),
    ];

    let mut taken = vec![false; run.records.len()];
    for row in addressed.chain(others) {
        let found =
            run.records.iter().enumerate().position(|(i, d)| {
                !taken[i] && d.frame == row.frame && row_matches(row, &d.record)
            });
        match found {
            Some(i) => taken[i] = true,
            None => problems.push(format!("{file}: no decoded record for {row:?}")),
        }
    }
    for (i, d) in run.records.iter().enumerate() {
        if !taken[i] {
            problems.push(format!(
                "{file}: frame {}: extra {}",
                d.frame,
                golden_line(d)
            ));
        }
    }
    tally
}

// ---- the input's own flows (softflowd) ------------------------------------------------

/// One unidirectional flow of `own/input_traffic.pcap`.
struct Expected {
    packets: u64,
    bytes: u64,
    /// Times in microseconds (the CSV has nanoseconds; the input has microseconds).
    first_us: i64,
    last_us: i64,
}

type FlowKey = (IpAddr, IpAddr, u16, u16, u8);

fn expected_flows() -> BTreeMap<FlowKey, Expected> {
    let path = testdata("captures/own/input_traffic.expected_flows.csv");
    let text = std::fs::read_to_string(path).expect("expected flows readable");
    let mut flows = BTreeMap::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let proto: u8 = c[4].parse().unwrap();
        // ICMP flows carry type << 8 | code where the ports would be (as NetFlow does).
        let (sport, dport) = match opt::<String>(c[5]) {
            Some(tc) => (0, icmp_type_code(&tc)),
            None => (c[2].parse().unwrap(), c[3].parse().unwrap()),
        };
        let key = (
            c[0].parse().unwrap(),
            c[1].parse().unwrap(),
            sport,
            dport,
            proto,
        );
        let e = Expected {
            packets: c[6].parse().unwrap(),
            bytes: c[7].parse().unwrap(),
            first_us: epoch_us(c[8]),
            last_us: epoch_us(c[9]),
        };
        assert!(flows.insert(key, e).is_none(), "duplicate flow {line}");
    }
    flows
}

/// `"8/0"` or `"0x0800"` style type/code to type << 8 | code.
fn icmp_type_code(tc: &str) -> u16 {
    if let Some(hex) = tc.strip_prefix("0x") {
        return u16::from_str_radix(hex, 16).expect("icmp hex");
    }
    let (t, c) = tc.split_once(['/', ':']).expect("icmp type/code");
    (t.parse::<u16>().unwrap() << 8) | c.parse::<u16>().unwrap()
}

/// `"1714564800.229444000"` to microseconds.
fn epoch_us(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').expect("epoch with fraction");
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000 + frac[..6].parse::<i64>().unwrap()
}

/// How precisely each softflowd export carries flow times, as the window
/// `[true - early_ms, true + late_ms]` a decoded time must fall in. softflowd keeps
/// microseconds and exports milliseconds, truncated.
fn time_window_ms(file: &str) -> (i64, i64) {
    if file.contains("_v9") {
        // sysUpTime-relative ms (21/22) against a header that carries whole seconds only
        // (unix_secs): the exporter's boot time, and so every flow time, is known to
        // within the second that the truncated export time hides.
        (1000, 0)
    } else {
        // v5 (uptime-relative, header with unix_nsecs), IPFIX flowStart/EndSysUpTime with
        // systemInitTimeMilliseconds (160), and -A milli (152/153): milliseconds.
        (1, 0)
    }
}

/// softflowd tracks a TCP/UDP conversation as one flow and exports both directions with
/// the conversation's first and last time; ICMP request and reply are separate flows.
fn conversation_times(flows: &BTreeMap<FlowKey, Expected>, key: &FlowKey) -> (i64, i64) {
    let own = &flows[key];
    let reverse = (key.1, key.0, key.3, key.2, key.4);
    match flows.get(&reverse) {
        Some(r) if key.4 != 1 && key.4 != 58 => {
            (own.first_us.min(r.first_us), own.last_us.max(r.last_us))
        }
        _ => (own.first_us, own.last_us),
    }
}

fn compare_with_input(file: &str, run: &Run, problems: &mut Vec<String>) {
    let flows = expected_flows();
    let (early, late) = time_window_ms(file);
    let biflow = file.contains("biflow");
    let mut seen = HashSet::new();
    for d in run.records.iter().filter(|d| d.record.has_address()) {
        let r = &d.record;
        // A biflow record with empty forward counters describes only its reverse
        // direction, whose counters FlowRecord does not carry (RFC 5103 reverse IEs).
        if biflow && r.packets == 0 {
            continue;
        }
        let (Some(src), Some(dst)) = (r.src, r.dst) else {
            problems.push(format!("{file}: record without both addresses"));
            continue;
        };
        let dport = if r.protocol == 1 || r.protocol == 58 {
            r.icmp_type_code.max(r.dst_port)
        } else {
            r.dst_port
        };
        let key = (src, dst, r.src_port, dport, r.protocol);
        let Some(e) = flows.get(&key) else {
            problems.push(format!("{file}: flow not in the input: {key:?}"));
            continue;
        };
        seen.insert(key);
        if (r.packets, r.octets) != (e.packets, e.bytes) {
            problems.push(format!(
                "{file}: {key:?}: packets/bytes {}/{} want {}/{}",
                r.packets, r.octets, e.packets, e.bytes
            ));
        }
        let (first_us, last_us) = conversation_times(&flows, &key);
        let within = |got: Option<i64>, want_us: i64| {
            got.is_some_and(|ms| {
                let diff_us = ms * 1000 - want_us;
                diff_us >= -(early + 1) * 1000 && diff_us <= late * 1000
            })
        };
        if !within(r.start, first_us) || !within(r.end, last_us) {
            problems.push(format!(
                "{file}: {key:?}: start/end {:?}/{:?} ms want {first_us}/{last_us} us",
                r.start, r.end
            ));
        }
    }
    let want = match file {
        // v5 carries no IPv6; a biflow export names each conversation once.
        f if f.contains("_v5") => flows.keys().filter(|k| k.0.is_ipv4()).count(),
        f if f.contains("biflow") => BIFLOW_FORWARD_FLOWS,
        _ => flows.len(),
    };
    if seen.len() != want {
        problems.push(format!(
            "{file}: {} input flows matched, want {want}",
            seen.len()
        ));
    }
}

/// Input flows a softflowd -b export names in its forward direction: 295 records with
/// addresses, less 41 whose forward counters are empty (37 ICMP replies and the 4 RSTs of
/// the IPv6 scan, each exported as the reverse of a conversation).
const BIFLOW_FORWARD_FLOWS: usize = 254;

// ---- golden files ---------------------------------------------------------------------

fn golden_line(d: &Decoded) -> String {
    let r = &d.record;
    let addr = |a: Option<IpAddr>| a.map_or("-".to_string(), |a| a.to_string());
    let num = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
    let direction = r.direction.map_or("-".to_string(), |d| d.to_string());
    format!(
        "frame={} exporter={} domain={} version={} src={} dst={} nat_src={} nat_dst={} \
         sport={} dport={} proto={} tcp_flags={:#x} icmp={:#06x} octets={} packets={} \
         start={} end={} in_if={} out_if={} direction={} sampling={}",
        d.frame,
        r.exporter,
        r.domain,
        r.version,
        addr(r.src),
        addr(r.dst),
        addr(r.nat_src),
        addr(r.nat_dst),
        r.src_port,
        r.dst_port,
        r.protocol,
        r.tcp_flags,
        r.icmp_type_code,
        r.octets,
        r.packets,
        num(r.start),
        num(r.end),
        r.input_if,
        r.output_if,
        direction,
        r.sampling,
    )
}

fn golden_text(file: &str, run: &Run) -> String {
    let mut text = format!("# {file}: {} records\n", run.records.len());
    for d in &run.records {
        let _ = writeln!(text, "{}", golden_line(d));
    }
    text
}

fn compare_with_golden(file: &str, run: &Run, problems: &mut Vec<String>) {
    let stem = Path::new(file)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(format!("{stem}.txt"));
    let text = golden_text(file, run);
    if std::env::var_os("FLOWALERT_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == text => {}
        Ok(want) => {
            let diff = want
                .lines()
                .zip(text.lines())
                .find(|(w, g)| w != g)
                .map(|(w, g)| format!("\n  want {w}\n  got  {g}"))
                .unwrap_or_else(|| " (line count differs)".to_string());
            problems.push(format!("{file}: golden {} differs{diff}", path.display()));
        }
        Err(_) => problems.push(format!(
            "{file}: no golden file {} (FLOWALERT_BLESS=1 writes it)",
            path.display()
        )),
    }
}

// ---- the tests ------------------------------------------------------------------------

/// Every pcap under `captures/`, relative to it, sorted.
fn all_captures() -> Vec<String> {
    let root = testdata("captures");
    let pattern = format!("{}/**/*.pcap", root.display());
    let mut files: Vec<String> = glob::glob(&pattern)
        .expect("glob")
        .map(|p| {
            let p = p.expect("readable path");
            p.strip_prefix(&root).unwrap().to_string_lossy().to_string()
        })
        .collect();
    files.sort();
    files
}

fn is_unsupported(file: &str) -> bool {
    file.contains("sflow") || file.contains("_v1_")
}

fn flow_captures() -> Vec<String> {
    all_captures()
        .into_iter()
        .filter(|f| !is_unsupported(f) && !f.ends_with("input_traffic.pcap"))
        .collect()
}

#[test]
#[ignore = "needs shared testdata"]
fn every_flow_capture_matches_wireshark_the_input_and_its_golden_file() {
    let files = flow_captures();
    assert_eq!(files.len(), FLOW_CAPTURES, "flow captures: {files:?}");

    let mut problems = Vec::new();
    let (mut records, mut rows_checked, mut pins, mut kinds) = (0, 0, 0, [0; 3]);
    for file in &files {
        let run = decode_capture(&testdata(&format!("captures/{file}")));
        let csv = testdata("captures").join(file.replace(".pcap", ".wireshark.csv"));
        let mut rows = if csv.exists() {
            read_rows(&csv)
        } else {
            Vec::new()
        };
        pins += apply_pins(file, &mut rows);
        rows_checked += rows.len();
        records += run.records.len();

        let tally = compare_with_wireshark(file, &run, &rows, &mut problems);
        kinds.iter_mut().zip(tally).for_each(|(k, t)| *k += t);
        if file.starts_with("own/softflowd_") {
            compare_with_input(file, &run, &mut problems);
        }
        compare_with_golden(file, &run, &mut problems);
    }

    eprintln!(
        "conformance: {} captures, {records} records, {rows_checked} Wireshark rows \
         ({} options, {} data with addresses, {} data without), {pins} rows pinned",
        files.len(),
        kinds[0],
        kinds[1],
        kinds[2]
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for pin in PINS {
        assert!(
            files.iter().any(|f| f == pin.file),
            "pin for unknown {}",
            pin.file
        );
    }
}

#[test]
#[ignore = "needs shared testdata"]
fn sflow_and_v1_captures_decode_to_nothing_and_count_unsupported_versions() {
    let files: Vec<String> = all_captures()
        .into_iter()
        .filter(|f| is_unsupported(f))
        .collect();
    let mut got = Vec::new();
    for file in &files {
        let run = decode_capture(&testdata(&format!("captures/{file}")));
        assert!(
            run.records.is_empty(),
            "{file}: decoded {} records",
            run.records.len()
        );
        assert_eq!(run.counters.datagrams, run.datagrams, "{file}");
        got.push((file.as_str(), run.counters.unsupported_version));
    }
    assert_eq!(
        got,
        [
            ("own/pmacctd_sfprobe_sflow5.pcap", 84),
            ("public/akvorado/akv_sflow5_samples.pcap", 11),
            ("public/goflow2/goflow2_sflow5.pcap", 5),
            (
                "public/python-netflow-v9-softflowd/pnf_v1_softflowd.pcap",
                1
            ),
        ]
    );
}

/// The exporters' input: 2224 Ethernet frames of TCP, UDP, ICMP, ICMPv6 and GRE. tshark
/// counts 170 UDP datagrams (8135 payload bytes), the first in frame 1920; the ICMP
/// port-unreachable that quotes a UDP header is not one.
#[test]
#[ignore = "needs shared testdata"]
fn input_traffic_capture_counts_every_frame() {
    let path = testdata("captures/own/input_traffic.pcap");
    let mut reader = CaptureReader::open(&path).expect("opens");
    let first = reader.next_datagram().unwrap().expect("a datagram");
    assert_eq!(reader.counters().frames, 1920);
    assert_eq!(first.time_us, 1_714_564_888_000_000);
    assert_eq!(first.src, "192.0.2.33:123".parse().unwrap());
    assert_eq!(first.dst, "203.0.113.123:123".parse().unwrap());
    assert_eq!(first.payload.len(), 48);

    let mut payload_bytes = first.payload.len();
    while let Some(d) = reader.next_datagram().unwrap() {
        payload_bytes += d.payload.len();
    }
    let c = reader.counters().clone();
    assert_eq!(
        (c.frames, c.datagrams, c.non_udp, payload_bytes),
        (2224, 170, 2054, 8135)
    );
    assert_eq!(c.frames, c.datagrams + c.non_udp);
}

/// editcap (Wireshark) rewrites a capture as pcapng and as nanosecond pcap: the reader
/// must return the same datagrams, times included, from all three.
#[test]
#[ignore = "needs tshark"]
fn editcap_pcapng_and_nanosecond_copies_read_the_same() {
    let original = testdata("captures/own/softflowd_v9_ipv6_transport.pcap");
    let dir = std::env::temp_dir().join(format!("flowalert-editcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let read_all = |path: &Path| {
        let mut reader = CaptureReader::open(path).expect("opens");
        let mut all = Vec::new();
        while let Some(d) = reader.next_datagram().expect("reads") {
            all.push(d);
        }
        all
    };
    let want = read_all(&original);
    assert_eq!(want.len(), 20);

    for format in ["pcapng", "nsecpcap"] {
        let copy = dir.join(format!("copy.{format}"));
        let status = std::process::Command::new("editcap")
            .args(["-F", format])
            .arg(&original)
            .arg(&copy)
            .status()
            .expect("editcap runs (apt-get install tshark)");
        assert!(status.success(), "editcap -F {format}");
        assert_eq!(read_all(&copy), want, "{format} copy");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
