//! The running service end to end: datagrams over loopback UDP in, records out to a file and
//! to syslog receivers on loopback, and the signals an operator sends.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use crate::harness::{
    exporter, flowalert, mask, stat, v5_datagram, wait_for_lines, Daemon, TempDir, V5Flow, PATIENCE,
};

/// 2025-12-03T18:40:00Z, the export time of every test datagram.
const UNIX_SECS: u32 = 1_764_787_200;
const UPTIME_MS: u32 = 600_000;

const SCANNER: [u8; 4] = [203, 0, 113, 66];
const SERVER: [u8; 4] = [192, 0, 2, 10];
const LAPTOP: [u8; 4] = [192, 0, 2, 12];
const CONTROLLER: [u8; 4] = [198, 51, 100, 77];

/// A SYN from the scanner to our server's port 22, ten seconds before the export.
fn scan_syn() -> V5Flow {
    V5Flow {
        src: SCANNER,
        dst: SERVER,
        sport: 44444,
        dport: 22,
        proto: 6,
        flags: 0x02,
        packets: 1,
        octets: 60,
        first: UPTIME_MS - 10_000,
        last: UPTIME_MS - 10_000,
    }
}

/// Our server's RST back to the scanner: the same pair, and not an outbound alert.
fn scan_reply() -> V5Flow {
    V5Flow {
        src: SERVER,
        dst: SCANNER,
        sport: 22,
        dport: 44444,
        flags: 0x14,
        octets: 40,
        first: UPTIME_MS - 9_990,
        last: UPTIME_MS - 9_990,
        ..scan_syn()
    }
}

/// A laptop of ours talking HTTPS to a listed controller.
fn beacon() -> V5Flow {
    V5Flow {
        src: LAPTOP,
        dst: CONTROLLER,
        sport: 51515,
        dport: 443,
        proto: 6,
        flags: 0x1b,
        packets: 14,
        octets: 2210,
        first: UPTIME_MS - 20_000,
        last: UPTIME_MS - 5_000,
    }
}

struct Setup {
    dir: TempDir,
    config: std::path::PathBuf,
}

/// A configuration with one list, our documentation /24 as home, and `output` appended.
fn setup(label: &str, output: &str) -> Setup {
    let dir = TempDir::new(label);
    dir.write(
        "blocked.txt",
        "203.0.113.66 # scanner\n198.51.100.77 # controller\n",
    );
    let text = format!(
        "[input]\nlisten = [\"127.0.0.1:0\"]\n\
         [networks]\nhome = [\"192.0.2.0/24\"]\n\
         [state]\ndir = \"state\"\n\
         [[list]]\nname = \"blocked\"\npath = \"blocked.txt\"\nformat = \"plain\"\n\
         [output]\nhostname = \"test\"\nfile = \"alerts.log\"\n{output}"
    );
    let config = dir.write("flowalert.toml", &text);
    Setup { dir, config }
}

fn send(socket: &UdpSocket, daemon: &Daemon, sequence: u32, flows: &[V5Flow]) {
    let datagram = v5_datagram(UPTIME_MS, UNIX_SECS, sequence, flows);
    socket
        .send_to(&datagram, daemon.flow_address)
        .expect("cannot send to flowalert");
}

const SCAN_HIT: &str = "TIME test flowalert[PID]: hit src=203.0.113.66 sport=44444 \
    dst=192.0.2.10 dport=22 proto=TCP dir=in match=src listed=203.0.113.66 lists=blocked \
    refs=- start=2025-12-03T18:39:50.000Z exporter=127.0.0.1 sampling=1 packets=1 bytes=60 \
    names=\"scanner\"";

const BEACON_HIT: &str = "TIME test flowalert[PID]: hit src=192.0.2.12 sport=51515 \
    dst=198.51.100.77 dport=443 proto=TCP dir=out match=dst listed=198.51.100.77 \
    lists=blocked refs=- start=2025-12-03T18:39:40.000Z exporter=127.0.0.1 sampling=1 \
    packets=14 bytes=2210 names=\"controller\"";

/// The scan's SYN and its reply, summed when their window closes.
const SCAN_REPEAT: &str = "TIME test flowalert[PID]: repeat src=203.0.113.66 dst=192.0.2.10 \
    proto=TCP dir=in match=src listed=203.0.113.66 lists=blocked peers=1 flows=2 packets=2 \
    bytes=100 first=2025-12-03T18:39:50.000Z last=2025-12-03T18:39:50.010Z names=\"scanner\"";

#[test]
fn a_scan_and_its_replies_make_one_inbound_hit_and_one_repeat_at_exit() {
    let setup = setup("scan", "");
    let daemon = Daemon::start(&setup.config);
    let socket = exporter();

    send(&socket, &daemon, 0, &[scan_syn(), scan_reply()]);
    send(&socket, &daemon, 2, &[beacon()]);
    let log = setup.dir.path.join("alerts.log");
    let lines = wait_for_lines(&log, 2);
    assert_eq!(mask(&lines[0]), SCAN_HIT);
    assert_eq!(mask(&lines[1]), BEACON_HIT);
    assert!(lines[0].contains(&format!("flowalert[{}]: ", daemon.pid())));

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    let lines = wait_for_lines(&log, 3);
    assert_eq!(mask(&lines[2]), SCAN_REPEAT);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(stat(&stats, "datagrams"), 2);
}

#[test]
fn standard_output_gets_each_record_while_the_service_runs() {
    let output = "stdout = true\n[alerts]\nrepeat-window = \"1s\"\n";
    let setup = setup("stdout", output);
    let stdout = setup.dir.path.join("stdout.txt");
    let daemon = Daemon::start_with_stdout(&setup.config, &stdout);
    let socket = exporter();

    // Lines are gathered in blocks, but each turn of the loop writes what it has: the hit
    // as its datagram arrives, the repeat when the window closes on a timer.
    send(&socket, &daemon, 0, &[scan_syn(), scan_reply()]);
    let lines = wait_for_lines(&stdout, 1);
    assert_eq!(mask(&lines[0]), SCAN_HIT);
    let lines = wait_for_lines(&stdout, 2);
    assert!(
        mask(&lines[1]).starts_with(
            "TIME test flowalert[PID]: repeat src=203.0.113.66 dst=192.0.2.10 proto=TCP \
             dir=in match=src listed=203.0.113.66 lists=blocked peers=1 flows=2 packets=2"
        ),
        "{lines:#?}"
    );
    send(&socket, &daemon, 2, &[beacon()]);
    let lines = wait_for_lines(&stdout, 3);
    assert_eq!(mask(&lines[2]), BEACON_HIT);

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(wait_for_lines(&stdout, 3).len(), 3);
    // Each record went to the file and to standard output.
    assert_eq!(stat(&stats, "sink-written"), 6);
}

#[test]
fn records_reach_a_udp_syslog_receiver_as_rfc5424() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(PATIENCE)).unwrap();
    let target = receiver.local_addr().unwrap();
    let setup = setup("udp", &format!("syslog = [\"udp://{target}\"]\n"));
    let daemon = Daemon::start(&setup.config);

    send(&exporter(), &daemon, 0, &[beacon()]);
    let mut buffer = [0u8; 2048];
    let (length, _) = receiver.recv_from(&mut buffer).expect("no syslog datagram");
    let record = std::str::from_utf8(&buffer[..length]).unwrap();

    let parsed = syslog_loose::parse_message(record, syslog_loose::Variant::RFC5424);
    assert_eq!(parsed.protocol, syslog_loose::Protocol::RFC5424(1));
    assert_eq!(parsed.hostname, Some("test"));
    assert_eq!(parsed.appname, Some("flowalert"));
    assert_eq!(parsed.msgid, Some("hit"));
    let expected_body = BEACON_HIT.split("]: ").nth(1).unwrap();
    assert_eq!(parsed.msg, expected_body);
    // daemon facility (3), warning severity for an outbound hit (4).
    assert!(record.starts_with("<28>1 "), "{record}");
    assert!(record.contains(&format!(" flowalert {} hit ", daemon.pid())));
    assert!(record.contains("[meta sequenceId=\"1\"]"), "{record}");
}

#[test]
fn records_reach_tcp_syslog_receivers_with_both_framings() {
    for (scheme, octet_counted) in [("tcp", false), ("tcp+octet", true)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap();
        let setup = setup("tcp", &format!("syslog = [\"{scheme}://{target}\"]\n"));
        let daemon = Daemon::start(&setup.config);

        let socket = exporter();
        send(&socket, &daemon, 0, &[scan_syn()]);
        send(&socket, &daemon, 1, &[beacon()]);
        let (stream, _) = listener.accept().expect("flowalert did not connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut reader = BufReader::new(stream);
        let records: Vec<String> = (0..2)
            .map(|_| read_record(&mut reader, octet_counted))
            .collect();

        for (record, expected) in records.iter().zip([SCAN_HIT, BEACON_HIT]) {
            let parsed = syslog_loose::parse_message(record, syslog_loose::Variant::RFC5424);
            assert_eq!(
                parsed.msg,
                expected.split("]: ").nth(1).unwrap(),
                "{scheme}"
            );
        }
        assert!(
            records[1].contains("[meta sequenceId=\"2\"]"),
            "{}",
            records[1]
        );
        let (code, _) = daemon.stop();
        assert_eq!(code, 0);
    }
}

#[test]
fn a_reload_that_adds_a_tcp_syslog_target_connects_it() {
    let setup = setup("tcpreload", "");
    let mut daemon = Daemon::start(&setup.config);
    let text = std::fs::read_to_string(&setup.config).unwrap();

    // The first target a reload adds, then another in its place, on the token the first
    // target's sink had: each gets the next record.
    for (round, flow, expected) in [(2, scan_syn(), SCAN_HIT), (3, beacon(), BEACON_HIT)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let target = listener.local_addr().unwrap();
        let with_target = format!("{text}syslog = [\"tcp://{target}\"]\n");
        setup.dir.write("flowalert.toml", &with_target);
        daemon.signal("HUP");
        daemon.wait_for_nth("indicator set ready", round);
        send(&exporter(), &daemon, round as u32, &[flow]);

        let record = read_record(&mut accept_within_patience(&listener), false);
        let parsed = syslog_loose::parse_message(&record, syslog_loose::Variant::RFC5424);
        assert_eq!(
            parsed.msg,
            expected.split("]: ").nth(1).unwrap(),
            "round {round}"
        );
    }
    let (code, _) = daemon.stop();
    assert_eq!(code, 0);
}

/// The first connection to a non-blocking `listener`, as a blocking reader.
fn accept_within_patience(listener: &TcpListener) -> BufReader<std::net::TcpStream> {
    let deadline = Instant::now() + PATIENCE;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "flowalert did not connect");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) => panic!("accept: {err}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    BufReader::new(stream)
}

fn read_record(reader: &mut BufReader<std::net::TcpStream>, octet_counted: bool) -> String {
    if !octet_counted {
        let mut line = String::new();
        reader.read_line(&mut line).expect("no record");
        assert!(line.ends_with('\n'));
        return line.trim_end_matches('\n').to_owned();
    }
    let mut length = Vec::new();
    reader.read_until(b' ', &mut length).expect("no length");
    let length: usize = std::str::from_utf8(&length)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut record = vec![0u8; length];
    reader.read_exact(&mut record).expect("a short record");
    String::from_utf8(record).unwrap()
}

#[test]
fn sighup_under_traffic_loses_no_datagram_and_swaps_the_set() {
    let setup = setup("reload", "");
    let mut daemon = Daemon::start(&setup.config);
    let address = daemon.flow_address;

    // A sender that numbers its datagrams: the v5 sequence counts records, one per datagram.
    let sent = 3_000u32;
    let sender = std::thread::spawn(move || {
        let socket = exporter();
        let quiet = V5Flow {
            src: [192, 0, 2, 20],
            dst: [198, 51, 100, 20],
            ..beacon()
        };
        for sequence in 0..sent {
            let datagram = v5_datagram(UPTIME_MS, UNIX_SECS, sequence, &[quiet]);
            socket.send_to(&datagram, address).unwrap();
            // About 5 000 datagrams a second: a modest rate, well inside one core.
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    for round in 1..=3 {
        std::thread::sleep(Duration::from_millis(100));
        daemon.signal("HUP");
        daemon.wait_for_nth("indicator set ready", round + 1);
    }
    sender.join().unwrap();

    // The new list is used once reloaded: a listed quiet host now alerts.
    setup
        .dir
        .write("blocked.txt", "198.51.100.20 # newly listed\n");
    daemon.signal("HUP");
    daemon.wait_for_nth("indicator set ready", 5);
    let flow = V5Flow {
        src: [192, 0, 2, 20],
        dst: [198, 51, 100, 20],
        ..beacon()
    };
    send(&exporter(), &daemon, 0, &[flow]);
    let lines = wait_for_lines(&setup.dir.path.join("alerts.log"), 1);
    assert!(
        lines[0].contains("listed=198.51.100.20 lists=blocked"),
        "{}",
        lines[0]
    );

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(stat(&stats, "datagrams"), u64::from(sent) + 1);
    assert_eq!(stat(&stats, "reloads"), 4);
}

#[test]
fn a_reload_that_leaves_alerts_alone_keeps_folding_and_names_new_sources() {
    let setup = setup("keepwindows", "");
    let mut daemon = Daemon::start(&setup.config);
    let socket = exporter();
    let log = setup.dir.path.join("alerts.log");

    send(&socket, &daemon, 0, &[scan_syn()]);
    assert_eq!(mask(&wait_for_lines(&log, 1)[0]), SCAN_HIT);

    // The same lists again: the scan's window stays open and its reply folds into it.
    daemon.signal("HUP");
    daemon.wait_for_nth("indicator set ready", 2);
    send(&socket, &daemon, 1, &[scan_reply()]);
    wait_for_datagrams(&mut daemon, 2);

    // The scanner's entry now has another comment: its next flow closes the window, with
    // the repeat of the two flows before, and is a hit naming the new comment.
    setup.dir.write(
        "blocked.txt",
        "203.0.113.66 # scanner, seen again\n198.51.100.77 # controller\n",
    );
    daemon.signal("HUP");
    daemon.wait_for_nth("indicator set ready", 3);
    send(&socket, &daemon, 2, &[scan_syn()]);
    let lines = wait_for_lines(&log, 3);
    assert_eq!(mask(&lines[1]), SCAN_REPEAT);
    assert_eq!(
        mask(&lines[2]),
        SCAN_HIT.replace("names=\"scanner\"", "names=\"scanner, seen again\"")
    );

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    // Only the reopened window is left at exit, with one flow: no repeat.
    assert_eq!(wait_for_lines(&log, 3).len(), 3);
    assert_eq!(stat(&stats, "hit-records"), 2);
    assert_eq!(stat(&stats, "repeat-records"), 1);
}

/// Asks for stats lines until one says `count` datagrams were received.
fn wait_for_datagrams(daemon: &mut Daemon, count: u64) {
    let deadline = Instant::now() + PATIENCE;
    for asked in 1.. {
        daemon.signal("USR1");
        let line = daemon.wait_for_nth(" stats ", asked);
        if stat(&line, "datagrams") >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {count} datagrams in time: {line}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_bad_list_on_reload_keeps_the_old_set_and_says_why() {
    let setup = setup("badlist", "");
    let mut daemon = Daemon::start(&setup.config);
    setup
        .dir
        .write("blocked.txt", "<html><body>Access denied</body></html>\n");
    daemon.signal("HUP");
    let failure = daemon.wait_for("reload failed");
    assert!(failure.contains("blocked.txt"), "{failure}");

    send(&exporter(), &daemon, 0, &[beacon()]);
    let lines = wait_for_lines(&setup.dir.path.join("alerts.log"), 2);
    assert!(
        lines[0].contains("status kind=build-failed"),
        "{}",
        lines[0]
    );
    assert_eq!(mask(&lines[1]), BEACON_HIT);
    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(stat(&stats, "reloads-failed"), 1);
}

#[test]
fn sigusr2_reopens_the_file_logrotate_moved() {
    let setup = setup("reopen", "");
    let mut daemon = Daemon::start(&setup.config);
    let log = setup.dir.path.join("alerts.log");
    send(&exporter(), &daemon, 0, &[scan_syn()]);
    wait_for_lines(&log, 1);

    let rotated = setup.dir.path.join("alerts.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    daemon.signal("USR2");
    daemon.wait_for("output files reopened");
    send(&exporter(), &daemon, 1, &[beacon()]);

    let lines = wait_for_lines(&log, 1);
    assert_eq!(mask(&lines[0]), BEACON_HIT);
    assert_eq!(wait_for_lines(&rotated, 1).len(), 1);
    let (code, _) = daemon.stop();
    assert_eq!(code, 0);
}

#[test]
fn sigusr1_writes_a_stats_line() {
    let setup = setup("stats", "");
    let mut daemon = Daemon::start(&setup.config);
    send(&exporter(), &daemon, 0, &[scan_syn(), scan_reply()]);
    wait_for_lines(&setup.dir.path.join("alerts.log"), 1);
    daemon.signal("USR1");
    let line = daemon.wait_for("stats ");
    assert_eq!(stat(&line, "datagrams"), 1);
    assert!(line.contains("kernel-drops="), "{line}");
}

#[test]
fn check_config_names_file_line_and_key() {
    let dir = TempDir::new("check");
    let config = dir.write(
        "flowalert.toml",
        "[alerts]\nrepeat-window = \"ten minutes\"\n[input]\nlisten = [\"nowhere\"]\n",
    );
    let output = flowalert(&config, &["check-config".as_ref()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let path = config.display();
    assert!(
        stderr.contains(&format!("{path}:2: [alerts] repeat-window: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}:4: [input] listen: ")),
        "{stderr}"
    );
}

/// Debian's rsyslog receives our RFC 5424 records over TCP and writes them in its own file
/// format, which must be the line our own file gets.
#[test]
#[ignore = "needs rsyslog"]
fn rsyslog_writes_the_same_line_as_our_file() {
    let rsyslogd = std::path::Path::new("/usr/sbin/rsyslogd");
    assert!(
        rsyslogd.exists(),
        "rsyslogd is not installed (apt-get install rsyslog)"
    );
    let dir = TempDir::new("rsyslog");
    let port = free_tcp_port();
    let received = dir.path.join("received.log");
    let rsyslog_conf = dir.write(
        "rsyslog.conf",
        &format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imtcp\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\")\n\
             *.* action(type=\"omfile\" file=\"{file}\" template=\"RSYSLOG_FileFormat\")\n",
            work = dir.path.display(),
            file = received.display()
        ),
    );
    let mut rsyslog = std::process::Command::new(rsyslogd)
        .args(["-n", "-i"])
        .arg(dir.path.join("rsyslog.pid"))
        .arg("-f")
        .arg(&rsyslog_conf)
        .spawn()
        .expect("cannot start rsyslogd");
    wait_for_port(port);

    let setup = setup(
        "rsyslog-fa",
        &format!("syslog = [\"tcp+octet://127.0.0.1:{port}\"]\n"),
    );
    let daemon = Daemon::start(&setup.config);
    send(&exporter(), &daemon, 0, &[scan_syn()]);
    send(&exporter(), &daemon, 1, &[beacon()]);
    let ours = wait_for_lines(&setup.dir.path.join("alerts.log"), 2);
    let theirs = wait_for_lines(&received, 2);
    let _ = rsyslog.kill();
    let _ = rsyslog.wait();

    let theirs: Vec<&String> = theirs.iter().filter(|l| l.contains("flowalert[")).collect();
    assert_eq!(theirs.len(), 2, "{theirs:#?}");
    for (our_line, their_line) in ours.iter().zip(theirs) {
        // For RFC 5424 input rsyslog's tag is APP-NAME[PROCID] without the colon that
        // syslog(3)'s BSD form carries; every other byte, the microseconds too, is ours.
        assert_eq!(&our_line.replacen("]: ", "] ", 1), their_line);
    }
}

fn free_tcp_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn readiness_and_reloads_are_reported_to_systemd() {
    use std::os::unix::net::UnixDatagram;

    let setup = setup("notify", "");
    let socket_path = setup.dir.path.join("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .arg("--config")
        .arg(&setup.config)
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let receive = || {
        let mut buffer = [0u8; 512];
        let length = systemd.recv(&mut buffer).expect("no notification");
        String::from_utf8_lossy(&buffer[..length]).into_owned()
    };

    assert_eq!(receive(), "READY=1\n");
    kill(child.id(), "HUP");
    let reloading = receive();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(receive(), "READY=1\n");
    kill(child.id(), "TERM");
    assert_eq!(receive(), "STOPPING=1\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn daemon_mode_returns_once_the_pidfile_names_a_running_service() {
    let setup = setup("daemon", "");
    let pidfile = setup.dir.path.join("flowalert.pid");
    // Relative paths, as an operator types them: the daemon works from /, and its list
    // (`blocked.txt`, relative to the configuration) must still load.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .current_dir(&setup.dir.path)
        .args(["--config", "flowalert.toml", "run", "--daemon", "--pidfile"])
        .arg("flowalert.pid")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    // No waiting: an init script reads the pidfile right after the command returns.
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .expect("the pidfile exists when the command returns")
        .trim()
        .parse()
        .expect("a process id");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    // A second daemon on the same pidfile fails on its lock, and leaves the file naming the
    // first.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .current_dir(&setup.dir.path)
        .args(["--config", "flowalert.toml", "run", "--daemon", "--pidfile"])
        .arg("flowalert.pid")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let named = std::fs::read_to_string(&pidfile).expect("the first daemon's pidfile stays");
    assert_eq!(named.trim(), pid.to_string());

    kill(pid, "TERM");
    let deadline = Instant::now() + PATIENCE;
    while std::path::Path::new(&format!("/proc/{pid}/status")).exists() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.contains("State:\tZ") {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!pidfile.exists(), "a clean stop removes the pidfile");
}

#[test]
fn daemon_mode_that_cannot_start_says_so_and_leaves_no_pidfile() {
    let setup = setup("daemonfail", "");
    setup.dir.write("blocked.txt", "<html>Not found</html>\n");
    let pidfile = setup.dir.path.join("flowalert.pid");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .arg("--config")
        .arg(&setup.config)
        .args(["run", "--daemon", "--pidfile"])
        .arg(&pidfile)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the daemon stopped before it was ready"),
        "{stderr}"
    );
    assert!(!pidfile.exists());
}

fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A v9 datagram: header, then `flowsets` as they are.
fn v9_datagram(sequence: u32, flowsets: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 9, 0, 1];
    bytes.extend_from_slice(&UPTIME_MS.to_be_bytes());
    bytes.extend_from_slice(&UNIX_SECS.to_be_bytes());
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(&7u32.to_be_bytes());
    bytes.extend_from_slice(flowsets);
    bytes
}

/// Template 256: IPv4 source (8), destination (12), protocol (4), packets (2).
const V9_TEMPLATE: [u8; 24] = [
    0, 0, 0, 24, 1, 0, 0, 4, 0, 8, 0, 4, 0, 12, 0, 4, 0, 4, 0, 1, 0, 2, 0, 4,
];

/// One data flowset for template 256: 198.51.100.N -> 192.0.2.10, UDP, 3 packets, padded.
fn v9_data(n: u8) -> Vec<u8> {
    let mut flowset = vec![1, 0, 0, 20];
    flowset.extend_from_slice(&[198, 51, 100, n, 192, 0, 2, 10, 17, 0, 0, 0, 3]);
    flowset.extend_from_slice(&[0, 0, 0]);
    flowset
}

#[test]
fn two_workers_keep_each_exporters_templates_with_its_data() {
    let setup = setup("workers", "");
    let text = std::fs::read_to_string(&setup.config).unwrap();
    let text = text.replace("[input]\n", "[input]\nworkers = 2\n");
    std::fs::write(&setup.config, text).unwrap();
    let mut daemon = Daemon::start(&setup.config);

    let exporters = 40u8;
    for n in 0..exporters {
        let socket = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        let source = std::net::Ipv4Addr::new(127, 0, 1, n + 1);
        let socket = UdpSocket::bind((source, 0)).unwrap_or(socket);
        let template = v9_datagram(0, &V9_TEMPLATE);
        socket.send_to(&template, daemon.flow_address).unwrap();
        for sequence in 1..=5 {
            let data = v9_datagram(sequence, &v9_data(n));
            socket.send_to(&data, daemon.flow_address).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(300));

    daemon.signal("TERM");
    let first = daemon.wait_for_nth("stopped; stats ", 1);
    let second = daemon.wait_for_nth("stopped; stats ", 2);
    let total = |name: &str| stat(&first, name) + stat(&second, name);
    assert_eq!(total("datagrams"), 6 * u64::from(exporters));
    assert_eq!(
        total("records-v9"),
        5 * u64::from(exporters),
        "{first}\n{second}"
    );
    assert_eq!(total("sets-no-template"), 0);
    let both = stat(&first, "datagrams") > 0 && stat(&second, "datagrams") > 0;
    assert!(both, "{first}\n{second}");
}

#[test]
fn lookup_names_the_list_entry_and_the_exclusion_that_hides_an_address() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo");
    let args = ["lookup", "203.0.113.66", "10.1.2.3", "198.51.100.1"].map(AsRef::as_ref);
    let output = flowalert(&demo.join("flowalert.toml"), &args);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "203.0.113.66: listed by demo-drop entry 203.0.113.64/29 comment \"SBL900001\" \
         url https://www.spamhaus.org/drop/\n\
         10.1.2.3: not listed\n\
         10.1.2.3: excluded by the bogon range 10.0.0.0/8 (private, RFC 1918)\n\
         198.51.100.1: not listed\n"
    );
}

#[test]
fn update_with_nothing_to_fetch_exits_3() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo");
    let dir = TempDir::new("update3");
    let text = std::fs::read_to_string(demo.join("flowalert.toml")).unwrap();
    let text = text.replace(
        "dir = \"state\"",
        &format!("dir = \"{}\"", dir.path.display()),
    );
    let text = text.replace(
        "path = \"demo-",
        &format!("path = \"{}/demo-", demo.display()),
    );
    let config = dir.write("flowalert.toml", &text);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_flowalert"))
        .arg("--config")
        .arg(&config)
        .arg("update")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn check_config_fails_on_a_list_that_would_fail_the_reload() {
    let dir = TempDir::new("checklists");
    dir.write("page.txt", "<html><body>Access denied</body></html>\n");
    let config = dir.write(
        "flowalert.toml",
        "[[list]]\nname = \"page\"\npath = \"page.txt\"\n[output]\nstdout = true\n",
    );
    let output = flowalert(&config, &["check-config".as_ref()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("page.txt"), "{stderr}");
}

#[test]
fn replay_of_a_truncated_capture_writes_what_it_read_and_exits_1() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo");
    let bytes = std::fs::read(demo.join("demo.pcap")).unwrap();
    let dir = TempDir::new("truncated");
    let cut = dir.path.join("cut.pcap");
    // The first frame whole (24-byte file header, 16-byte record header, its bytes), then a
    // few bytes of the next.
    let first = 24 + 16 + u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    std::fs::write(&cut, &bytes[..first + 20]).unwrap();
    let output = flowalert(
        &demo.join("flowalert.toml"),
        &["replay".as_ref(), cut.as_ref()],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The first datagram's scan and beacon hits, then the repeat the flush closes.
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": hit ")).count(),
        2,
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("capture truncated"), "{stderr}");
}

#[test]
fn replay_that_stops_at_a_missing_capture_still_writes_the_records_before_it() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo");
    let dir = TempDir::new("missing-capture");
    let missing = dir.path.join("missing.pcap");
    let output = flowalert(
        &demo.join("flowalert.toml"),
        &[
            "replay".as_ref(),
            demo.join("demo.pcap").as_ref(),
            missing.as_ref(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let whole = flowalert(
        &demo.join("flowalert.toml"),
        &["replay".as_ref(), demo.join("demo.pcap").as_ref()],
    );
    // Standard output is written in blocks: the error must not lose the demo's six records.
    let without_pid = |out: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(out);
        text.lines()
            .map(|line| {
                line.split_once("]: ")
                    .map_or(line, |(_, rest)| rest)
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(without_pid(&output.stdout).len(), 6);
    assert_eq!(without_pid(&output.stdout), without_pid(&whole.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.pcap"), "{stderr}");
}
