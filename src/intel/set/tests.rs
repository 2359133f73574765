//! The set against a naive scan: random prefixes and addresses, and the boundaries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::*;

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One entry as the naive scan sees it: its ranges and what a lookup must report.
struct Naive {
    source: String,
    text: String,
    comment: String,
    url: Option<String>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn naive_lookup(entries: &[Naive], addr: IpAddr) -> Vec<(String, String, String, Option<String>)> {
    let mut found: Vec<_> = entries
        .iter()
        .filter(|e| match crate::flow::canonical(addr) {
            IpAddr::V4(a) => e.v4.iter().any(|&(f, l)| (f..=l).contains(&u32::from(a))),
            IpAddr::V6(a) => e.v6.iter().any(|&(f, l)| (f..=l).contains(&u128::from(a))),
        })
        .map(|e| {
            (
                e.source.clone(),
                e.text.clone(),
                e.comment.clone(),
                e.url.clone(),
            )
        })
        .collect();
    found.sort();
    found
}

fn set_lookup(set: &IndicatorSet, addr: IpAddr) -> Vec<(String, String, String, Option<String>)> {
    let mut out = Vec::new();
    let any = set.listings(addr, &mut out);
    assert_eq!(any, !out.is_empty(), "{addr}");
    assert_eq!(set.is_listed(addr), any, "{addr}");
    let mut found: Vec<_> = out
        .iter()
        .map(|l| {
            let url = l.url.map(str::to_owned);
            (
                l.source.to_owned(),
                l.entry.to_string(),
                l.comment.to_owned(),
                url,
            )
        })
        .collect();
    found.sort();
    found
}

fn random_net(rng: &mut Rng) -> IpNet {
    if rng.below(4) == 0 {
        let addr = Ipv6Addr::from(u128::from(rng.next()) << 64 | u128::from(rng.next()));
        let len = [0, 8, 16, 32, 48, 64, 127, 128][rng.below(8) as usize];
        IpNet::new(IpAddr::V6(addr), len).unwrap().trunc()
    } else {
        let addr = Ipv4Addr::from(rng.next() as u32);
        let len = [1, 4, 8, 12, 16, 20, 24, 28, 31, 32][rng.below(10) as usize];
        IpNet::new(IpAddr::V4(addr), len).unwrap().trunc()
    }
}

fn range_of(net: IpNet) -> (u128, u128) {
    match net {
        IpNet::V4(n) => (
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
        ),
        IpNet::V6(n) => (n.network().into(), n.broadcast().into()),
    }
}

/// How entry `i` writes `net`, in turn: its usual form (rebuilt, not stored), a bare address
/// for a single address (rebuilt too), a range, and host bits set (both kept as written).
fn written(net: IpNet, i: usize) -> String {
    let (first, last) = range_of(net);
    let host = |value: u128| match net {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    };
    match i % 4 {
        1 if first == last => host(first).to_string(),
        2 => format!("{}-{}", host(first), host(last)),
        3 => format!("{}/{}", host(last), net.prefix_len()),
        _ => net.to_string(),
    }
}

/// Builds both structures from the same nets (each its own entry in one of three sources).
fn build_both(nets: &[IpNet]) -> (IndicatorSet, Vec<Naive>) {
    let mut builder = SetBuilder::new();
    let sources: Vec<SourceId> = ["drop", "firehol", "otx"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ref_url = (i == 1).then_some("https://iplists.example/firehol");
            builder.add_source(name, ref_url).unwrap()
        })
        .collect();
    let mut naive = Vec::new();
    for (i, &net) in nets.iter().enumerate() {
        let s = i % 3;
        let text = written(net, i);
        let comment = format!("c{}", i % 7);
        let url = (s == 2).then(|| format!("https://otx.example/pulse/{i}"));
        let id = builder
            .add_entry(sources[s], &text, &comment, url.as_deref())
            .unwrap();
        builder.cover_net(id, net);
        let (first, last) = range_of(net);
        let (v4, v6) = match net {
            IpNet::V4(_) => (vec![(first as u32, last as u32)], vec![]),
            IpNet::V6(_) => (vec![], vec![(first, last)]),
        };
        let url = url.or_else(|| (s == 1).then(|| "https://iplists.example/firehol".into()));
        naive.push(Naive {
            source: ["drop", "firehol", "otx"][s].into(),
            text,
            comment,
            url,
            v4,
            v6,
        });
    }
    (builder.finish(), naive)
}

/// Every address worth probing around a net: first, last, one before and one past each.
fn boundaries(net: IpNet) -> Vec<IpAddr> {
    let (first, last) = range_of(net);
    let mut out = Vec::new();
    for value in [
        first.wrapping_sub(1),
        first,
        first + 1,
        last - 1,
        last,
        last.wrapping_add(1),
    ] {
        out.push(match net {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
        });
    }
    out
}

fn random_inside(rng: &mut Rng, net: IpNet) -> IpAddr {
    let (first, last) = range_of(net);
    let offset = (u128::from(rng.next()) << 64 | u128::from(rng.next())) % (last - first).max(1);
    match net {
        IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from((first + offset) as u32)),
        IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(first + offset)),
    }
}

#[test]
fn random_prefixes_match_naive_scan() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let nets: Vec<IpNet> = (0..600).map(|_| random_net(&mut rng)).collect();
    let (set, naive) = build_both(&nets);

    let mut probes: Vec<IpAddr> = nets.iter().flat_map(|&n| boundaries(n)).collect();
    for _ in 0..20_000 {
        probes.push(random_net(&mut rng).addr());
        let net = nets[rng.below(nets.len() as u64) as usize];
        probes.push(random_inside(&mut rng, net));
    }
    let mut listed = 0;
    for addr in probes {
        let expected = naive_lookup(&naive, addr);
        listed += usize::from(!expected.is_empty());
        assert_eq!(set_lookup(&set, addr), expected, "{addr}");
    }
    assert!(
        listed > 10_000,
        "the probes must hit the set often ({listed})"
    );
}

#[test]
fn nested_and_overlapping_entries_are_all_reported() {
    let nets: Vec<IpNet> = [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "10.1.2.3/32",
        "10.1.2.0/24",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let (set, naive) = build_both(&nets);
    let found = set_lookup(&set, "10.1.2.3".parse().unwrap());
    assert_eq!(found.len(), 5);
    assert_eq!(found, naive_lookup(&naive, "10.1.2.3".parse().unwrap()));
    assert_eq!(set_lookup(&set, "10.1.2.4".parse().unwrap()).len(), 4);
    assert_eq!(set_lookup(&set, "10.1.3.0".parse().unwrap()).len(), 2);
    assert_eq!(set_lookup(&set, "10.2.0.0".parse().unwrap()).len(), 1);
    assert!(!set.is_listed("11.0.0.0".parse().unwrap()));
    assert!(!set.is_listed("9.255.255.255".parse().unwrap()));
}

#[test]
fn whole_space_and_single_addresses_at_the_ends() {
    let nets: Vec<IpNet> = [
        "0.0.0.0/0",
        "0.0.0.0/32",
        "255.255.255.255/32",
        "::/0",
        "::/128",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let (set, naive) = build_both(&nets);
    for probe in [
        "0.0.0.0",
        "0.0.0.1",
        "255.255.255.254",
        "255.255.255.255",
        "::",
        "::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        let addr: IpAddr = probe.parse().unwrap();
        assert_eq!(
            set_lookup(&set, addr),
            naive_lookup(&naive, addr),
            "{probe}"
        );
    }
    assert_eq!(set_lookup(&set, "0.0.0.0".parse().unwrap()).len(), 2);
    assert_eq!(
        set_lookup(&set, "255.255.255.255".parse().unwrap()).len(),
        2
    );
    assert_eq!(set_lookup(&set, "128.0.0.1".parse().unwrap()).len(), 1);
    assert_eq!(set_lookup(&set, "::".parse().unwrap()).len(), 2);
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let nets: Vec<IpNet> = vec!["192.0.2.0/24".parse().unwrap()];
    let (set, _) = build_both(&nets);
    assert!(set.is_listed("::ffff:192.0.2.7".parse().unwrap()));
    assert!(!set.is_listed("::ffff:192.0.3.7".parse().unwrap()));
    let found = set_lookup(&set, "::ffff:192.0.2.255".parse().unwrap());
    assert_eq!(found[0].1, "192.0.2.0/24");
}

#[test]
fn carved_entry_keeps_its_text_and_leaves_a_hole() {
    let mut builder = SetBuilder::new();
    let drop = builder
        .add_source("drop", Some("https://drop.example/"))
        .unwrap();
    let id = builder.add_entry(drop, "96.0.0.0/3", "SBL1", None).unwrap();
    // 96.0.0.0/3 minus 100.64.0.0/10 and 127.0.0.0/8.
    builder.cover_v4(id, 0x6000_0000, 0x643f_ffff);
    builder.cover_v4(id, 0x6480_0000, 0x7eff_ffff);
    let set = builder.finish();

    for (probe, listed) in [
        ("96.0.0.0", true),
        ("100.63.255.255", true),
        ("100.64.0.0", false),
        ("100.127.255.255", false),
        ("100.128.0.0", true),
        ("126.255.255.255", true),
        ("127.0.0.0", false),
        ("127.255.255.255", false),
        ("128.0.0.0", false),
        ("95.255.255.255", false),
    ] {
        assert_eq!(set.is_listed(probe.parse().unwrap()), listed, "{probe}");
    }
    let mut out = Vec::new();
    set.listings("100.128.0.1".parse().unwrap(), &mut out);
    let expected = Listing {
        source: "drop",
        entry: "96.0.0.0/3".into(),
        comment: "SBL1",
        url: Some("https://drop.example/"),
    };
    assert_eq!(out, vec![expected]);
    assert_eq!(set.prefixes(), 2);
    assert_eq!(set.entries(), 1);
}

#[test]
fn empty_set_lists_nothing() {
    let set = IndicatorSet::empty();
    for probe in ["0.0.0.0", "255.255.255.255", "::", "2001:db8::1"] {
        assert!(!set.is_listed(probe.parse().unwrap()));
    }
    assert_eq!(set.segments(), (1, 1));
}

#[test]
fn only_usual_forms_are_rebuilt() {
    for (text, form) in [
        ("192.0.2.1", Some(V4_ADDR)),
        ("192.0.2.0/24", Some(24)),
        ("0.0.0.0/0", Some(0)),
        ("192.0.2.1/32", Some(32)),
        ("2001:db8::/32", Some(V6_FORMS + 32)),
        ("2001:db8::1", Some(V6_ADDR)),
        ("::/0", Some(V6_FORMS)),
        ("192.0.2.9/24", None),
        ("192.0.2.000/24", None),
        ("192.0.2.0/024", None),
        ("192.0.2.0/33", None),
        ("2001:DB8::/32", None),
        ("2001:db8:0::/48", None),
        ("::ffff:192.0.2.1", None),
        ("::ffff:192.0.2.0/120", None),
        ("192.0.2.1-192.0.2.9", None),
        (" 192.0.2.1", None),
        ("", None),
    ] {
        assert_eq!(form_of(text), form, "{text}");
    }
}

/// A set of one source's entries, each `(text, net)` with the comment "SBL1".
fn one_source_set(entries: &[(&str, &str)]) -> IndicatorSet {
    let mut builder = SetBuilder::new();
    let drop = builder.add_source("drop", None).unwrap();
    for (text, net) in entries {
        let id = builder.add_entry(drop, text, "SBL1", None).unwrap();
        builder.cover_net(id, net.parse().unwrap());
    }
    builder.finish()
}

/// The record of an entry with `text` and note 0.
fn record_of(text: &str) -> String {
    let mut record = String::new();
    put_seven(&mut record, text.len(), 2);
    put_seven(&mut record, 0, 4);
    record.push_str(text);
    record
}

#[test]
fn records_are_kept_only_for_entries_a_segment_needs() {
    let set = one_source_set(&[
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("203.0.113.7", "203.0.113.7/32"),
    ]);
    assert_eq!(set.records, "");

    let set = one_source_set(&[
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("198.51.100.7", "198.51.100.7/32"),
        ("203.0.113.0-203.0.113.255", "203.0.113.0/24"),
    ]);
    // The range is the one record: the overlap's group holds both other entries inline.
    assert_eq!(set.records, record_of("203.0.113.0-203.0.113.255"));
    let mut out = Vec::new();
    assert!(set.listings("198.51.100.8".parse().unwrap(), &mut out));
    assert_eq!(out[0].entry, Entry::Net("198.51.100.0/24".parse().unwrap()));
    out.clear();
    assert!(set.listings("198.51.100.7".parse().unwrap(), &mut out));
    let entries: Vec<String> = out.iter().map(|l| l.entry.to_string()).collect();
    assert_eq!(entries, ["198.51.100.0/24", "198.51.100.7"]);

    // A group with an entry kept as written keeps its record, beside an inline one.
    let set = one_source_set(&[
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("198.51.100.9/32 ", "198.51.100.9/32"),
    ]);
    assert_eq!(set.records, record_of("198.51.100.9/32 "));
    let mut out = Vec::new();
    assert!(set.listings("198.51.100.9".parse().unwrap(), &mut out));
    let entries: Vec<String> = out.iter().map(|l| l.entry.to_string()).collect();
    assert_eq!(entries, ["198.51.100.0/24", "198.51.100.9/32 "]);
}

#[test]
fn neighbours_with_one_note_and_form_share_a_segment_and_keep_their_entries() {
    let set = one_source_set(&[
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("198.51.101.0/24", "198.51.101.0/24"),
        ("198.51.102.1", "198.51.102.1/32"),
        ("198.51.102.2", "198.51.102.2/32"),
    ]);
    // 0.0.0.0, the two /24s as one, the two addresses as one, and what follows.
    assert_eq!(set.segments().0, 5);
    for (probe, entry) in [
        ("198.51.100.255", "198.51.100.0/24"),
        ("198.51.101.0", "198.51.101.0/24"),
        ("198.51.102.1", "198.51.102.1"),
        ("198.51.102.2", "198.51.102.2"),
    ] {
        let mut out = Vec::new();
        assert!(set.listings(probe.parse().unwrap(), &mut out), "{probe}");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].entry.to_string(), entry);
    }
    assert!(!set.is_listed("198.51.102.0".parse().unwrap()));
    assert!(!set.is_listed("198.51.102.3".parse().unwrap()));
}
