//! Regression tests for the datagrams that broke other collectors
//! (`vectors/README.md` in the shared test data says what each must produce).

use std::net::IpAddr;

use flowalert::flow::{Counters, Decoder, FlowRecord, Limits};

use crate::common::testdata;

const NOW_MS: i64 = 1_796_400_000_000;

fn exporter() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

/// Decodes one vector file with a fresh decoder.
fn decode(name: &str) -> (Decoder, Vec<FlowRecord>) {
    let path = testdata(&format!("vectors/{name}"));
    let bytes = std::fs::read(&path).expect("vector readable");
    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    d.decode(exporter(), &bytes, NOW_MS, &mut out);
    (d, out)
}

fn counters(build: impl FnOnce(&mut Counters)) -> Counters {
    let mut c = Counters {
        datagrams: 1,
        ..Counters::default()
    };
    build(&mut c);
    c
}

#[test]
#[ignore = "needs shared testdata"]
fn zero_len_field_template_is_rejected_and_its_data_held() {
    let (d, out) = decode("zero_len_field.bin");
    assert!(out.is_empty());
    let want = counters(|c| {
        c.malformed_template = 1;
        c.sets_no_template = 1;
    });
    assert_eq!(d.counters(), &want);
    assert_eq!(d.templates_known(), 0);
}

#[test]
#[ignore = "needs shared testdata"]
fn msglen_too_big_rejects_the_datagram() {
    let (d, out) = decode("msglen_too_big.bin");
    assert!(out.is_empty());
    assert_eq!(d.counters(), &counters(|c| c.malformed_header = 1));
}

#[test]
#[ignore = "needs shared testdata"]
fn set_len_zero_stops_at_the_set() {
    let (d, out) = decode("set_len_zero.bin");
    assert!(out.is_empty());
    assert_eq!(d.counters(), &counters(|c| c.malformed_set = 1));
}

#[test]
#[ignore = "needs shared testdata"]
fn short_header_is_rejected() {
    let (d, out) = decode("short_header.bin");
    assert!(out.is_empty());
    assert_eq!(d.counters(), &counters(|c| c.malformed_header = 1));
}

#[test]
#[ignore = "needs shared testdata"]
fn v5_count_lies_decodes_the_one_whole_record() {
    let (d, out) = decode("v5_count_lies.bin");
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!(r.src, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(r.dst, Some("198.51.100.1".parse().unwrap()));
    assert_eq!((r.protocol, r.packets, r.octets), (6, 1, 60));
    assert_eq!((r.version, r.exporter, r.sampling), (5, exporter(), 1));
    let want = counters(|c| {
        c.records_v5 = 1;
        c.count_mismatch = 1;
    });
    assert_eq!(d.counters(), &want);
}

#[test]
#[ignore = "needs shared testdata"]
fn withdraw_then_data_gives_no_flows_and_the_held_set_expires() {
    let (mut d, out) = decode("withdraw_then_data.bin");
    assert!(out.is_empty());
    let mut want = counters(|c| {
        c.templates_defined = 1;
        c.templates_withdrawn = 1;
        c.sets_no_template = 1;
    });
    assert_eq!(d.counters(), &want);

    d.expire(NOW_MS + Limits::default().hold_time_ms + 1);
    want.held_sets_expired = 1;
    assert_eq!(d.counters(), &want);
}

#[test]
#[ignore = "needs shared testdata"]
fn mikrotik_unpadded_flowset_without_template_is_held() {
    let (d, out) = decode("mikrotik_v9_unpadded_flowset_no_template.bin");
    assert!(out.is_empty());
    assert_eq!(d.counters(), &counters(|c| c.sets_no_template = 1));
}

/// (src, sport, dst, dport, proto, bytes) of the six softflowd flows, in wire order.
const SOFTFLOWD_FLOWS: [(&str, u16, &str, u16, u8, u64); 6] = [
    ("198.51.100.9", 5353, "192.0.2.10", 53, 17, 2640),
    ("192.0.2.12", 0, "203.0.113.5", 0, 1, 1080),
    ("2001:db8::11", 40003, "2001:db8:bad::66", 123, 17, 3240),
    ("192.0.2.10", 40000, "198.51.100.7", 443, 6, 4200),
    ("192.0.2.11", 40001, "203.0.113.66", 22, 6, 4200),
    ("2001:db8::10", 40002, "2001:db8:ffff::1", 80, 6, 4800),
];

/// Start of every softflowd flow: the IPFIX init time (IE 160) and v9 boot + 0.
const SOFTFLOWD_START_MS: i64 = 1_796_325_213_000;

fn assert_softflowd_flows(out: &[FlowRecord], version: u16) {
    assert_eq!(out.len(), 6);
    for (r, want) in out.iter().zip(SOFTFLOWD_FLOWS) {
        let (src, sport, dst, dport, proto, bytes) = want;
        assert_eq!(r.src, Some(src.parse().unwrap()));
        assert_eq!(r.dst, Some(dst.parse().unwrap()));
        assert_eq!((r.src_port, r.dst_port, r.protocol), (sport, dport, proto));
        assert_eq!((r.packets, r.octets, r.version), (30, bytes, version));
        assert_eq!(r.start, Some(SOFTFLOWD_START_MS));
        assert_eq!(r.end, Some(SOFTFLOWD_START_MS + 29_000));
        assert_eq!(r.sampling, 1);
    }
    // The ICMP flow carries type 8 code 0 in IE 32.
    assert_eq!(out[1].icmp_type_code, 0x0800);
}

#[test]
#[ignore = "needs shared testdata"]
fn softflowd_v9_count_unaligned_gives_all_six_flows() {
    let (d, out) = decode("softflowd_v9_count_unaligned.bin");
    assert_softflowd_flows(&out, 9);
    let want = counters(|c| {
        c.records_v9 = 6;
        c.options_records = 1;
        c.templates_defined = 5;
    });
    assert_eq!(d.counters(), &want);
}

#[test]
#[ignore = "needs shared testdata"]
fn softflowd_ipfix_sysuptime_init_times_start_at_init() {
    let (d, out) = decode("softflowd_ipfix_sysuptime_init.bin");
    assert_softflowd_flows(&out, 10);
    let want = counters(|c| {
        c.records_ipfix = 6;
        c.options_records = 1;
        c.templates_defined = 5;
    });
    assert_eq!(d.counters(), &want);
}

#[path = "../../benches/pcap_udp.rs"]
mod pcap_udp;

/// Every data record of a capture, decoded with one decoder in capture order.
fn decode_capture(relative: &str) -> (Decoder, Vec<FlowRecord>) {
    let bytes = std::fs::read(testdata(relative)).expect("capture readable");
    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    for udp in pcap_udp::udp_datagrams(&bytes) {
        d.decode(udp.src, &udp.payload, udp.time_ms, &mut out);
    }
    (d, out)
}

/// (src, dst, sport, dport, proto, packets, bytes) of the records with an address in a
/// Wireshark ground-truth file.
fn wireshark_rows(relative: &str) -> Vec<String> {
    let text = std::fs::read_to_string(testdata(relative)).expect("ground truth readable");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let cols = f.get(5..12)?;
            // A record without port fields shows no ports in Wireshark; ours are 0.
            let cols: Vec<&str> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if c.is_empty() && (i == 2 || i == 3) {
                        "0"
                    } else {
                        c
                    }
                })
                .collect();
            (!cols[0].is_empty()).then(|| cols.join(","))
        })
        .collect()
}

fn our_rows(out: &[FlowRecord]) -> Vec<String> {
    let show = |a: Option<IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    out.iter()
        .filter(|r| r.has_address())
        .map(|r| {
            let sport = r.src_port.to_string();
            let dport = r.dst_port.to_string();
            let fields = [
                show(r.src),
                show(r.dst),
                sport,
                dport,
                r.protocol.to_string(),
            ];
            format!("{},{},{}", fields.join(","), r.packets, r.octets)
        })
        .collect()
}

/// The softflowd and pmacct captures made here, decoded record for record like Wireshark
/// (a sanity check; the full conformance test lives elsewhere).
#[test]
#[ignore = "needs shared testdata"]
fn own_captures_decode_like_wireshark() {
    for name in [
        "softflowd_v5",
        "softflowd_v9",
        "softflowd_v9_ipv6_transport",
        "softflowd_ipfix",
        "softflowd_ipfix_abs_millis",
        "pmacctd_nfprobe_v5",
        "pmacctd_nfprobe_v9",
        "pmacctd_nfprobe_ipfix",
        "nfreplay_v5",
        "nfreplay_v9",
    ] {
        let (d, out) = decode_capture(&format!("captures/own/{name}.pcap"));
        let want = wireshark_rows(&format!("captures/own/{name}.wireshark.csv"));
        let ours = our_rows(&out);
        let first_diff = ours.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!(
            first_diff,
            None,
            "{name}: {:?}",
            first_diff.map(|i| (&ours[i], &want[i]))
        );
        assert_eq!(ours.len(), want.len(), "{name}");
        let c = d.counters();
        let bad = c.malformed_header + c.malformed_set + c.malformed_template + c.sets_no_template;
        assert_eq!(bad, 0, "{name}: {c:?}");
    }
}
