use super::*;

fn parse(text: &str) -> (Option<Config>, Report) {
    let mut report = Report::default();
    let config = Config::parse(text, Path::new("test.toml"), &mut report);
    (config, report)
}

fn errors(text: &str) -> Vec<String> {
    let (_, report) = parse(text);
    report.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn shipped_default_config_is_clean_but_for_the_empty_home_warning() {
    let (config, report) = parse(include_str!("../../etc/flowalert.toml"));
    assert_eq!(report.errors, vec![]);
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["test.toml:36: [networks] home: empty: every alert's dir will be `unknown`"]
    );

    let config = config.unwrap();
    assert_eq!(config.input.listen.len(), 4);
    assert_eq!(config.input.listen[1], "[::]:2055".parse().unwrap());
    assert_eq!(config.alerts.repeat_window, Duration::from_secs(600));
    assert_eq!(config.lists.len(), 1);
    assert_eq!(config.lists[0].path, "/etc/flowalert/lists.d/*");
    assert_eq!(
        config.output.file,
        Some(PathBuf::from("/var/log/flowalert/alerts.log"))
    );
}

#[test]
fn empty_file_gives_defaults() {
    let (config, report) = parse("");
    let config = config.unwrap();
    assert!(report.errors.is_empty());
    assert_eq!(config.input.listen, vec!["0.0.0.0:2055".parse().unwrap()]);
    assert_eq!(config.templates.max_per_exporter, 1024);
    assert!(config.networks.exclude_bogons);
    assert_eq!(config.status.exporter_silence, Duration::from_secs(900));
    assert_eq!(config.output.facility, "daemon");
}

#[test]
fn every_problem_is_reported_with_file_line_and_key() {
    let text = "\
[input]
listen = [\"0.0.0.0:2055\", \"nonsense\"]
lisen = 1

[alerts]
repeat-window = \"90\"
max-peers = \"many\"

[[list]]
name = \"Bad Name\"
path = \"/tmp/x\"
format = \"csv\"

[colour]
x = 1
";
    assert_eq!(
        errors(text),
        [
            "test.toml:2: [input] listen: \"nonsense\" is not an address:port",
            "test.toml:3: [input] lisen: unknown key",
            "test.toml:6: [alerts] repeat-window: \"90\" is not a duration \
             (write it like 90s, 30m, 2h or 7d)",
            "test.toml:7: [alerts] max-peers: invalid type: string \"many\", expected usize",
            "test.toml:10: [list] name: \"Bad Name\" is not a list name ([a-z0-9._-]{1,32})",
            "test.toml:12: [list] format: unknown format \"csv\"; one of auto, plain, spamhaus, \
             spamhaus-json, dshield, firehol, feodo-csv, tor-exit, zeek-intel, suricata-iprep",
            "test.toml:14: [colour]: unknown section",
        ]
    );
}

#[test]
fn the_third_list_table_is_located() {
    let text = "\
[[list]]
name = \"a\"
path = \"/a\"
[[list]]
name = \"b\"
path = \"/b\"
[[list]]
name = \"a\"
path = \"/c\"
colour = 2
";
    assert_eq!(
        errors(text),
        [
            "test.toml:8: [list] name: \"a\" is used by an earlier [[list]]",
            "test.toml:10: [list] colour: unknown key",
        ]
    );
}

#[test]
fn syntax_error_names_its_line() {
    let errors = errors("[input]\nlisten = [\"0.0.0.0:2055\"\nworkers = 2\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("test.toml:3: -: "), "{}", errors[0]);
}

#[test]
fn dnsbl_defaults_are_off_with_a_local_resolver() {
    let (config, report) = parse("");
    assert!(report.errors.is_empty());
    let dnsbl = config.unwrap().dnsbl;
    assert!(!dnsbl.enabled);
    assert_eq!(dnsbl.resolver, "127.0.0.1:53".parse().unwrap());
    assert_eq!(dnsbl.qps, 20);
    assert_eq!(dnsbl.daily_cap, 300_000);
    assert_eq!(dnsbl.cache_size, 100_000);
    assert_eq!(dnsbl.max_pending, 1000);
    assert_eq!(dnsbl.max_ttl, Duration::from_secs(3600));
    assert_eq!(dnsbl.negative_ttl, Duration::from_secs(3600));
    assert_eq!(dnsbl.error_ttl, Duration::from_secs(300));
    assert_eq!(dnsbl.timeout, Duration::from_secs(2));
    assert_eq!(dnsbl.self_test_every, Duration::from_secs(3600));
    assert_eq!(dnsbl.pause, Duration::from_secs(1800));
    assert!(dnsbl.zones.is_empty());
}

const DNSBL_ZONES: &str = "\
[dnsbl]
enabled = true
resolver = \"127.0.0.53\"
qps = 5
timeout = \"500ms\"

[[dnsbl.zone]]
name = \"zen\"
zone = \"SecretKey123.zen.dq.spamhaus.net.\"
listed = [
    { range = \"127.0.0.2-127.0.0.3\", label = \"SBL\" },
    { range = \"127.0.0.9\", label = \"DROP\" },
]
ignore = [{ range = \"127.0.0.10-127.0.0.11\", label = \"PBL\" }]
txt = true

[[dnsbl.zone]]
name = \"spamcop\"
zone = \"bl.spamcop.net\"
listed = [{ range = \"127.0.0.2\", label = \"spamcop\" }]
";

#[test]
fn dnsbl_zones_are_read_with_their_ranges() {
    let (config, report) = parse(DNSBL_ZONES);
    assert_eq!(report.errors, vec![]);
    let dnsbl = config.unwrap().dnsbl;
    assert!(dnsbl.enabled);
    assert_eq!(dnsbl.resolver, "127.0.0.53:53".parse().unwrap());
    assert_eq!(dnsbl.qps, 5);
    assert_eq!(dnsbl.timeout, Duration::from_millis(500));
    assert_eq!(dnsbl.zones.len(), 2);

    let zen = &dnsbl.zones[0];
    assert_eq!(zen.name, "zen");
    assert_eq!(zen.zone, "secretkey123.zen.dq.spamhaus.net");
    assert!(zen.txt);
    let sbl = ReturnRange {
        first: Ipv4Addr::new(127, 0, 0, 2),
        last: Ipv4Addr::new(127, 0, 0, 3),
        label: "SBL".into(),
    };
    assert_eq!(zen.listed[0], sbl);
    assert_eq!(zen.listed[1].first, zen.listed[1].last);
    assert_eq!(zen.ignore[0].label, "PBL");
    assert!(zen.listed[0].contains(Ipv4Addr::new(127, 0, 0, 3)));
    assert!(!zen.listed[0].contains(Ipv4Addr::new(127, 0, 0, 4)));
    assert!(!dnsbl.zones[1].txt);
}

#[test]
fn a_dqs_key_never_shows_in_debug_output() {
    let (config, _) = parse(DNSBL_ZONES);
    let printed = format!("{:?}", config.unwrap());
    assert!(
        !printed.to_ascii_lowercase().contains("secretkey123"),
        "{printed}"
    );
    assert!(printed.contains("****.zen.dq.spamhaus.net"), "{printed}");
}

#[test]
fn dqs_zones_are_masked_and_others_shown_whole() {
    assert_eq!(
        masked_zone("abc.zen.dq.spamhaus.net"),
        "****.zen.dq.spamhaus.net"
    );
    assert_eq!(
        masked_zone("abc.sbl.dq.spamhaus.com"),
        "****.sbl.dq.spamhaus.com"
    );
    assert_eq!(masked_zone("zen.spamhaus.org"), "zen.spamhaus.org");
    assert_eq!(masked_zone("dnsbl.dronebl.org"), "dnsbl.dronebl.org");
}

#[test]
fn dnsbl_problems_name_their_line_and_key() {
    let text = "\
[dnsbl]
enabled = true
resolver = \"8.8.8.8:53\"
qps = 0
timeout = \"1h\"

[[dnsbl.zone]]
name = \"Zen\"
zone = \"mykey.zen.dq.spamhaus.net/\"
listed = [{ range = \"10.0.0.2\", label = \"SBL\" }]
ignore = [{ range = \"127.0.0.11-127.0.0.10\", label = \"PBL\" }]
colour = 1

[[dnsbl.zone]]
name = \"cop\"
zone = \"bl.spamcop.net\"
listed = [{ range = \"127.255.255.254\", label = \"x\" }]

[[dnsbl.zone]]
name = \"cop\"
zone = \"bl.spamcop.net\"
listed = [{ range = \"127.0.0.2\" }]
";
    let errors = errors(text);
    assert_eq!(
        errors,
        [
            "test.toml:3: [dnsbl] resolver: 8.8.8.8 is a public resolver; Spamhaus and other \
             DNSBLs refuse queries through them: use a local recursive resolver",
            "test.toml:4: [dnsbl] qps: must be 1 to 100000",
            "test.toml:5: [dnsbl] timeout: must be 10ms to 60s",
            "test.toml:8: [dnsbl.zone] name: \"Zen\" is not a zone name ([a-z0-9._-]{1,32})",
            "test.toml:9: [dnsbl.zone] zone: \"****.zen.dq.spamhaus.net/\" is not a DNS zone \
             (labels of a-z, 0-9, - and _)",
            "test.toml:10: [dnsbl.zone] listed: \"10.0.0.2\" is outside 127.0.0.0/8 (RFC 5782)",
            "test.toml:10: [dnsbl.zone] listed: no answer range counts as listed",
            "test.toml:11: [dnsbl.zone] ignore: \"127.0.0.11-127.0.0.10\": the first address \
             is after the last",
            "test.toml:12: [dnsbl.zone] colour: unknown key",
            "test.toml:17: [dnsbl.zone] listed: \"127.255.255.254\" reaches 127.255.255.0/24, \
             the refusal codes",
            "test.toml:17: [dnsbl.zone] listed: no answer range counts as listed",
            "test.toml:20: [dnsbl.zone] name: \"cop\" is used by an earlier [[dnsbl.zone]]",
            "test.toml:22: [dnsbl.zone] listed: missing field `label`",
            "test.toml:22: [dnsbl.zone] listed: no answer range counts as listed",
        ]
    );
    assert!(errors.iter().all(|error| !error.contains("mykey")));
}

#[test]
fn dnsbl_enabled_without_zones_is_refused() {
    assert_eq!(
        errors("[dnsbl]\nenabled = true\nresolver = \"[::1]:5353\"\n"),
        ["test.toml:2: [dnsbl] enabled: true but no [[dnsbl.zone]] is configured"]
    );
}

#[test]
fn prefixes_are_normalised_and_bare_addresses_accepted() {
    let (config, report) = parse("[networks]\nhome = [\"192.0.2.7/24\", \"2001:db8::1\"]\n");
    assert!(report.errors.is_empty());
    let home = config.unwrap().networks.home;
    assert_eq!(
        home,
        [
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::1/128".parse().unwrap()
        ]
    );
}

#[test]
fn list_names() {
    assert!(valid_list_name("spamhaus-drop.v4_1"));
    assert!(!valid_list_name(""));
    assert!(!valid_list_name("Drop"));
    assert!(!valid_list_name("a b"));
    assert!(!valid_list_name(&"a".repeat(33)));
}

#[test]
fn relative_paths_are_relative_to_the_configuration_file() {
    let text = "[state]\ndir = \"state\"\n[[list]]\nname = \"a\"\npath = \"lists/*.txt\"\n\
                [[list]]\nname = \"b\"\npath = \"/abs/b.txt\"\n[output]\nfile = \"out.log\"\n";
    let mut report = Report::default();
    let config = Config::parse(text, Path::new("/etc/fa/flowalert.toml"), &mut report).unwrap();
    assert_eq!(config.state.dir, PathBuf::from("/etc/fa/state"));
    assert_eq!(config.lists[0].path, "/etc/fa/lists/*.txt");
    assert_eq!(config.lists[1].path, "/abs/b.txt");
    assert_eq!(config.output.file, Some(PathBuf::from("/etc/fa/out.log")));
}

#[test]
fn syslog_targets_and_facility_are_checked() {
    let text = "[output]\nsyslog = [\"udp://127.0.0.1:514\", \"smtp://x\"]\nfacility = \"kern2\"\n";
    let found = errors(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("test.toml:2: [output] syslog: "),
        "{}",
        found[0]
    );
    assert!(found[0].contains("smtp://x"), "{}", found[0]);
    assert_eq!(
        found[1],
        "test.toml:3: [output] facility: \"kern2\" is not a syslog facility"
    );
}

#[test]
fn the_commented_dnsbl_example_in_the_shipped_config_is_valid() {
    let shipped = include_str!("../../etc/flowalert.toml");
    let example: String = shipped
        .lines()
        .skip_while(|line| *line != "# [[dnsbl.zone]]")
        .take_while(|line| line.starts_with('#'))
        .map(|line| format!("{}\n", line.trim_start_matches('#').trim_start()))
        .collect();
    let (config, report) = parse(&format!("[dnsbl]\nenabled = true\n{example}"));
    assert_eq!(report.errors, vec![]);
    let zones = config.unwrap().dnsbl.zones;
    assert_eq!(zones.len(), 1);
    assert_eq!(
        (zones[0].name.as_str(), zones[0].zone.as_str()),
        ("zen", "zen.spamhaus.org")
    );
    let labels: Vec<&str> = zones[0].listed.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["SBL", "XBL", "DROP"]);
    assert_eq!(zones[0].ignore[0].last, Ipv4Addr::new(127, 0, 0, 11));
    assert!(zones[0].txt);
}

#[test]
fn too_many_dnsbl_zones_are_refused() {
    let zone = |n: usize| {
        format!(
            "[[dnsbl.zone]]\nname = \"z{n}\"\nzone = \"z{n}.test\"\n\
             listed = [{{ range = \"127.0.0.2\", label = \"x\" }}]\n"
        )
    };
    let text: String = (0..=MAX_DNSBL_ZONES).map(zone).collect();
    assert_eq!(
        errors(&text),
        ["test.toml:65: [[dnsbl.zone]]: 17 zones; at most 16"]
    );
}

#[test]
fn a_problem_of_the_whole_file_names_no_line() {
    let problem = |line| Problem {
        path: "test.toml".into(),
        line,
        key: "-".into(),
        message: "the file is world-writable".into(),
    };
    assert_eq!(
        problem(0).to_string(),
        "test.toml: -: the file is world-writable"
    );
    assert_eq!(
        problem(4).to_string(),
        "test.toml:4: -: the file is world-writable"
    );
}
