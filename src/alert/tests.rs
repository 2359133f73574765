//! The contract's example records from flows, and folding with exact counts.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::*;
use crate::config::Alerts;
use crate::flow::FlowRecord;
use crate::intel::{Indicators, Listing};
use crate::output::{bsd_local, file_line, rfc5424};

/// A list scanned entry by entry: the reference any real set must agree with.
struct Naive(Vec<Entry>);

struct Entry {
    net: IpNet,
    entry: String,
    source: &'static str,
    comment: String,
    url: Option<String>,
}

impl Naive {
    fn new() -> Naive {
        Naive(Vec::new())
    }

    fn with(mut self, net: &str, source: &'static str, comment: &str, url: Option<&str>) -> Naive {
        self.0.push(Entry {
            net: net.parse().unwrap(),
            entry: net.into(),
            source,
            comment: comment.into(),
            url: url.map(Into::into),
        });
        self
    }
}

impl Indicators for Naive {
    fn listings<'a>(&'a self, addr: IpAddr, out: &mut Vec<Listing<'a>>) -> bool {
        let addr = crate::flow::canonical(addr);
        let before = out.len();
        for e in self.0.iter().filter(|e| e.net.contains(&addr)) {
            out.push(Listing {
                source: e.source,
                entry: e.entry.as_str().into(),
                comment: &e.comment,
                url: e.url.as_deref(),
            });
        }
        out.len() > before
    }
}

const PULSE: &str = "https://otx.alienvault.com/pulse/64e38336d783f91d6948a7b1";
/// 2026-12-03T19:47:09.517513Z, the first example's header time.
const T0: i64 = 1_796_327_229_517_513;
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;

fn set() -> Naive {
    Naive::new()
        .with("203.0.113.0/24", "drop", "SBL900001", None)
        .with(
            "2001:db8:bad::/48",
            "otx",
            "Example \"quoted\" pulse",
            Some(PULSE),
        )
        .with("2001:db8:bad::/48", "drop", "SBL900002", None)
}

fn home() -> Vec<IpNet> {
    vec![
        "192.0.2.0/24".parse().unwrap(),
        "2001:db8:1::/48".parse().unwrap(),
    ]
}

fn alerts(window: Duration, max_peers: usize, per_second: u32) -> Alerts {
    Alerts {
        repeat_window: window,
        max_peers,
        max_records_per_second: per_second,
    }
}

fn alerter() -> Alerter {
    Alerter::new(&alerts(Duration::from_secs(600), 100, 1000), &home())
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u16, start_ms: i64) -> FlowRecord {
    let mut flow = FlowRecord::new("192.0.2.241".parse().unwrap(), 9, 0);
    flow.src = Some(src.parse().unwrap());
    flow.dst = Some(dst.parse().unwrap());
    flow.src_port = sport;
    flow.dst_port = dport;
    flow.protocol = 6;
    flow.tcp_flags = flags;
    flow.packets = 3;
    flow.octets = 180;
    flow.start = Some(start_ms);
    flow
}

/// The scan of the first example: 203.0.113.9:44444 -> 192.0.2.10:22, SYN.
fn scan(start_ms: i64) -> FlowRecord {
    tcp("203.0.113.9", 44444, "192.0.2.10", 22, 0x02, start_ms)
}

/// The reply to it: same ends reversed, SYN+ACK from port 22.
fn reply(start_ms: i64) -> FlowRecord {
    tcp("192.0.2.10", 22, "203.0.113.9", 44444, 0x12, start_ms)
}

fn ping6() -> FlowRecord {
    let mut flow = FlowRecord::new("2001:db8::1".parse().unwrap(), 10, 0);
    flow.src = Some("2001:db8:1::12".parse().unwrap());
    flow.dst = Some("2001:db8:bad::5".parse().unwrap());
    flow.protocol = 58;
    flow.icmp_type_code = 128 << 8;
    flow.packets = 1;
    flow.octets = 64;
    flow.sampling = 1000;
    flow.start = Some(1_796_327_218_002);
    flow
}

const LINE_1: &str = "\
    2026-12-03T19:47:09.517513+00:00 fwcol flowalert[4711]: hit src=203.0.113.9 sport=44444 \
    dst=192.0.2.10 dport=22 proto=TCP dir=in match=src listed=203.0.113.9 lists=drop refs=- \
    start=2026-12-03T19:46:40.120Z exporter=192.0.2.241 sampling=1 packets=3 bytes=180 \
    names=\"SBL900001\"";
const LINE_2: &str = "\
    2026-12-03T19:47:09.517601+00:00 fwcol flowalert[4711]: hit src=2001:db8:1::12 sport=0 \
    dst=2001:db8:bad::5 dport=0 proto=IPV6-ICMP dir=out match=dst listed=2001:db8:bad::5 \
    lists=otx,drop refs=https://otx.alienvault.com/pulse/64e38336d783f91d6948a7b1 \
    start=2026-12-03T19:46:58.002Z exporter=2001:db8::1 sampling=1000 packets=1 bytes=64 \
    names=\"Example \\\"quoted\\\" pulse | SBL900002\"";
const LINE_3: &str = "\
    2026-12-03T19:57:09.000004+00:00 fwcol flowalert[4711]: repeat src=203.0.113.9 \
    dst=192.0.2.10 proto=TCP dir=in match=src listed=203.0.113.9 lists=drop peers=1 flows=57 \
    packets=171 bytes=10260 first=2026-12-03T19:46:40.120Z last=2026-12-03T19:56:58.004Z \
    names=\"SBL900001\"";
const LINE_4: &str = "\
    2026-12-03T20:02:00.000120+00:00 fwcol flowalert[4711]: status kind=exporter-silent \
    subject=192.0.2.241 detail=\"no datagram for 15m\"";

fn lines(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| file_line(e, "fwcol", 4711)).collect()
}

#[test]
fn contract_examples_byte_for_byte() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    alerter.on_flow(&scan(1_796_327_200_120), &set, T0, &mut out);
    alerter.on_flow(&ping6(), &set, T0 + 88, &mut out);
    assert_eq!(lines(&out), [LINE_1, LINE_2]);
    assert_eq!((out[0].severity, out[1].severity), (5, 4));

    // 56 more flows of the first pair, replies among them, all inside the window.
    out.clear();
    for i in 1..=55 {
        let flow = if i % 2 == 0 {
            reply(1_796_327_200_120 + i * 1000)
        } else {
            scan(1_796_327_200_120 + i * 1000)
        };
        alerter.on_flow(&flow, &set, T0 + i * SECOND, &mut out);
    }
    alerter.on_flow(&scan(1_796_327_818_004), &set, T0 + 9 * MINUTE, &mut out);
    assert!(out.is_empty(), "{:?}", lines(&out));

    alerter.flush(1_796_327_829_000_004, &mut out);
    assert_eq!(lines(&out), [LINE_3]);
    assert_eq!(out[0].severity, 6);

    let status = status_event(
        1_796_328_120_000_120,
        "exporter-silent",
        "192.0.2.241",
        "no datagram for 15m",
        4,
    );
    assert_eq!(file_line(&status, "fwcol", 4711), LINE_4);

    let counters = alerter.counters();
    assert_eq!(
        (counters.hits, counters.hit_records, counters.repeats_folded),
        (58, 2, 56)
    );
    assert_eq!((counters.repeat_records, counters.records_capped), (1, 0));
}

#[test]
fn contract_example_in_rfc5424_and_bsd_forms() {
    let set = set();
    let mut out = Vec::new();
    alerter().on_flow(&scan(1_796_327_200_120), &set, T0, &mut out);
    let message = &LINE_1[LINE_1.find("src=").unwrap()..];

    let network = rfc5424(&out[0], "fwcol", 4711, 3, 7, 0);
    let expected = format!(
        "<29>1 2026-12-03T19:47:09.517513+00:00 fwcol flowalert 4711 hit \
         [meta sequenceId=\"7\"] hit {message}"
    );
    assert_eq!(network, expected);

    let local = bsd_local(&out[0], 4711, 3);
    assert_eq!(
        local,
        format!("<29>Dec  3 19:47:09 flowalert[4711]: hit {message}")
    );
}

#[test]
fn rfc5424_parses_with_syslog_loose() {
    use syslog_loose::{parse_message, ProcId, Variant};

    let set = set();
    let mut out = Vec::new();
    alerter().on_flow(&ping6(), &set, T0, &mut out);
    let record = rfc5424(&out[0], "fwcol", 4711, 3, 12, 32473);
    let parsed = parse_message(&record, Variant::RFC5424);

    assert_eq!(parsed.hostname, Some("fwcol"));
    assert_eq!(parsed.appname, Some("flowalert"));
    assert_eq!(parsed.procid, Some(ProcId::PID(4711)));
    assert_eq!(parsed.msgid, Some("hit"));
    let sd: Vec<(&str, Vec<(&str, &str)>)> = parsed
        .structured_data
        .iter()
        .map(|e| (e.id, e.params.clone()))
        .collect();
    assert_eq!(
        sd,
        [
            ("meta", vec![("sequenceId", "12")]),
            ("flowalert@32473", vec![("kind", "hit")])
        ]
    );
    assert_eq!(parsed.msg, &LINE_2[LINE_2.find("hit src=").unwrap()..]);
    assert_eq!(parsed.timestamp.map(|t| t.timestamp_micros()), Some(T0));
}

/// Names with every awkward byte: each gives one record of printable ASCII within 1024.
#[test]
fn awkward_names_give_one_valid_record_each() {
    let huge = "x".repeat(10 * 1024);
    let cases = [
        "line\nbreak",
        "nul\0byte",
        "quote\"d",
        "back\\slash",
        "sd]close",
        "k=v",
        "Zürich ☃",
        &huge,
    ];
    for name in cases {
        let set = Naive::new().with("203.0.113.0/24", "drop", name, None);
        let mut out = Vec::new();
        alerter().on_flow(&scan(1_796_327_200_120), &set, T0, &mut out);
        assert_eq!(out.len(), 1, "{name:?}");
        for record in [
            file_line(&out[0], &"h".repeat(64), u32::MAX),
            rfc5424(&out[0], &"h".repeat(64), u32::MAX, 23, u64::MAX, u32::MAX),
        ] {
            assert!(record.len() < 1024, "{name:?}: {}", record.len());
            assert!(
                record.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{record}"
            );
        }
    }

    let names_of = |name: &str| {
        let set = Naive::new().with("203.0.113.0/24", "drop", name, None);
        let mut out = Vec::new();
        alerter().on_flow(&scan(1), &set, T0, &mut out);
        let message = out.remove(0).message;
        message[message.find("names=").unwrap()..].to_owned()
    };
    assert_eq!(names_of("line\nbreak"), "names=\"line\\x0abreak\"");
    assert_eq!(names_of("nul\0byte"), "names=\"nul\\x00byte\"");
    assert_eq!(names_of("quote\"d"), "names=\"quote\\\"d\"");
    assert_eq!(names_of("back\\slash"), "names=\"back\\\\slash\"");
    assert_eq!(names_of("sd]close k=v"), "names=\"sd]close k=v\"");
    assert_eq!(names_of("Zürich ☃"), "names=\"Z?rich ?\"");
    assert!(names_of(&huge).ends_with("xxx...\""));
}

#[test]
fn a_long_non_ascii_name_cut_before_escaping_still_ends_in_dots() {
    // 4000 two-byte characters: kept at 824 bytes, shown as 412 `?`, which fit.
    let name = format!("{}tail", "é".repeat(4000));
    let set = Naive::new().with("203.0.113.0/24", "drop", &name, None);
    let mut out = Vec::new();
    alerter().on_flow(&scan(1), &set, T0, &mut out);
    let message = &out[0].message;
    let names = &message[message.find("names=").unwrap()..];
    assert_eq!(names, format!("names=\"{}...\"", "?".repeat(412)));
}

#[test]
fn many_pulses_cut_refs_to_three_and_names_with_a_count() {
    let mut set = Naive::new();
    for i in 0..40 {
        let url = format!("https://otx.alienvault.com/pulse/{i:024x}");
        set = set.with(
            "203.0.113.0/24",
            "otx",
            &format!("Pulse number {i} with a longish name"),
            Some(&url),
        );
    }
    set = set.with("203.0.113.0/24", "drop", "SBL1", None);
    let mut out = Vec::new();
    alerter().on_flow(&scan(1), &set, T0, &mut out);
    let message = &out[0].message;

    assert!(message.contains(
        " lists=otx,drop refs=https://otx.alienvault.com/pulse/000000000000000000000000,"
    ));
    assert!(
        message.contains("/000000000000000000000002,+37 start="),
        "{message}"
    );
    let shown = message.matches("Pulse number").count();
    assert!(
        message.ends_with(&format!(" (+{} more)\"", 41 - shown)),
        "{message}"
    );
    assert!(file_line(&out[0], "fwcol", 1).len() <= 1024);
}

#[test]
fn window_closes_at_its_end_and_not_before() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    alerter.on_flow(&scan(1000), &set, T0, &mut out);
    alerter.on_flow(&scan(2000), &set, T0 + SECOND, &mut out);
    assert_eq!(alerter.next_deadline(), Some(T0 + 10 * MINUTE));

    alerter.tick(T0 + 10 * MINUTE - 1, &mut out);
    assert_eq!(out.len(), 1);
    alerter.tick(T0 + 10 * MINUTE, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].kind, Kind::Repeat);
    assert!(out[1]
        .message
        .contains(" peers=1 flows=2 packets=6 bytes=360 "));
    assert_eq!(alerter.next_deadline(), None);

    // The next flow opens a new window with a hit of its own.
    alerter.on_flow(&scan(3000), &set, T0 + 11 * MINUTE, &mut out);
    assert_eq!(out[2].kind, Kind::Hit);
}

#[test]
fn a_lone_hit_makes_no_repeat() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    alerter.on_flow(&scan(1000), &set, T0, &mut out);
    alerter.tick(T0 + 11 * MINUTE, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(alerter.counters().repeat_records, 0);
}

#[test]
fn a_flow_after_the_window_closes_it_first() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    alerter.on_flow(&scan(1000), &set, T0, &mut out);
    alerter.on_flow(&scan(2000), &set, T0 + SECOND, &mut out);
    alerter.on_flow(&scan(3000), &set, T0 + 10 * MINUTE, &mut out);
    let kinds: Vec<Kind> = out.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [Kind::Hit, Kind::Repeat, Kind::Hit]);
}

#[test]
fn scan_replies_never_become_outbound_hits() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    alerter.on_flow(&scan(1000), &set, T0, &mut out);
    alerter.on_flow(&reply(1001), &set, T0 + 1, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].message.contains(" dir=in match=src "));

    // The reply alone (its scan sampled away) is still inbound, matched on dst.
    let mut fresh = Vec::new();
    super::Alerter::new(&alerts(Duration::from_secs(600), 100, 1000), &home()).on_flow(
        &reply(1001),
        &set,
        T0,
        &mut fresh,
    );
    assert!(fresh[0]
        .message
        .contains(" dir=in match=dst listed=203.0.113.9 "));
}

#[test]
fn outbound_connection_and_its_reply_fold_as_out() {
    let set = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    let request = tcp("192.0.2.10", 51000, "203.0.113.9", 443, 0x1b, 1000);
    let answer = tcp("203.0.113.9", 443, "192.0.2.10", 51000, 0x1b, 1001);
    alerter.on_flow(&request, &set, T0, &mut out);
    alerter.on_flow(&answer, &set, T0 + 1, &mut out);
    alerter.flush(T0 + 2, &mut out);
    assert_eq!(out.len(), 2);
    assert!(out[0].message.contains(" dir=out match=dst "));
    assert_eq!(out[0].severity, 4);
    assert!(out[1]
        .message
        .contains(" dir=out match=dst listed=203.0.113.9 lists=drop peers=1 flows=2 "));
}

#[test]
fn sweep_of_a_slash_16_folds_past_max_peers() {
    let set = set();
    let settings = alerts(Duration::from_secs(600), 100, 0);
    let mut alerter = Alerter::new(&settings, &["10.1.0.0/16".parse().unwrap()]);
    let mut out = Vec::new();
    for i in 0..65_536u32 {
        let target = std::net::Ipv4Addr::from(0x0a01_0000 | i).to_string();
        let flow = tcp("203.0.113.9", 40000, &target, 23, 0x02, 5000);
        alerter.on_flow(&flow, &set, T0 + i64::from(i), &mut out);
    }
    // A retry to a swept peer is a flow, not a new peer.
    alerter.on_flow(
        &tcp("203.0.113.9", 40001, "10.1.2.3", 23, 0x02, 6000),
        &set,
        T0 + 70_000,
        &mut out,
    );
    assert_eq!(out.len(), 100);
    assert!(out.iter().all(|e| e.kind == Kind::Hit));

    alerter.tick(T0 + 11 * MINUTE, &mut out);
    assert_eq!(out.len(), 101);
    let sweep = &out[100].message;
    assert_eq!(
        sweep,
        "src=203.0.113.9 dst=10.1.0.100 proto=TCP dir=in match=src listed=203.0.113.9 lists=drop \
         peers=65436 flows=65437 packets=196311 bytes=11778660 first=1970-01-01T00:00:05.000Z \
         last=1970-01-01T00:00:06.000Z names=\"SBL900001\""
    );
    let c = alerter.counters();
    assert_eq!(
        (c.hits, c.hit_records, c.repeats_folded, c.repeat_records),
        (65_537, 100, 65_437, 1)
    );
    assert_eq!(alerter.pairs(), 0);
}

#[test]
fn rate_cap_counts_what_it_does_not_write() {
    let set = set();
    let settings = alerts(Duration::from_secs(600), 0, 10);
    let mut alerter = Alerter::new(&settings, &home());
    let mut out = Vec::new();
    for i in 0..25u32 {
        let target = std::net::Ipv4Addr::from(0xc000_0200 | i).to_string();
        alerter.on_flow(
            &tcp("203.0.113.9", 40000, &target, 22, 2, 1),
            &set,
            T0 + i64::from(i),
            &mut out,
        );
    }
    assert_eq!(out.len(), 10);
    // The next second has room again.
    alerter.on_flow(
        &tcp("203.0.113.9", 40000, "192.0.2.200", 22, 2, 1),
        &set,
        T0 + SECOND,
        &mut out,
    );
    assert_eq!(out.len(), 11);
    let c = alerter.counters();
    assert_eq!((c.hits, c.hit_records, c.records_capped), (26, 11, 15));
}

#[test]
fn full_table_closes_the_oldest_window_early() {
    let set = set();
    let mut alerter = alerter().with_table_cap(2);
    let mut out = Vec::new();
    let to = |host: &str| tcp("203.0.113.9", 40000, host, 22, 2, 1);
    alerter.on_flow(&to("192.0.2.1"), &set, T0, &mut out);
    alerter.on_flow(&to("192.0.2.1"), &set, T0 + 1, &mut out);
    alerter.on_flow(&to("192.0.2.2"), &set, T0 + 2, &mut out);
    alerter.on_flow(&to("192.0.2.3"), &set, T0 + 3, &mut out);
    let kinds: Vec<Kind> = out.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [Kind::Hit, Kind::Hit, Kind::Repeat, Kind::Hit]);
    assert!(out[2].message.starts_with("src=203.0.113.9 dst=192.0.2.1 "));
    assert_eq!(alerter.counters().pairs_evicted, 1);
    assert_eq!(alerter.pairs(), 2);
}

#[test]
fn both_ends_listed_give_two_hits_and_nat_matches() {
    let set = Naive::new().with("203.0.113.0/24", "drop", "A", None).with(
        "198.51.100.0/24",
        "edrop",
        "B",
        None,
    );
    let mut out = Vec::new();
    let mut alerter = alerter();
    alerter.on_flow(
        &tcp("203.0.113.9", 40000, "198.51.100.1", 22, 2, 1),
        &set,
        T0,
        &mut out,
    );
    assert_eq!(out.len(), 2);
    assert!(out[0]
        .message
        .contains(" match=src listed=203.0.113.9 lists=drop "));
    assert!(out[1]
        .message
        .contains(" match=dst listed=198.51.100.1 lists=edrop "));

    let mut nat = tcp("192.0.2.10", 40000, "10.9.9.9", 443, 2, 1);
    nat.nat_dst = Some("198.51.100.77".parse().unwrap());
    alerter.on_flow(&nat, &set, T0 + 1, &mut out);
    assert!(out[2]
        .message
        .contains(" dst=10.9.9.9 dport=443 proto=TCP dir=out match=dst listed=198.51.100.77 "));
}

#[test]
fn missing_start_uses_the_record_time_and_no_ports_are_zero() {
    let set = set();
    let mut flow = tcp("203.0.113.9", 7, "192.0.2.10", 9, 0, 1);
    flow.start = None;
    flow.protocol = 47;
    let mut out = Vec::new();
    alerter().on_flow(&flow, &set, T0, &mut out);
    assert!(out[0]
        .message
        .contains(" sport=0 dst=192.0.2.10 dport=0 proto=GRE dir=unknown "));
    assert!(out[0].message.contains(" start=2026-12-03T19:47:09.517Z "));
}

#[test]
fn status_detail_escaped_and_severities() {
    let event = status_event(
        T0,
        "build-failed",
        "drop list",
        "line 3:\n\"bad\"",
        status_severity("build-failed"),
    );
    assert_eq!(
        event.message,
        "kind=build-failed subject=drop%20list detail=\"line 3:\\x0a\\\"bad\\\"\""
    );
    assert_eq!(event.severity, 3);
    assert_eq!(status_severity("sink-dropped"), 4);
}

#[test]
fn a_new_set_reopens_only_the_windows_whose_sources_changed() {
    let old = set();
    let mut alerter = alerter();
    let mut out = Vec::new();
    let other_host = |start_ms| tcp("203.0.113.9", 40000, "192.0.2.20", 22, 2, start_ms);
    alerter.on_flow(&scan(1000), &old, T0, &mut out);
    alerter.on_flow(&other_host(1000), &old, T0, &mut out);
    assert_eq!(out.len(), 2);

    // The same sources: both windows go on folding, with no record.
    alerter.new_set();
    alerter.on_flow(&reply(2000), &old, T0 + SECOND, &mut out);
    alerter.on_flow(&other_host(2000), &old, T0 + SECOND, &mut out);
    assert_eq!(out.len(), 2);

    // A pulse now lists the scanner too: each window's next flow closes it (with a repeat
    // for its two flows) and is a hit naming both sources.
    let new = set().with("203.0.113.9/32", "otx", "Scanner pulse", Some(PULSE));
    alerter.new_set();
    alerter.on_flow(&scan(3000), &new, T0 + 2 * SECOND, &mut out);
    let text = lines(&out[2..]);
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(text[0].contains(": repeat src=203.0.113.9 dst=192.0.2.10 "));
    assert!(text[0].contains(" lists=drop peers=1 flows=2 "));
    assert!(text[1].contains(": hit src=203.0.113.9 sport=44444 dst=192.0.2.10 "));
    assert!(text[1].contains(" lists=drop,otx refs=https://otx.alienvault.com/pulse/"));
    assert!(text[1].ends_with(" names=\"SBL900001 | Scanner pulse\""));

    // Later flows of the reopened window fold again, under the new set.
    alerter.on_flow(&scan(4000), &new, T0 + 3 * SECOND, &mut out);
    assert_eq!(out.len(), 4);

    // The other window's end was never touched: it closes at its time with its two flows;
    // the reopened window's first end, left in the queue, closes nothing.
    alerter.tick(T0 + 10 * MINUTE, &mut out);
    let text = lines(&out[4..]);
    assert_eq!(text.len(), 1, "{text:#?}");
    assert!(text[0].contains(": repeat src=203.0.113.9 dst=192.0.2.20 "));
    assert!(text[0].contains(" flows=2 "));
    assert_eq!(alerter.pairs(), 1);
    alerter.flush(T0 + 11 * MINUTE, &mut out);
    let text = lines(&out[5..]);
    assert_eq!(text.len(), 1, "{text:#?}");
    assert!(text[0].contains(" lists=drop,otx peers=1 flows=2 "));
    let counters = alerter.counters();
    assert_eq!(
        (counters.hits, counters.hit_records, counters.repeats_folded),
        (6, 3, 3)
    );
    assert_eq!((counters.repeat_records, counters.pairs_evicted), (3, 0));
}

#[test]
fn a_reopened_window_is_a_hit_even_past_max_peers_and_its_old_end_evicts_nothing() {
    let old = set();
    let new = set().with("203.0.113.9/32", "otx", "Scanner pulse", Some(PULSE));
    let mut alerter =
        Alerter::new(&alerts(Duration::from_secs(600), 1, 1000), &home()).with_table_cap(1);
    let mut out = Vec::new();
    alerter.on_flow(&scan(1000), &old, T0, &mut out);
    alerter.new_set();
    // Its peer was counted when the window first opened: the reopened window is a hit,
    // not a sweep past `max-peers = 1`.
    alerter.on_flow(&scan(2000), &new, T0 + SECOND, &mut out);
    let text = lines(&out);
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(text[1].contains(": hit src=203.0.113.9 ") && text[1].contains(" lists=drop,otx "));
    // The table holds one pair; the first window's end is still queued ahead of the
    // reopened one's. A new pair evicts the reopened window, counted once.
    let other = tcp("203.0.113.9", 40000, "192.0.2.20", 22, 2, 3000);
    alerter.on_flow(&other, &new, T0 + 2 * SECOND, &mut out);
    let counters = alerter.counters();
    assert_eq!(counters.pairs_evicted, 1);
    assert_eq!(alerter.pairs(), 1);
    assert_eq!(
        (
            counters.hit_records,
            counters.repeats_folded,
            counters.repeat_records
        ),
        (2, 1, 0)
    );
}
