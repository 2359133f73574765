//! Overload and outages through the running binary: a receiver slowed on purpose
//! (`FLOWALERT_TEST_STALL_MS`) and flooded, and a TCP syslog receiver that refuses
//! connections for a while.
//!
//! What must hold: the process stays up with bounded memory, every datagram is either
//! decoded or a kernel drop that the stats line shows, alerts are exactly right once the
//! flood ends, and a syslog outage loses only what does not fit the queue, counted.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::harness::{
    exporter, mask, stat, v5_datagram, wait_for_lines, Daemon, TempDir, V5Flow, PATIENCE,
};

/// 2025-12-03T18:40:00Z, the export time of every test datagram.
const UNIX_SECS: u32 = 1_764_787_200;
const UPTIME_MS: u32 = 600_000;

/// Peak RSS the flooded daemon may reach: its sockets' buffers are the kernel's, and the
/// decoder keeps no per-datagram state for v5, so a flood must not grow it.
const FLOOD_RSS_BOUND: u64 = 64 * 1024 * 1024;

fn setup(label: &str, extra: &str) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new(label);
    dir.write("blocked.txt", "203.0.113.66 # scanner\n");
    let text = format!(
        "[input]\nlisten = [\"127.0.0.1:0\"]\nreceive-buffer = 65536\n\
         [networks]\nhome = [\"192.0.2.0/24\"]\n\
         [state]\ndir = \"state\"\n\
         [[list]]\nname = \"blocked\"\npath = \"blocked.txt\"\nformat = \"plain\"\n\
         [output]\nhostname = \"test\"\nfile = \"alerts.log\"\n{extra}"
    );
    let config = dir.write("flowalert.toml", &text);
    (dir, config)
}

/// A SYN from the listed scanner to home address 192.0.2.`host`, port 22.
fn scan_syn(host: u8) -> V5Flow {
    V5Flow {
        src: [203, 0, 113, 66],
        dst: [192, 0, 2, host],
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

/// 30 flows between unlisted addresses: work for the decoder and the lookup, no alert.
fn flood_datagram(sequence: u32) -> Vec<u8> {
    let flows: Vec<V5Flow> = (0..30u8)
        .map(|n| V5Flow {
            src: [10, 1, (sequence % 250) as u8, n],
            dst: [10, 2, 0, n],
            ..scan_syn(1)
        })
        .collect();
    v5_datagram(UPTIME_MS, UNIX_SECS, sequence * 30, &flows)
}

/// `VmHWM` (peak RSS) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Sends flood datagrams to `to` for `length`; returns how many the kernel took.
fn flood(to: SocketAddr, length: Duration) -> u64 {
    let socket = exporter();
    let datagrams: Vec<Vec<u8>> = (0..250).map(flood_datagram).collect();
    let end = Instant::now() + length;
    let mut sent = 0u64;
    while Instant::now() < end {
        for datagram in &datagrams {
            if socket.send_to(datagram, to).is_ok() {
                sent += 1;
            }
        }
    }
    sent
}

const SCAN_HIT: &str = "TIME test flowalert[PID]: hit src=203.0.113.66 sport=44444 \
    dst=192.0.2.10 dport=22 proto=TCP dir=in match=src listed=203.0.113.66 lists=blocked \
    refs=- start=2025-12-03T18:39:50.000Z exporter=127.0.0.1 sampling=1 packets=1 bytes=60 \
    names=\"scanner\"";

/// The receiver sleeps 50 ms after each batch while one sender floods it for two seconds:
/// the kernel drops, the stats line shows it (`kernel-drops=` from /proc/net/udp), every
/// datagram sent is either decoded or dropped by the kernel (exactly), peak RSS stays under
/// 64 MiB, and a listed flow sent after the flood makes exactly one hit record.
#[test]
fn a_slowed_receiver_under_flood_stays_up_counts_kernel_drops_and_alerts_after() {
    let (dir, config) = setup("flood", "");
    let mut daemon = Daemon::start_with_env(&config, &[("FLOWALERT_TEST_STALL_MS", "50")]);
    daemon.wait_for("FLOWALERT_TEST_STALL_MS set");

    let sent = flood(daemon.flow_address, Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        daemon.child.try_wait().expect("wait").is_none(),
        "flowalert died"
    );
    let peak = peak_rss(daemon.pid());
    daemon.signal("USR1");
    let during = daemon.wait_for(" kernel-drops=");
    let drops = stat(&during, "kernel-drops");
    assert!(drops > 0, "no kernel drops in {during}");

    let socket = exporter();
    let hit = v5_datagram(UPTIME_MS, UNIX_SECS, 0, &[scan_syn(10)]);
    socket.send_to(&hit, daemon.flow_address).expect("send");
    let log = dir.path.join("alerts.log");
    let lines = wait_for_lines(&log, 1);
    assert_eq!(mask(&lines[0]), SCAN_HIT);

    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let decoded = stat(&stats, "datagrams");
    let dropped = stat(&stats, "kernel-drops");
    eprintln!("flood: sent {sent}, decoded {decoded}, kernel drops {dropped}, peak {peak}");
    assert_eq!(decoded + dropped, sent + 1, "{stats}");
    assert_eq!(stat(&stats, "records-v5"), (decoded - 1) * 30 + 1);
    assert_eq!(stat(&stats, "hit-records"), 1);
    assert!(peak < FLOOD_RSS_BOUND, "peak RSS {peak}");
}

/// A TCP syslog receiver's port refuses connections while 8 hits are made; the queue
/// (`queue = 5`) keeps the first 5 and drops 3 (counted); once the port listens the
/// service reconnects and delivers those 5 in order, then 2 more hits; the file output has
/// all 10, and the final stats say sink-dropped=3.
#[test]
fn a_refusing_tcp_syslog_loses_only_what_overflows_the_queue_then_reconnects() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("addr").port()
    };
    let extra = format!("syslog = [\"tcp://127.0.0.1:{port}\"]\nqueue = 5\n");
    let (dir, config) = setup("tcpdown", &extra);
    let daemon = Daemon::start(&config);
    let socket = exporter();
    let log = dir.path.join("alerts.log");

    for host in 1..=8 {
        let hit = v5_datagram(UPTIME_MS, UNIX_SECS, 0, &[scan_syn(host)]);
        socket.send_to(&hit, daemon.flow_address).expect("send");
    }
    wait_for_lines(&log, 8);

    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port again");
    let (stream, _) = accept_within(&listener, PATIENCE);
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut received = Vec::new();
    for _ in 0..5 {
        received.push(read_line(&mut reader));
    }
    for host in 9..=10 {
        let hit = v5_datagram(UPTIME_MS, UNIX_SECS, 0, &[scan_syn(host)]);
        socket.send_to(&hit, daemon.flow_address).expect("send");
    }
    for _ in 0..2 {
        received.push(read_line(&mut reader));
    }

    let hosts: Vec<String> = received.iter().map(|r| dst_of(r)).collect();
    let want: Vec<String> = [1, 2, 3, 4, 5, 9, 10]
        .iter()
        .map(|h| format!("192.0.2.{h}"))
        .collect();
    assert_eq!(hosts, want);
    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(wait_for_lines(&log, 10).len(), 10);
    assert_eq!(stat(&stats, "sink-dropped"), 3, "{stats}");
    assert_eq!(stat(&stats, "hit-records"), 10, "{stats}");
    assert!(stat(&stats, "sink-connects") >= 1, "{stats}");
}

fn accept_within(listener: &TcpListener, patience: Duration) -> (std::net::TcpStream, SocketAddr) {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + patience;
    loop {
        match listener.accept() {
            Ok((stream, from)) => {
                stream.set_nonblocking(false).expect("blocking");
                return (stream, from);
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => panic!("flowalert did not reconnect: {err}"),
        }
    }
}

fn read_line(reader: &mut BufReader<std::net::TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a record");
    assert!(line.ends_with('\n'), "cut record {line:?}");
    line.trim_end().to_owned()
}

/// The `dst=` of a hit record.
fn dst_of(record: &str) -> String {
    let parsed = syslog_loose::parse_message(record, syslog_loose::Variant::RFC5424);
    assert_eq!(parsed.msgid, Some("hit"), "{record}");
    let start = record.find(" dst=").expect("a dst") + 5;
    record[start..].split(' ').next().unwrap().to_owned()
}
