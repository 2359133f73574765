//! Where Wireshark's ground truth is wrong, the right values, each with the reason.
//!
//! Every value here was checked against the bytes: by tshark on a copy of the capture with
//! the template flowsets moved first (data before template), with the offending template
//! field renamed (H3C), or by reading the datagram by hand (as noted).

/// A correction to one capture's `*.wireshark.csv`.
pub struct Pin {
    pub file: &'static str,
    pub why: &'static str,
    pub change: Change,
}

pub enum Change {
    /// Records Wireshark does not show at all, as CSV rows without the last three columns
    /// (set id left empty for data records).
    Missed(&'static [&'static str]),
    /// Rows whose addresses the CSV got wrong.
    Rewrite(&'static [Rewrite]),
}

/// In `frame`, the row with addresses `from`, these ports and bytes really has `to`.
pub struct Rewrite {
    pub frame: u64,
    pub from: (&'static str, &'static str),
    pub ports: (u16, u16),
    pub bytes: u64,
    pub to: (&'static str, &'static str),
}

#[allow(clippy::too_many_arguments)]
const fn rw(
    frame: u64,
    from_src: &'static str,
    from_dst: &'static str,
    sport: u16,
    dport: u16,
    bytes: u64,
    to_src: &'static str,
    to_dst: &'static str,
) -> Rewrite {
    Rewrite {
        frame,
        from: (from_src, from_dst),
        ports: (sport, dport),
        bytes,
        to: (to_src, to_dst),
    }
}

/// The CSV takes `cflow.srcaddr` (IPv4) before `cflow.srcaddr_v6`. These templates carry
/// both families and zero the one a flow does not use, so the CSV shows 0.0.0.0 where
/// Wireshark itself shows the IPv6 address next to it.
const BOTH_FAMILIES: &str = "template has IPv4 and IPv6 address fields; the CSV shows the \
    zeroed IPv4 pair, Wireshark's tree shows the IPv6 pair the decoder reports";

// Template 340 (Cisco IOS XR SRv6) carries the outer IPv6 header (27/28, protocol 4) and
// the inner IPv4 packet (8/12). Where both families are real the decoder keeps the IPv4
// pair, the endpoints a blocklist names (the outer pair are SRv6 locators), which is also
// what the CSV shows; Wireshark's tree shows both. Nothing to pin.

pub const PINS: &[Pin] = &[
    Pin {
        file: "public/akvorado/akv_nf9_data+templates.pcap",
        why: "a data flowset precedes its template 257 in the same datagram; Wireshark \
              dissects in one pass and reports 'no template found' for these 11 records \
              (tshark on a copy with the template flowsets first shows exactly these)",
        change: Change::Missed(&[
            "1,102.102.144.1,17170432,9,,120.120.28.238,120.120.244.112,63308,31424,17,1,48",
            "1,102.102.144.1,17170432,9,,120.120.210.6,120.120.185.250,45372,3125,6,1,60",
            "1,102.102.144.1,17170432,9,,120.120.210.6,120.120.253.150,50278,3125,6,1,60",
            "1,102.102.144.1,17170432,9,,120.120.147.170,120.120.215.66,33161,21696,17,1,132",
            "1,102.102.144.1,17170432,9,,120.120.210.6,120.120.131.234,58544,8888,6,1,60",
            "1,102.102.144.1,17170432,9,,120.120.147.178,120.120.208.106,42403,443,17,2,2556",
            "1,102.102.144.1,17170432,9,,120.120.147.170,120.120.158.246,33161,21085,17,1,132",
            "1,102.102.144.1,17170432,9,,120.120.193.38,120.120.144.6,53,53937,17,1,153",
            "1,102.102.144.1,17170432,9,,120.120.46.163,120.120.15.78,57237,80,6,7,444",
            "1,102.102.144.1,17170432,9,,120.120.15.78,120.120.7.36,23938,80,6,1,40",
            "1,102.102.144.1,17170432,9,,120.120.5.4,120.120.135.169,53595,1,6,1,52",
        ]),
    },
    Pin {
        file: "public/python-netflow-v9-softflowd/pnf_v9_softflowd_data_before_template.pcap",
        why: "upstream's reordered datagram: the data flowset comes before both templates; \
              Wireshark misses it (the same 8 flows as frame 1 of pnf_v9_softflowd.pcap, \
              and as tshark shows with the templates moved first)",
        change: Change::Missed(&[
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,80,37932,6,75,102416",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,37932,80,6,54,3988",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,80,37940,6,42,54268",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,37940,80,6,30,2633",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,80,37930,6,3,662",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,37930,80,6,2,104",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,53,46025,17,1,76",
            "1,192.0.2.170,0,9,,127.0.0.1,127.0.0.1,46025,53,17,1,60",
        ]),
    },
    Pin {
        file: "public/logstash-codec-netflow/lcn_nf9_h3c.pcap",
        why: "the H3C template has IPV4_ROUTER_SC (43) with length 2; Wireshark 4.0 throws \
              'Trying to fetch an IPv4 address with length 2' after the first record and \
              drops the other 15 (tshark with field 43 renamed to an unknown type shows \
              all 16; the decoder skips the 2-byte field)",
        change: Change::Missed(&[
            "2,192.0.2.113,2816,9,,10.22.166.12,10.21.3.172,0,0,6,6,6200",
            "2,192.0.2.113,2816,9,,10.22.166.33,10.22.178.37,0,0,6,21,11896",
            "2,192.0.2.113,2816,9,,10.22.166.35,10.20.100.253,0,0,6,3,1041",
            "2,192.0.2.113,2816,9,,10.22.166.36,10.20.136.36,0,0,6,20,1740",
            "2,192.0.2.113,2816,9,,10.22.166.36,10.20.147.28,0,0,6,16,2998",
            "2,192.0.2.113,2816,9,,10.22.166.28,10.20.141.16,0,0,6,37,55773",
            "2,192.0.2.113,2816,9,,10.22.166.35,10.20.162.17,0,0,6,2135,3239438",
            "2,192.0.2.113,2816,9,,10.22.166.15,10.20.171.36,0,0,6,20,5701",
            "2,192.0.2.113,2816,9,,10.22.166.2,10.22.208.12,0,0,6,2804,4255012",
            "2,192.0.2.113,2816,9,,10.22.166.28,10.22.196.21,0,0,6,25,37557",
            "2,192.0.2.113,2816,9,,10.22.166.25,10.22.202.15,0,0,6,68,23676",
            "2,192.0.2.113,2816,9,,10.22.166.25,10.20.166.26,0,0,6,30,22821",
            "2,192.0.2.113,2816,9,,10.22.166.12,10.21.3.117,0,0,6,2,526",
            "2,192.0.2.113,2816,9,,10.22.166.17,10.22.145.26,0,0,6,220,33129",
            "2,192.0.2.113,2816,9,,10.22.166.36,10.21.75.38,0,0,6,9,5092",
        ]),
    },
    Pin {
        file: "public/logstash-codec-netflow/lcn_nf9_invalid.pcap",
        why: "header count 2 but the datagram holds 6 records (2 templates, options \
              template 256, its sampling record with interval 100, one IPv6 and one IPv4 \
              flow of templates 2048/1024, read by hand); Wireshark stops at the count, \
              RFC 3954 collectors walk flowsets by length",
        change: Change::Missed(&[
            // The options record (set 256: sampling interval 100), then the two flows.
            "1,192.0.2.111,0,9,256,,,,,,,",
            concat!(
                "1,192.0.2.111,0,9,,2001:44b8:1118:7200::10,",
                "2001:44b8:4030:cd91:8075:bae:d39d:2621,123,123,17,1,96"
            ),
            "1,192.0.2.111,0,9,,192.168.0.1,192.168.0.105,53,55575,17,1,98",
        ]),
    },
    Pin {
        file: "public/logstash-codec-netflow/lcn_ipfix_procera.pcap",
        why: BOTH_FAMILIES,
        change: Change::Rewrite(&[
            rw(
                2,
                "0.0.0.0",
                "0.0.0.0",
                136,
                135,
                0,
                "2001:388:cf0a:6::1",
                "2001:388:cf0a:6::2",
            ),
            rw(
                2,
                "0.0.0.0",
                "0.0.0.0",
                136,
                135,
                0,
                "2001:388:cf0a:6::1",
                "2001:388:cf0a:6::2",
            ),
        ]),
    },
    Pin {
        file: "public/pmacct-test-automation/pta_501_ipfix_cisco_xr7101_ipv6_mpls_udp_only.pcap",
        why: BOTH_FAMILIES,
        change: Change::Rewrite(&[
            rw(
                17,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116400,
                "2001:db8::13",
                "2001:db8::12",
            ),
            rw(
                17,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::14",
                "2001:db8::12",
            ),
            rw(
                43,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::16",
                "2001:db8::12",
            ),
            rw(
                44,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::15",
                "2001:db8::12",
            ),
            rw(
                48,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116594,
                "2001:db8::14",
                "2001:db8::12",
            ),
            rw(
                48,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116594,
                "2001:db8::15",
                "2001:db8::12",
            ),
            rw(
                48,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116594,
                "2001:db8::16",
                "2001:db8::12",
            ),
            rw(
                64,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116594,
                "2001:db8::13",
                "2001:db8::12",
            ),
            rw(
                64,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::14",
                "2001:db8::12",
            ),
        ]),
    },
    Pin {
        file: "public/pmacct-test-automation/pta_502_ipfix_cisco_xr7101_ipv6_srv6_udp_only.pcap",
        why: BOTH_FAMILIES,
        change: Change::Rewrite(&[
            rw(
                17,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116594,
                "2001:db8::16",
                "2001:db8::12",
            ),
            rw(
                20,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116400,
                "2001:db8::16",
                "2001:db8::12",
            ),
            rw(
                40,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116400,
                "2001:db8::14",
                "2001:db8::12",
            ),
            rw(
                40,
                "0.0.0.0",
                "0.0.0.0",
                2222,
                1111,
                116400,
                "2001:db8::15",
                "2001:db8::12",
            ),
            rw(
                40,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::15",
                "2001:db8::12",
            ),
            rw(
                47,
                "0.0.0.0",
                "0.0.0.0",
                1111,
                2222,
                116400,
                "2001:db8::14",
                "2001:db8::12",
            ),
        ]),
    },
];
