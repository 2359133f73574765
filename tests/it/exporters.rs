//! Real exporters feeding the running service: Debian's softflowd turns the shared input
//! capture into NetFlow v9 and IPFIX over loopback, and flowalert must find the two scans
//! in it (203.0.113.66 and 2001:db8:bad::66, see the captures' PROVENANCE.md).

use std::process::Command;

use crate::common::testdata;
use crate::harness::{stat, wait_for_lines, Daemon, TempDir};

/// Fields of a file-form record after `flowalert[PID]: KIND `, as (key, value) pairs.
fn fields(line: &str) -> Vec<(String, String)> {
    let message = line.split_once("]: ").map_or(line, |(_, m)| m);
    let pairs = message
        .split(' ')
        .skip(1)
        .filter_map(|pair| pair.split_once('='));
    pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn value<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    let found = fields.iter().find(|(k, _)| k == key);
    found.map_or("", |(_, v)| v.as_str())
}

fn softflowd_finds_both_scans(version: &str) {
    let softflowd = std::path::Path::new("/usr/sbin/softflowd");
    assert!(
        softflowd.exists(),
        "softflowd is not installed (apt-get install softflowd)"
    );
    let input = testdata("captures/own/input_traffic.pcap");

    let dir = TempDir::new(&format!("softflowd-{version}"));
    dir.write(
        "scanners.txt",
        "203.0.113.66 # v4 scanner\n2001:db8:bad::/48 # v6 scanner\n",
    );
    let config = dir.write(
        "flowalert.toml",
        "[input]\nlisten = [\"127.0.0.1:0\"]\n\
         [networks]\nhome = [\"192.0.2.0/24\", \"2001:db8:10::/48\"]\n\
         [state]\ndir = \"state\"\n\
         [[list]]\nname = \"scanners\"\npath = \"scanners.txt\"\nformat = \"plain\"\n\
         [output]\nhostname = \"test\"\nfile = \"alerts.log\"\n",
    );
    let daemon = Daemon::start(&config);

    // softflowd 1.1.0 blocks on its control socket when -c comes after -r.
    let status = Command::new(softflowd)
        .arg("-c")
        .arg(dir.path.join("softflowd.ctl"))
        .arg("-p")
        .arg(dir.path.join("softflowd.pid"))
        .arg("-n")
        .arg(daemon.flow_address.to_string())
        .args(["-v", version, "-a"])
        .arg("-r")
        .arg(&input)
        .output()
        .expect("cannot run softflowd");
    assert!(status.status.success(), "softflowd failed: {status:?}");
    let log = dir.path.join("alerts.log");
    let hits = wait_for_lines(&log, 2);

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(stat(&stats, "datagrams"), 20, "{stats}");
    assert_eq!(stat(&stats, "sets-no-template"), 0, "{stats}");
    assert_eq!(stat(&stats, "hit-records"), 2, "{stats}");

    let lines = wait_for_lines(&log, 4);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let records: Vec<Vec<(String, String)>> = lines.iter().map(|l| fields(l)).collect();
    for (line, record) in hits.iter().zip(&records) {
        assert!(line.contains(": hit "), "{line}");
        assert_eq!(value(record, "dir"), "in", "{line}");
        assert_eq!(value(record, "lists"), "scanners", "{line}");
        assert_eq!(value(record, "exporter"), "127.0.0.1", "{line}");
    }
    let mut repeats: Vec<(String, String, String, String)> = records[2..]
        .iter()
        .map(|r| {
            let get = |k: &str| value(r, k).to_owned();
            (get("listed"), get("flows"), get("packets"), get("bytes"))
        })
        .collect();
    repeats.sort();
    let expected = [
        ("2001:db8:bad::66", "4", "4", "240"),
        ("203.0.113.66", "30", "30", "1200"),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(repeats, expected, "{lines:#?}");
}

#[test]
#[ignore = "needs softflowd and shared testdata"]
fn softflowd_netflow_v9_export_gives_both_scans() {
    softflowd_finds_both_scans("9");
}

#[test]
#[ignore = "needs softflowd and shared testdata"]
fn softflowd_ipfix_export_gives_both_scans() {
    softflowd_finds_both_scans("10");
}
