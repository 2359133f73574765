//! Exclusions, carving, home warnings, the summary, `explain` and reading list files.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::Report;

fn networks(home: &[&str], exclude: &[&str], bogons: bool) -> Networks {
    let nets = |list: &[&str]| list.iter().map(|s| s.parse().unwrap()).collect();
    Networks {
        home: nets(home),
        exclude: nets(exclude),
        exclude_bogons: bogons,
    }
}

fn source(name: &str, entries: &[(&str, &str)]) -> Source {
    let indicators = entries
        .iter()
        .map(|&(entry, comment)| Indicator {
            net: textlist::parse_net(entry).unwrap(),
            entry: entry.into(),
            comment: comment.into(),
            url: None,
        })
        .collect();
    Source {
        name: name.into(),
        ref_url: None,
        indicators,
        problems: Vec::new(),
        data_time: Some(1_000_000),
    }
}

fn listed(built: &Built, addr: &str) -> Vec<String> {
    let mut out = Vec::new();
    built.set.listings(addr.parse().unwrap(), &mut out);
    out.iter()
        .map(|l| format!("{} {}", l.source, l.entry))
        .collect()
}

#[test]
fn a_wide_entry_is_carved_around_bogons_not_dropped() {
    let sources = vec![source("wide", &[("96.0.0.0/3", "huge")])];
    let built = build_at(sources, &networks(&[], &[], true), 0);
    for (probe, expected) in [
        ("96.0.0.1", true),
        ("100.63.255.255", true),
        ("100.64.0.0", false),
        ("100.127.255.255", false),
        ("100.128.0.0", true),
        ("126.255.255.255", true),
        ("127.0.0.1", false),
    ] {
        assert_eq!(
            built.set.is_listed(probe.parse().unwrap()),
            expected,
            "{probe}"
        );
    }
    let summary = &built.summary[0];
    assert_eq!(
        (summary.entries, summary.carved, summary.excluded),
        (1, 1, 0)
    );
    assert_eq!(listed(&built, "126.0.0.1"), vec!["wide 96.0.0.0/3"]);
}

#[test]
fn entries_inside_bogons_are_excluded_and_documentation_ranges_stay() {
    let entries = [
        ("0.0.0.0/8", ""),
        ("10.0.0.0/8", ""),
        ("10.1.2.3", ""),
        ("192.168.1.1", ""),
        ("169.254.0.1", ""),
        ("224.0.0.251", ""),
        ("240.0.0.1", ""),
        ("fc00::1", ""),
        ("fe80::1", ""),
        ("ff02::1", ""),
        ("::1", ""),
        ("::", ""),
        ("192.0.2.1", ""),
        ("198.51.100.1", ""),
        ("203.0.113.1", ""),
        ("2001:db8::1", ""),
    ];
    let built = build_at(vec![source("l1", &entries)], &networks(&[], &[], true), 0);
    let summary = &built.summary[0];
    assert_eq!(
        (summary.entries, summary.excluded, summary.carved),
        (4, 12, 0)
    );
    assert_eq!((summary.ipv4, summary.ipv6), (3, 1));
    for probe in ["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"] {
        assert!(built.set.is_listed(probe.parse().unwrap()), "{probe}");
    }

    let off = build_at(vec![source("l1", &entries)], &networks(&[], &[], false), 0);
    assert_eq!(off.summary[0].entries, 16);
    assert!(off.set.is_listed("10.9.9.9".parse().unwrap()));
}

#[test]
fn exclude_and_home_are_carved_and_home_is_warned_about() {
    let sources = vec![
        source(
            "drop",
            &[("198.51.100.0/24", "SBL1"), ("203.0.113.0/24", "SBL2")],
        ),
        source("tor", &[("203.0.113.77", "Tor exit X")]),
    ];
    let nets = networks(&["198.51.100.128/25"], &["203.0.113.64/26"], true);
    let built = build_at(sources, &nets, 0);

    assert!(built.set.is_listed("198.51.100.127".parse().unwrap()));
    assert!(!built.set.is_listed("198.51.100.128".parse().unwrap()));
    assert!(built.set.is_listed("203.0.113.63".parse().unwrap()));
    assert!(!built.set.is_listed("203.0.113.77".parse().unwrap()));
    assert!(built.set.is_listed("203.0.113.128".parse().unwrap()));
    assert_eq!(
        built.warnings,
        vec!["list drop: entry 198.51.100.0/24 (SBL1) overlaps home network 198.51.100.128/25"]
    );
    assert_eq!((built.summary[0].carved, built.summary[0].entries), (2, 2));
    assert_eq!(
        (built.summary[1].excluded, built.summary[1].entries),
        (1, 0)
    );
}

#[test]
fn home_inside_a_bogon_gives_no_warning() {
    let sources = vec![source("firehol", &[("10.0.0.0/8", "")])];
    let built = build_at(sources, &networks(&["10.1.0.0/16"], &[], true), 0);
    assert!(built.warnings.is_empty());
    assert_eq!(built.summary[0].excluded, 1);
}

#[test]
fn home_warnings_are_capped_per_source() {
    let entries: Vec<(String, &str)> = (0..8).map(|i| (format!("192.0.2.{i}"), "")).collect();
    let entries: Vec<(&str, &str)> = entries.iter().map(|(e, c)| (e.as_str(), *c)).collect();
    let built = build_at(
        vec![source("et", &entries)],
        &networks(&["192.0.2.0/24"], &[], true),
        0,
    );
    assert_eq!(built.warnings.len(), 6);
    assert_eq!(
        built.warnings[5],
        "list et: 3 more entries cover home networks"
    );
}

#[test]
fn duplicates_are_kept_once_and_counted() {
    let entries = [("192.0.2.1", "a"), ("192.0.2.1", "a"), ("192.0.2.1", "b")];
    let built = build_at(vec![source("s", &entries)], &networks(&[], &[], true), 0);
    assert_eq!(
        (built.summary[0].entries, built.summary[0].duplicates),
        (2, 1)
    );
    assert_eq!(listed(&built, "192.0.2.1").len(), 2);
}

#[test]
fn ipv4_mapped_entries_are_stored_as_ipv4() {
    let built = build_at(
        vec![source("m", &[("::ffff:192.0.2.0/120", "")])],
        &networks(&[], &[], true),
        0,
    );
    assert!(built.set.is_listed("192.0.2.9".parse().unwrap()));
    assert_eq!(built.summary[0].ipv4, 1);
}

#[test]
fn summary_lines_name_every_count_and_the_age() {
    let mut drop = source("drop", &[("192.0.2.0/24", ""), ("10.0.0.0/8", "")]);
    drop.problems.push(crate::intel::LineProblem {
        line: 3,
        reason: "bad".into(),
    });
    let mut otx = source("otx", &[("2001:db8::/32", "pulse")]);
    otx.data_time = None;
    let built = build_at(
        vec![drop, otx],
        &networks(&[], &[], true),
        1_000_000 + 7_320_000,
    );
    let lines = built.summary_lines();
    assert_eq!(
        lines[0],
        "drop: 1 entries (1 IPv4, 0 IPv6), 1 rejected lines, 1 excluded, 0 carved, data 2h2m old"
    );
    assert_eq!(
        lines[1],
        "otx: 1 entries (0 IPv4, 1 IPv6), 0 rejected lines, 0 excluded, 0 carved, data age unknown"
    );
    assert!(
        lines[2].starts_with(
            "total: 2 entries (1 IPv4, 1 IPv6), 1 rejected lines, 1 excluded, 0 carved, \
             data 2h2m old; 2 sources, 2 prefixes, "
        ),
        "{}",
        lines[2]
    );
}

fn config(text: &str) -> Config {
    let mut report = Report::default();
    let config = Config::parse(text, Path::new("test.toml"), &mut report);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    config.unwrap()
}

#[test]
fn explain_names_listing_sources_and_hiding_exclusions() {
    let config =
        config("[networks]\nhome = [\"198.51.100.0/24\"]\nexclude = [\"203.0.113.0/28\"]\n");
    let mut drop = source("drop", &[("203.0.113.0/24", "SBL9"), ("10.0.0.0/8", "")]);
    drop.ref_url = Some("https://drop.example/".into());
    let tor = source(
        "tor",
        &[("203.0.113.200", "Tor exit X"), ("198.51.100.5", "")],
    );
    let built = build_at(vec![drop, tor], &config.networks, 0);

    assert_eq!(
        explain(&config, &built, "203.0.113.200".parse().unwrap()),
        "203.0.113.200: listed by drop entry 203.0.113.0/24 comment \"SBL9\" \
         url https://drop.example/\n203.0.113.200: listed by tor entry 203.0.113.200 \
         comment \"Tor exit X\"\n"
    );
    assert_eq!(
        explain(&config, &built, "203.0.113.1".parse().unwrap()),
        "203.0.113.1: not listed\n203.0.113.1: excluded by [networks] exclude 203.0.113.0/28\n\
         203.0.113.1: hidden by drop entry 203.0.113.0/24 comment \"SBL9\" \
         url https://drop.example/\n"
    );
    assert_eq!(
        explain(&config, &built, "::ffff:10.1.1.1".parse().unwrap()),
        "10.1.1.1: not listed\n10.1.1.1: excluded by the bogon range 10.0.0.0/8 \
         (private, RFC 1918)\n10.1.1.1: hidden by drop entry 10.0.0.0/8 url https://drop.example/\n"
    );
    assert_eq!(
        explain(&config, &built, "198.51.100.5".parse().unwrap()),
        "198.51.100.5: not listed\n198.51.100.5: excluded by [networks] home 198.51.100.0/24\n\
         198.51.100.5: hidden by tor entry 198.51.100.5\n"
    );
    assert_eq!(
        explain(&config, &built, "192.0.2.1".parse().unwrap()),
        "192.0.2.1: not listed\n"
    );
}

/// A fresh directory under the system temp dir for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowalert-build-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_glob_makes_one_list_per_file_named_after_its_stem() {
    let dir = scratch("glob");
    std::fs::write(dir.join("drop.txt"), "; Spamhaus\n192.0.2.0/24 ; SBL1\n").unwrap();
    std::fs::write(
        dir.join("tor-exits.list"),
        "ExitAddress 198.51.100.1 2024-01-01\n",
    )
    .unwrap();
    std::fs::write(dir.join("Bad Name.txt"), "192.0.2.1\n").unwrap();
    let text = format!(
        "[[list]]\nname = \"d\"\npath = \"{}/*\"\nref = \"https://ref.example/\"\n",
        dir.display()
    );
    let (sources, warnings) = load_sources(&config(&text), 0).unwrap();

    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["drop", "tor-exits"]);
    assert_eq!(&*sources[0].indicators[0].comment, "SBL1");
    assert_eq!(sources[1].indicators[0].entry.as_ref(), "198.51.100.1");
    assert_eq!(sources[0].ref_url.as_deref(), Some("https://ref.example/"));
    assert!(sources[0].data_time.is_some());
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .ends_with("Bad Name.txt: its name is not a list name ([a-z0-9._-]{1,32}), left out"));
}

#[test]
fn an_error_page_saved_as_a_list_fails_the_load_naming_the_file() {
    let dir = scratch("errorpage");
    let page = dir.join("talos.blf");
    std::fs::write(&page, "<html><body>503 Service Unavailable</body></html>\n").unwrap();
    std::fs::write(dir.join("empty.txt"), "; Spamhaus EDROP\n; EOF\n").unwrap();
    let empty = format!(
        "[[list]]\nname = \"e\"\npath = \"{}/empty.txt\"\n",
        dir.display()
    );
    let (sources, _) = load_sources(&config(&empty), 0).unwrap();
    assert_eq!(sources[0].indicators.len(), 0);

    let text = format!(
        "[[list]]\nname = \"talos\"\npath = \"{}\"\n",
        page.display()
    );
    let err = load_sources(&config(&text), 0).unwrap_err();
    assert_eq!(
        err,
        format!(
            "list talos: {}: not a list: no entries, line 1 not an address, prefix or range: \
             \"<html><body>503\"",
            page.display()
        )
    );
}

#[test]
fn a_missing_file_is_a_warning_only_when_update_will_fetch_it() {
    let dir = scratch("missing");
    let path = dir.join("drop.txt");
    let fetched = format!(
        "[[list]]\nname = \"drop\"\npath = \"{}\"\nurl = \"https://drop.example/drop.txt\"\n",
        path.display()
    );
    let (sources, warnings) = load_sources(&config(&fetched), 0).unwrap();
    assert!(sources.is_empty());
    assert_eq!(
        warnings,
        vec![format!(
            "list drop: {}: not downloaded yet (run flowalert update)",
            path.display()
        )]
    );

    let local = format!("[[list]]\nname = \"drop\"\npath = \"{}\"\n", path.display());
    let err = load_sources(&config(&local), 0).unwrap_err();
    assert!(
        err.starts_with(&format!("list drop: {}: ", path.display())),
        "{err}"
    );
}

#[test]
fn otx_without_a_cache_is_a_warning() {
    let dir = scratch("otx");
    let text = format!(
        "[state]\ndir = \"{}\"\n[otx]\nenabled = true\n",
        dir.display()
    );
    let (sources, warnings) = load_sources(&config(&text), 0).unwrap();
    assert!(sources.is_empty());
    let cache = dir.join("otx-cache.json");
    assert_eq!(
        warnings,
        vec![format!(
            "otx: {}: no OTX cache yet (run flowalert update)",
            cache.display()
        )]
    );
}

#[test]
fn suricata_categories_are_found_beside_the_list() {
    let dir = scratch("iprep");
    std::fs::write(
        dir.join("categories.txt"),
        "1,CnC,Command\n2,Scan,Scanners\n",
    )
    .unwrap();
    let list = dir.join("iprep.list");
    std::fs::write(&list, "192.0.2.1,1,90\n192.0.2.2,2,90\n192.0.2.3,1,10\n").unwrap();
    let text = format!(
        "[[list]]\nname = \"rep\"\npath = \"{}\"\nformat = \"suricata-iprep\"\n\
         categories = [\"cnc\"]\nmin-score = 50\n",
        list.display()
    );
    let (sources, warnings) = load_sources(&config(&text), 0).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(sources[0].indicators.len(), 1);
    assert_eq!(&*sources[0].indicators[0].comment, "CnC score 90");
}

/// xorshift64*, for the differential test below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Random IPv4 nets clustered in 96.0.0.0/3 so that entries, exclusions and the bogons
/// 100.64.0.0/10 and 127.0.0.0/8 overlap often.
fn clustered_net(rng: &mut Rng, lengths: &[u8]) -> IpNet {
    let addr = 0x6000_0000 | (rng.next() as u32 & 0x1fff_ffff);
    let len = lengths[(rng.next() % lengths.len() as u64) as usize];
    let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(addr), len).unwrap();
    IpNet::V4(net.trunc())
}

#[test]
fn carving_matches_a_naive_scan_with_random_exclusions() {
    let mut rng = Rng(0x00c0_ffee_0000_0003);
    let entries: Vec<IpNet> = (0..300)
        .map(|_| clustered_net(&mut rng, &[3, 6, 9, 12, 16, 20, 24, 30, 32]))
        .collect();
    let exclude: Vec<IpNet> = (0..20)
        .map(|_| clustered_net(&mut rng, &[8, 12, 18, 26]))
        .collect();
    let home: Vec<IpNet> = (0..5)
        .map(|_| clustered_net(&mut rng, &[14, 22, 32]))
        .collect();
    let nets = Networks {
        home: home.clone(),
        exclude: exclude.clone(),
        exclude_bogons: true,
    };
    let texts: Vec<(String, &str)> = entries.iter().map(|n| (n.to_string(), "")).collect();
    let refs: Vec<(&str, &str)> = texts.iter().map(|(t, c)| (t.as_str(), *c)).collect();
    let built = build_at(vec![source("r", &refs)], &nets, 0);

    let bogons: Vec<IpNet> = BOGONS.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let hidden = |a: IpAddr| {
        let all = bogons.iter().chain(&exclude).chain(&home);
        all.clone().any(|n| n.contains(&a))
    };
    let mut probes: Vec<IpAddr> = Vec::new();
    for net in entries.iter().chain(&exclude).chain(&home).chain(&bogons) {
        let IpNet::V4(v4) = net else { continue };
        let (first, last) = (u32::from(v4.network()), u32::from(v4.broadcast()));
        for value in [first.wrapping_sub(1), first, last, last.wrapping_add(1)] {
            probes.push(IpAddr::V4(value.into()));
        }
    }
    for _ in 0..6_000 {
        probes.push(IpAddr::V4(
            (0x6000_0000 | (rng.next() as u32 & 0x1fff_ffff)).into(),
        ));
    }

    let mut checked_listed = 0;
    for addr in probes {
        let mut expected: Vec<String> = entries
            .iter()
            .filter(|n| n.contains(&addr) && !hidden(addr))
            .map(|n| format!("r {n}"))
            .collect();
        expected.sort();
        expected.dedup();
        let mut found = listed(&built, &addr.to_string());
        found.sort();
        assert_eq!(found, expected, "{addr}");
        checked_listed += usize::from(!expected.is_empty());
    }
    assert!(checked_listed > 500, "{checked_listed}");
    assert!(built.summary[0].carved > 0 && built.summary[0].excluded > 0);
}
