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
fn dnsbl_enabled_is_refused_plainly() {
    assert_eq!(
        errors("[dnsbl]\nenabled = true\n"),
        ["test.toml:2: [dnsbl] enabled: DNSBL lookups are not available in this version"]
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
