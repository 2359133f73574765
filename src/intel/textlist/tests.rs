//! Hand-made fixtures for every format, and hostile bytes.

use std::io::{BufReader, Cursor, Read};

use super::*;

fn run(format: Format, text: &[u8]) -> Parsed {
    run_with(format, text, &Options::default())
}

fn run_with(format: Format, text: &[u8], options: &Options) -> Parsed {
    parse(Cursor::new(text.to_vec()), format, options).unwrap()
}

/// (entry, prefix, comment, url) of every indicator.
fn rows(parsed: &Parsed) -> Vec<(String, String, String, Option<String>)> {
    parsed
        .indicators
        .iter()
        .map(|i| {
            let url = i.url.as_deref().map(str::to_owned);
            (
                i.entry.to_string(),
                i.net.to_string(),
                i.comment.to_string(),
                url,
            )
        })
        .collect()
}

fn row(entry: &str, net: &str, comment: &str) -> (String, String, String, Option<String>) {
    (entry.into(), net.into(), comment.into(), None)
}

fn problem_lines(parsed: &Parsed) -> Vec<usize> {
    parsed.problems.iter().map(|p| p.line).collect()
}

#[test]
fn plain_takes_addresses_prefixes_ranges_and_three_comment_styles() {
    let text = b"# header\r\n192.0.2.1\r\n; semi\r\n// slashes\r\n198.51.100.0/24 # web\r\n\
        203.0.113.10-203.0.113.13\r\n2001:db8::/48 ; six\r\n192.0.2.300\r\n\
        203.0.113.20 - 203.0.113.21 // spaced\r\n192.0.2.7 scanner host\r\n192.0.2.9/24\r\n";
    let parsed = run(Format::Plain, text);
    assert_eq!(
        rows(&parsed),
        vec![
            row("192.0.2.1", "192.0.2.1/32", ""),
            row("198.51.100.0/24", "198.51.100.0/24", "web"),
            row("203.0.113.10-203.0.113.13", "203.0.113.10/31", ""),
            row("203.0.113.10-203.0.113.13", "203.0.113.12/31", ""),
            row("2001:db8::/48", "2001:db8::/48", "six"),
            row("203.0.113.20-203.0.113.21", "203.0.113.20/31", "spaced"),
            row("192.0.2.7", "192.0.2.7/32", "scanner host"),
            row("192.0.2.9/24", "192.0.2.0/24", ""),
        ]
    );
    assert_eq!(problem_lines(&parsed), vec![8]);
    assert_eq!(
        parsed.problems[0].reason,
        "not an address, prefix or range: \"192.0.2.300\""
    );
    assert_eq!(parsed.lines, 11);
}

#[test]
fn plain_rejects_reversed_and_mixed_family_ranges() {
    let parsed = run(
        Format::Plain,
        b"192.0.2.9-192.0.2.1\n192.0.2.1-2001:db8::1\n",
    );
    assert!(parsed.indicators.is_empty());
    assert_eq!(problem_lines(&parsed), vec![1, 2]);
}

#[test]
fn spamhaus_keeps_sbl_ids_as_comments() {
    let text = b"; Spamhaus DROP List 2026/12/01\n192.0.2.0/24 ; SBL900001\n\
        2001:db8:bad::/48 ; SBL900002\n; EOF\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::Spamhaus);
    assert_eq!(
        rows(&parsed),
        vec![
            row("192.0.2.0/24", "192.0.2.0/24", "SBL900001"),
            row("2001:db8:bad::/48", "2001:db8:bad::/48", "SBL900002"),
        ]
    );
}

#[test]
fn spamhaus_json_reads_records_skips_metadata_and_reports_asn_records() {
    let text = b"{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\",\"rir\":\"arin\"}\n\
        {\"cidr\":\"2001:db8::/32\",\"sblid\":\"SBL2\"}\n{\"asn\":64496,\"asname\":\"X\"}\n\
        {broken\n{\"type\":\"metadata\",\"timestamp\":1744682874,\"records\":2}\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::SpamhausJson);
    assert_eq!(
        rows(&parsed),
        vec![
            row("192.0.2.0/24", "192.0.2.0/24", "SBL1"),
            row("2001:db8::/32", "2001:db8::/32", "SBL2"),
        ]
    );
    assert_eq!(problem_lines(&parsed), vec![3, 4]);
    assert_eq!(
        parsed.problems[0].reason,
        "an ASN record (AS64496) names no prefix"
    );
}

#[test]
fn dshield_makes_one_prefix_per_aligned_row_and_ranges_otherwise() {
    let text = b"#  DShield\nStart\tEnd\tNetblock\tAttacks\tName\tCountry\temail\n\
        192.0.2.0\t192.0.2.255\t24\t788\tExample Net\tJP\ta@example.net\n\
        198.51.100.0\t198.51.100.2\t24\t5\t\t\t\n203.0.113.0\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::Dshield);
    assert_eq!(
        rows(&parsed),
        vec![
            row(
                "192.0.2.0/24",
                "192.0.2.0/24",
                "Example Net, JP, 788 attacks"
            ),
            row("198.51.100.0-198.51.100.2", "198.51.100.0/31", "5 attacks"),
            row("198.51.100.0-198.51.100.2", "198.51.100.2/32", "5 attacks"),
        ]
    );
    assert_eq!(problem_lines(&parsed), vec![5]);
}

#[test]
fn firehol_netset_is_detected_from_its_header() {
    let text = b"#\n# ipv4 hash:net ipset\n#\n192.0.2.0/24\n198.51.100.7\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::Firehol);
    assert_eq!(parsed.indicators.len(), 2);
    assert_eq!(parsed.indicators[1].net.to_string(), "198.51.100.7/32");
}

#[test]
fn feodo_csv_skips_header_and_keeps_malware_and_port() {
    let text = b"# abuse.ch\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\
        \"last_online\",\"malware\"\n\"2024-02-08 19:20:49\",\"192.0.2.5\",\"5000\",\"offline\",\
        \"2024-03-11\",\"Pikabot\"\n\"2024\",\"bad\"\n# END 1 entries";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::FeodoCsv);
    assert_eq!(
        rows(&parsed),
        vec![row("192.0.2.5", "192.0.2.5/32", "Pikabot C2 port 5000")]
    );
    assert_eq!(problem_lines(&parsed), vec![4]);
}

#[test]
fn tor_exit_names_the_exit_node() {
    let text = b"ExitNode ABCDEF\nPublished 2024-03-11 13:07:19\nLastStatus 2024-03-12 08:00:00\n\
        ExitAddress 192.0.2.44 2024-03-12 08:10:51\nExitAddress nonsense\nGarbage here\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::TorExit);
    assert_eq!(
        rows(&parsed),
        vec![row("192.0.2.44", "192.0.2.44/32", "Tor exit ABCDEF")]
    );
    assert_eq!(problem_lines(&parsed), vec![5, 6]);
}

#[test]
fn zeek_intel_keeps_addr_and_subnet_rows_with_source_and_url() {
    let text = b"#separator \\x09\n\
        #fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n\
        192.0.2.1\tIntel::ADDR\tcif\tscanner\thttps://intel.example/1\n\
        198.51.100.0/24\tIntel::SUBNET\tfeed-b\t-\t-\n\
        evil.example\tIntel::DOMAIN\tcif\t-\t-\n\
        nonsense\tIntel::ADDR\tcif\t-\t-\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.format, Format::ZeekIntel);
    let url = Some("https://intel.example/1".to_owned());
    assert_eq!(
        rows(&parsed),
        vec![
            ("192.0.2.1".into(), "192.0.2.1/32".into(), "cif".into(), url),
            row("198.51.100.0/24", "198.51.100.0/24", "feed-b"),
        ]
    );
    assert_eq!(parsed.skipped, 1);
    assert_eq!(problem_lines(&parsed), vec![6]);
}

#[test]
fn suricata_iprep_filters_by_category_and_score() {
    let text = b"192.0.2.1,41,127\n192.0.2.2,41,20\n192.0.2.3,7,127\n192.0.2.4,x,1\n";
    let mut options = Options {
        categories: vec!["pulse".into()],
        min_score: Some(50),
        ..Options::default()
    };
    options.category_names.insert(41, "Pulse".into());
    let parsed = run_with(Format::Auto, text, &options);
    assert_eq!(parsed.format, Format::SuricataIprep);
    assert_eq!(
        rows(&parsed),
        vec![row("192.0.2.1", "192.0.2.1/32", "Pulse score 127")]
    );
    assert_eq!(parsed.skipped, 2);
    assert_eq!(problem_lines(&parsed), vec![4]);

    let by_id = Options {
        categories: vec!["7".into()],
        ..Options::default()
    };
    let parsed = run_with(Format::SuricataIprep, text, &by_id);
    assert_eq!(
        rows(&parsed),
        vec![row("192.0.2.3", "192.0.2.3/32", "category 7 score 127")]
    );
}

#[test]
fn suricata_categories_file_maps_ids_to_names() {
    let names = parse_categories(Cursor::new(b"41,Pulse,OTX community\n2,CnC,Command\nbad\n"));
    let names = names.unwrap();
    assert_eq!(names.get(&41).map(String::as_str), Some("Pulse"));
    assert_eq!(names.get(&2).map(String::as_str), Some("CnC"));
    assert_eq!(names.len(), 2);
}

#[test]
fn format_names_round_trip_and_match_the_config() {
    for name in crate::config::LIST_FORMATS {
        assert_eq!(Format::from_name(name).map(Format::name), Some(*name));
    }
    assert_eq!(Format::from_name("csv"), None);
}

#[test]
fn invalid_utf8_and_nul_bytes_are_problems_not_panics() {
    let text = b"192.0.2.1 # caf\xc3\n\xff\xfe\n192.0.2.2\x00\n\x00\n198.51.100.1\n";
    let parsed = run(Format::Auto, text);
    assert_eq!(parsed.indicators.len(), 2);
    assert_eq!(&*parsed.indicators[0].comment, "caf\u{fffd}");
    assert_eq!(parsed.indicators[1].entry.as_ref(), "198.51.100.1");
    assert_eq!(problem_lines(&parsed), vec![2, 3, 4]);
}

#[test]
fn a_ten_megabyte_line_is_one_problem_and_the_next_line_still_counts() {
    let mut text = b"192.0.2.1\n".to_vec();
    text.extend(std::iter::repeat(b'7').take(10 * 1024 * 1024));
    text.extend_from_slice(b"\n198.51.100.1\n");
    // A small buffer makes the long line arrive in many pieces.
    let reader = BufReader::with_capacity(4096, Cursor::new(text));
    let parsed = parse(reader, Format::Plain, &Options::default()).unwrap();
    assert_eq!(parsed.indicators.len(), 2);
    assert_eq!(problem_lines(&parsed), vec![2]);
    assert_eq!(parsed.problems[0].reason, "line longer than 8192 bytes");
}

#[test]
fn a_line_of_exactly_max_line_bytes_is_kept() {
    let mut text = b"192.0.2.1 ".to_vec();
    text.resize(MAX_LINE, b'x');
    text.extend_from_slice(b"\r\n");
    let parsed = run(Format::Plain, &text);
    assert_eq!(parsed.indicators.len(), 1);
    assert_eq!(parsed.indicators[0].comment.len(), MAX_LINE - 10);
}

#[test]
fn many_bad_lines_are_listed_up_to_the_cap_then_counted() {
    let text = "junk\n".repeat(MAX_PROBLEMS + 2500);
    let parsed = run(Format::Plain, text.as_bytes());
    assert_eq!(parsed.problems.len(), MAX_PROBLEMS + 1);
    assert_eq!(rejected_lines(&parsed.problems), MAX_PROBLEMS + 2500);
    let last = parsed.problems.last().unwrap();
    assert_eq!(last.line, MAX_PROBLEMS + 2500);
    assert_eq!(
        last.reason,
        "2500 more bad lines not listed one by one (the last at line 3500)"
    );
}

#[test]
fn an_xml_error_page_yields_problems_and_no_entries() {
    let text =
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code></Error>";
    let parsed = run(Format::Auto, text);
    assert!(parsed.indicators.is_empty());
    assert_eq!(problem_lines(&parsed), vec![1, 2]);
}

#[test]
fn an_empty_input_has_no_lines() {
    let parsed = run(Format::Auto, b"");
    assert_eq!(
        (parsed.lines, parsed.indicators.len(), parsed.problems.len()),
        (0, 0, 0)
    );
}

/// A reader that fails after some bytes: the error comes back, not a partial list.
struct FailingReader(usize);

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk gone"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'\n');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_read_error_is_returned() {
    let reader = BufReader::new(FailingReader(100));
    let err = parse(reader, Format::Plain, &Options::default()).unwrap_err();
    assert_eq!(err.to_string(), "disk gone");
}
