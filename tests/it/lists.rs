//! Every sample list in the shared test data through its parser (and `auto`), with exact
//! counts, chosen entries with their comments, and the lines reported as problems.

use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::Path;

use flowalert::config::{Config, Networks, Report};
use flowalert::intel::build::{build_at, load_sources};
use flowalert::intel::textlist::{self, Format, Options, Parsed};
use flowalert::intel::{Indicators, Source};

use crate::common::testdata;

fn sample(name: &str) -> std::path::PathBuf {
    testdata(&format!("lists/{name}"))
}

fn parse_as(name: &str, format: Format, options: &Options) -> Parsed {
    let file = File::open(sample(name)).unwrap();
    textlist::parse(BufReader::new(file), format, options).unwrap()
}

/// Parses with `auto`, checks it chose `expected`, and that the named format agrees.
fn parse_auto(name: &str, expected: Format) -> Parsed {
    let auto = parse_as(name, Format::Auto, &Options::default());
    assert_eq!(auto.format, expected, "{name}");
    let named = parse_as(name, expected, &Options::default());
    assert_eq!(named.indicators, auto.indicators, "{name}");
    auto
}

/// (entry, prefix, comment) of indicator `at`.
fn entry(parsed: &Parsed, at: usize) -> (String, String, String) {
    let i = &parsed.indicators[at];
    (
        i.entry.to_string(),
        i.net.to_string(),
        i.comment.to_string(),
    )
}

fn e(entry: &str, net: &str, comment: &str) -> (String, String, String) {
    (entry.into(), net.into(), comment.into())
}

fn last(parsed: &Parsed) -> (String, String, String) {
    entry(parsed, parsed.indicators.len() - 1)
}

fn problem_lines(parsed: &Parsed) -> Vec<usize> {
    parsed.problems.iter().map(|p| p.line).collect()
}

fn ipv6_count(parsed: &Parsed) -> usize {
    parsed
        .indicators
        .iter()
        .filter(|i| i.net.addr().is_ipv6())
        .count()
}

fn config_for(name: &str, format: &str) -> Config {
    let text = format!(
        "[[list]]\nname = \"sample\"\npath = \"{}\"\nformat = \"{format}\"\n",
        sample(name).display()
    );
    let mut report = Report::default();
    let config = Config::parse(&text, Path::new("lists.toml"), &mut report);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    config.unwrap()
}

fn load(name: &str, format: &str) -> Result<Vec<Source>, String> {
    load_sources(&config_for(name, format), 0).map(|(sources, _)| sources)
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_drop_text() {
    let parsed = parse_auto("spamhaus_drop.txt", Format::Spamhaus);
    assert_eq!(parsed.indicators.len(), 151);
    assert_eq!(
        entry(&parsed, 0),
        e("1.10.16.0/20", "1.10.16.0/20", "SBL256894")
    );
    assert_eq!(
        last(&parsed),
        e("223.254.0.0/16", "223.254.0.0/16", "SBL212803")
    );
    assert_eq!((parsed.problems.len(), parsed.lines), (0, 156));
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_drop_v6_text() {
    let parsed = parse_auto("spamhaus_dropv6.txt", Format::Spamhaus);
    assert_eq!((parsed.indicators.len(), ipv6_count(&parsed)), (78, 78));
    assert_eq!(
        entry(&parsed, 0),
        e("2001:678:6c4::/48", "2001:678:6c4::/48", "SBL626637")
    );
    assert_eq!(
        last(&parsed),
        e("2c0f:6c0::/28", "2c0f:6c0::/28", "SBL668932")
    );
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_edrop_2018_without_eof_line() {
    let parsed = parse_auto("spamhaus_edrop_2018-10.txt", Format::Spamhaus);
    assert_eq!(parsed.indicators.len(), 60);
    assert_eq!(
        entry(&parsed, 0),
        e("5.188.11.0/24", "5.188.11.0/24", "SBL402809")
    );
    assert_eq!(
        last(&parsed),
        e("120.67.0.0/16", "120.67.0.0/16", "SBL247795")
    );
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_edrop_merged_is_an_empty_list_not_an_error() {
    let parsed = parse_auto("spamhaus_edrop_2024-10_merged.txt", Format::Spamhaus);
    assert_eq!((parsed.indicators.len(), parsed.problems.len()), (0, 0));
    let sources = load("spamhaus_edrop_2024-10_merged.txt", "spamhaus").unwrap();
    assert_eq!(sources[0].indicators.len(), 0);
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_drop_v4_json_with_stale_metadata_trailer() {
    let parsed = parse_auto("spamhaus_drop_v4.json", Format::SpamhausJson);
    assert_eq!(parsed.indicators.len(), 150);
    assert_eq!(
        entry(&parsed, 0),
        e("1.10.16.0/20", "1.10.16.0/20", "SBL256894")
    );
    assert_eq!(
        entry(&parsed, 28),
        e("27.99.128.0/17", "27.99.128.0/17", "SBL677409")
    );
    assert_eq!(
        last(&parsed),
        e("63.106.68.0/22", "63.106.68.0/22", "SBL624888")
    );
    assert_eq!((parsed.problems.len(), parsed.lines), (0, 151));
}

#[test]
#[ignore = "needs shared testdata"]
fn spamhaus_asn_drop_names_no_prefix_and_is_refused() {
    let parsed = parse_auto("spamhaus_asndrop.json", Format::SpamhausJson);
    assert!(parsed.indicators.is_empty());
    assert_eq!(problem_lines(&parsed), (1..=20).collect::<Vec<_>>());
    assert_eq!(
        parsed.problems[0].reason,
        "an ASN record (AS932) names no prefix"
    );
    let err = load("spamhaus_asndrop.json", "auto").unwrap_err();
    assert!(
        err.contains("spamhaus_asndrop.json: not a list: no entries"),
        "{err}"
    );
}

#[test]
#[ignore = "needs shared testdata"]
fn dshield_block_txt() {
    let parsed = parse_auto("dshield_block.txt", Format::Dshield);
    assert_eq!(parsed.indicators.len(), 2);
    assert_eq!(
        entry(&parsed, 0),
        e(
            "43.229.53.0/24",
            "43.229.53.0/24",
            "Japan Inet, JP, 788 attacks"
        )
    );
    assert_eq!(
        entry(&parsed, 1),
        e("194.63.140.0/24", "194.63.140.0/24", "585 attacks")
    );
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn firehol_level1_netset_is_carved_around_bogons() {
    let parsed = parse_auto("firehol_level1.netset", Format::Firehol);
    assert_eq!(parsed.indicators.len(), 267);
    assert_eq!(entry(&parsed, 0), e("0.0.0.0/8", "0.0.0.0/8", ""));
    assert_eq!(entry(&parsed, 19), e("10.0.0.0/8", "10.0.0.0/8", ""));
    assert_eq!(last(&parsed), e("69.8.96.0/20", "69.8.96.0/20", ""));
    assert!(parsed.problems.is_empty());

    let source = Source {
        name: "firehol".into(),
        indicators: parsed.indicators,
        ..Source::default()
    };
    let networks = Networks {
        home: Vec::new(),
        exclude: Vec::new(),
        exclude_bogons: true,
    };
    let built = build_at(vec![source], &networks, 0);
    let summary = &built.summary[0];
    assert_eq!(
        (summary.entries, summary.excluded, summary.carved),
        (265, 2, 0)
    );
    let listed = |a: &str| built.set.is_listed(a.parse::<IpAddr>().unwrap());
    assert!(!listed("10.1.2.3") && !listed("0.1.2.3"));
    assert!(listed("1.10.16.1") && listed("68.66.216.25"));
}

#[test]
#[ignore = "needs shared testdata"]
fn firehol_dshield_netset() {
    let parsed = parse_auto("firehol_dshield.netset", Format::Firehol);
    assert_eq!(parsed.indicators.len(), 18);
    assert_eq!(
        entry(&parsed, 2),
        e("45.146.164.0/23", "45.146.164.0/23", "")
    );
    assert_eq!(last(&parsed), e("195.54.160.0/24", "195.54.160.0/24", ""));
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn firehol_feodo_empty_ipset_is_not_an_error() {
    let parsed = parse_auto("firehol_feodo_empty.ipset", Format::Firehol);
    assert_eq!(
        (parsed.indicators.len(), parsed.problems.len(), parsed.lines),
        (0, 0, 31)
    );
    assert_eq!(load("firehol_feodo_empty.ipset", "auto").unwrap().len(), 1);
}

#[test]
#[ignore = "needs shared testdata"]
fn feodo_csv_without_final_newline() {
    let parsed = parse_auto("feodo_ipblocklist.csv", Format::FeodoCsv);
    assert_eq!(parsed.indicators.len(), 28);
    assert_eq!(
        entry(&parsed, 0),
        e("192.9.135.73", "192.9.135.73/32", "Pikabot C2 port 1194")
    );
    assert_eq!(
        last(&parsed),
        e(
            "172.233.221.61",
            "172.233.221.61/32",
            "Pikabot C2 port 5938"
        )
    );
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn feodo_recommended_with_crlf_lines() {
    let parsed = parse_auto("feodo_ipblocklist_recommended_crlf.txt", Format::Plain);
    assert_eq!(parsed.indicators.len(), 60);
    assert_eq!(
        entry(&parsed, 0),
        e("100.38.242.113", "100.38.242.113/32", "")
    );
    assert_eq!(last(&parsed), e("145.239.28.110", "145.239.28.110/32", ""));
    assert_eq!((parsed.problems.len(), parsed.lines), (0, 70));
}

#[test]
#[ignore = "needs shared testdata"]
fn et_compromised_cins_talos_and_tor_bulk_are_plain_addresses() {
    for (name, count, first, end) in [
        (
            "et_compromised-ips.txt",
            200,
            "101.100.216.61",
            "185.74.59.8",
        ),
        ("cins_ci-badguys.txt", 100, "1.116.137.50", "1.34.33.235"),
        (
            "talos_ip-filter.blf",
            200,
            "195.242.161.89",
            "31.192.209.119",
        ),
        (
            "tor_torbulkexitlist.txt",
            150,
            "185.241.208.232",
            "192.42.116.180",
        ),
    ] {
        let parsed = parse_auto(name, Format::Plain);
        assert_eq!(parsed.indicators.len(), count, "{name}");
        assert_eq!(
            entry(&parsed, 0),
            e(first, &format!("{first}/32"), ""),
            "{name}"
        );
        assert_eq!(last(&parsed), e(end, &format!("{end}/32"), ""), "{name}");
        assert!(parsed.problems.is_empty(), "{name}");
    }
}

#[test]
#[ignore = "needs shared testdata"]
fn tor_exit_addresses() {
    let parsed = parse_auto("tor_exit-addresses.txt", Format::TorExit);
    assert_eq!(parsed.indicators.len(), 40);
    assert_eq!(
        entry(&parsed, 0),
        e(
            "185.241.208.232",
            "185.241.208.232/32",
            "Tor exit FE39F07EBE7870DCE124AB30DF3ABD0700A43F75"
        )
    );
    assert_eq!(
        last(&parsed),
        e(
            "192.42.116.184",
            "192.42.116.184/32",
            "Tor exit 38414349727B47C7CFDCD4D1051AC86592A24DA8"
        )
    );
    assert!(parsed.problems.is_empty());
}

#[test]
#[ignore = "needs shared testdata"]
fn suricata_iprep_with_its_categories_file() {
    let file = File::open(sample("suricata_iprep_otx_categories.txt")).unwrap();
    let names = textlist::parse_categories(BufReader::new(file)).unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names.get(&41).map(String::as_str), Some("Pulse"));

    let sources = load("suricata_iprep_otx_reputation.list", "suricata-iprep").unwrap();
    let indicators = &sources[0].indicators;
    assert_eq!(indicators.len(), 160);
    assert_eq!(
        indicators.iter().filter(|i| i.net.addr().is_ipv6()).count(),
        10
    );
    assert_eq!(indicators[0].entry.as_ref(), "222.73.56.10");
    assert_eq!(indicators[0].comment.as_ref(), "Pulse score 127");
    assert_eq!(indicators[159].entry.as_ref(), "2620:10f:5000:5000::2");

    let parsed = parse_auto("suricata_iprep_otx_reputation.list", Format::SuricataIprep);
    assert_eq!(
        parsed.indicators[0].comment.as_ref(),
        "category 41 score 127"
    );
    let strict = Options {
        min_score: Some(128),
        ..Options::default()
    };
    let none = parse_as(
        "suricata_iprep_otx_reputation.list",
        Format::SuricataIprep,
        &strict,
    );
    assert_eq!((none.indicators.len(), none.skipped), (0, 160));
}

#[test]
#[ignore = "needs shared testdata"]
fn suricata_categories_file_is_not_a_list() {
    let err = load("suricata_iprep_otx_categories.txt", "auto").unwrap_err();
    assert!(err.contains("not a list: no entries, line 1"), "{err}");
}

#[test]
#[ignore = "needs shared testdata"]
fn s3_access_denied_page_is_refused_naming_the_file() {
    let parsed = parse_auto("bad_download_s3_accessdenied.blf", Format::Plain);
    assert!(parsed.indicators.is_empty());
    assert_eq!(problem_lines(&parsed), vec![1, 2]);
    let err = load("bad_download_s3_accessdenied.blf", "auto").unwrap_err();
    let path = sample("bad_download_s3_accessdenied.blf");
    assert_eq!(
        err,
        format!(
            "list sample: {}: not a list: no entries, line 1 not an address, prefix or \
             range: \"<?xml\"",
            path.display()
        )
    );
}

#[test]
#[ignore = "needs shared testdata"]
fn otx_api_responses_are_not_text_lists() {
    for name in [
        "otx_subscribed_page1.json",
        "otx_subscribed_page2.json",
        "otx_subscribed_elastic_mock.json",
    ] {
        let err = load(name, "auto").unwrap_err();
        assert!(
            err.contains(&format!("{name}: not a list: no entries")),
            "{err}"
        );
    }
}

fn glob_config(pattern: &str) -> Config {
    let text = format!(
        "[[list]]\nname = \"all\"\npath = \"{}/{pattern}\"\n",
        testdata("lists").display()
    );
    let mut report = Report::default();
    Config::parse(&text, Path::new("lists.toml"), &mut report).unwrap()
}

#[test]
#[ignore = "needs shared testdata"]
fn a_glob_over_the_samples_names_each_list_after_its_file() {
    let (sources, warnings) = load_sources(&glob_config("*.txt"), 0).unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "cins_ci-badguys",
            "dshield_block",
            "et_compromised-ips",
            "spamhaus_drop",
            "spamhaus_dropv6",
            "spamhaus_edrop_2018-10",
            "spamhaus_edrop_2024-10_merged",
            "tor_exit-addresses",
            "tor_torbulkexitlist",
        ]
    );
    let counts: Vec<usize> = sources.iter().map(|s| s.indicators.len()).collect();
    assert_eq!(counts, vec![100, 2, 200, 151, 78, 60, 0, 40, 150]);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].ends_with(
            "feodo_ipblocklist_recommended_crlf.txt: its name is not a list name \
             ([a-z0-9._-]{1,32}), left out"
        ),
        "{warnings:?}"
    );
}

#[test]
#[ignore = "needs shared testdata"]
fn a_glob_with_an_error_page_among_its_files_fails() {
    let err = load_sources(&glob_config("*.blf"), 0).unwrap_err();
    assert!(
        err.starts_with("list bad_download_s3_accessdenied: "),
        "{err}"
    );
}

#[test]
#[ignore = "needs shared testdata"]
fn two_samples_build_into_one_set_with_provenance() {
    let mut sources = load("spamhaus_drop.txt", "auto").unwrap();
    sources.extend(load("tor_exit-addresses.txt", "auto").unwrap());
    sources[1].name = "tor".into();
    let networks = Networks {
        home: Vec::new(),
        exclude: Vec::new(),
        exclude_bogons: true,
    };
    let built = build_at(sources, &networks, 0);
    let mut out = Vec::new();
    assert!(built.set.listings("1.10.16.77".parse().unwrap(), &mut out));
    assert_eq!(
        (out[0].source, out[0].entry, out[0].comment),
        ("sample", "1.10.16.0/20".into(), "SBL256894")
    );
    out.clear();
    assert!(built
        .set
        .listings("171.25.193.25".parse().unwrap(), &mut out));
    assert_eq!(out[0].source, "tor");
}
