//! Sinks against real loopback listeners: UDP, TCP with both framings, a TCP peer that
//! refuses and later accepts, `/dev/log`-style sockets and the file after a rename.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use flowalert::alert::{status_event, Event};
use flowalert::config::Output;
use flowalert::output::{file_line, Outputs};
use mio::{Events, Poll};
use syslog_loose::{parse_message, ProcId, Variant};

const T0: i64 = 1_796_327_229_517_513;
const FIRST_TOKEN: usize = 100;

fn config(syslog: Vec<String>, queue: usize) -> Output {
    Output {
        file: None,
        syslog,
        stdout: false,
        hostname: Some("fwcol".into()),
        facility: "daemon".into(),
        queue,
        enterprise_id: 0,
    }
}

fn event(n: usize) -> Event {
    status_event(
        T0 + n as i64,
        "test",
        &format!("record-{n}"),
        "detail text",
        4,
    )
}

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("flowalert-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    path
}

/// Polls, feeding events and ticks at `now_us`, until `done` holds (at most 10 s).
fn drive(poll: &mut Poll, outputs: &mut Outputs, now_us: i64, done: impl Fn(&Outputs) -> bool) {
    let mut events = Events::with_capacity(16);
    for _ in 0..200 {
        if done(outputs) {
            return;
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        for event in events.iter() {
            outputs.on_event(poll.registry(), event, now_us);
        }
        outputs.tick(poll.registry(), now_us);
    }
    panic!("not done after 200 polls: {:?}", outputs.counters());
}

/// Accepts one connection and returns everything it received until the peer closed.
fn receive_one(listener: TcpListener) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

/// Splits an RFC 6587 octet-counted stream into its records.
fn octet_records(mut stream: &[u8]) -> Vec<String> {
    let mut records = Vec::new();
    while !stream.is_empty() {
        let space = stream.iter().position(|&b| b == b' ').unwrap();
        let length: usize = std::str::from_utf8(&stream[..space])
            .unwrap()
            .parse()
            .unwrap();
        let record = &stream[space + 1..space + 1 + length];
        records.push(String::from_utf8(record.to_vec()).unwrap());
        stream = &stream[space + 1 + length..];
    }
    records
}

fn newline_records(stream: &[u8]) -> Vec<String> {
    let text = String::from_utf8(stream.to_vec()).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(str::to_owned).collect()
}

/// Checks one RFC 5424 record field by field; returns its sequenceId.
fn check_rfc5424(record: &str, n: usize) -> u64 {
    let parsed = parse_message(record, Variant::RFC5424);
    assert_eq!(parsed.hostname, Some("fwcol"), "{record}");
    assert_eq!(parsed.procid, Some(ProcId::PID(4711)));
    assert_eq!(parsed.msgid, Some("status"));
    assert_eq!(parsed.msg, format!("status {}", event(n).message));
    let meta = &parsed.structured_data[0];
    assert_eq!(meta.id, "meta");
    meta.params[0].1.parse().unwrap()
}

#[test]
fn udp_sink_sends_one_rfc5424_record_per_datagram() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let target = format!("udp://{}", receiver.local_addr().unwrap());
    let mut outputs = Outputs::open(&config(vec![target], 10), 4711).unwrap();

    for n in 1..=3 {
        outputs.write(&event(n));
    }

    let mut buffer = [0u8; 2048];
    for n in 1..=3 {
        let length = receiver.recv(&mut buffer).unwrap();
        let record = std::str::from_utf8(&buffer[..length]).unwrap();
        assert!(
            record.starts_with("<28>1 2026-12-03T19:47:09.51751"),
            "{record}"
        );
        assert_eq!(check_rfc5424(record, n), n as u64);
    }
    assert_eq!(
        (outputs.counters().written, outputs.counters().dropped),
        (3, 0)
    );
}

fn tcp_round_trip(scheme: &str, split: fn(&[u8]) -> Vec<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("{scheme}://{}", listener.local_addr().unwrap());
    let received = receive_one(listener);
    let mut outputs = Outputs::open(&config(vec![target], 100), 4711).unwrap();
    let mut poll = Poll::new().unwrap();

    // Written before the connection exists: they wait in the queue.
    for n in 1..=5 {
        outputs.write(&event(n));
    }
    outputs.register(poll.registry(), FIRST_TOKEN).unwrap();
    drive(&mut poll, &mut outputs, T0, |o| o.counters().written == 5);
    for n in 6..=50 {
        outputs.write(&event(n));
    }
    drive(&mut poll, &mut outputs, T0, |o| o.counters().written == 50);
    drop(outputs);

    let records = split(&received.join().unwrap());
    assert_eq!(records.len(), 50);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(check_rfc5424(record, index + 1), index as u64 + 1);
    }
}

#[test]
fn tcp_newline_framing_round_trip() {
    tcp_round_trip("tcp", newline_records);
}

#[test]
fn tcp_octet_counting_round_trip() {
    tcp_round_trip("tcp+octet", octet_records);
}

#[test]
fn tcp_refused_then_accepted_keeps_the_queue_and_counts_drops() {
    // A port nobody listens on (yet): connects are refused.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = probe.local_addr().unwrap();
    drop(probe);
    let target = format!("tcp+octet://{address}");
    let mut outputs = Outputs::open(&config(vec![target], 4), 4711).unwrap();
    let mut poll = Poll::new().unwrap();
    outputs.register(poll.registry(), FIRST_TOKEN).unwrap();
    drive(&mut poll, &mut outputs, T0, |o| o.counters().errors >= 1);

    // Down: four records fit the queue, the next two are dropped.
    for n in 1..=6 {
        outputs.write(&event(n));
    }
    let counters = outputs.counters().clone();
    assert_eq!(
        (counters.written, counters.dropped, counters.connects),
        (0, 2, 0)
    );
    let deadline = outputs.next_deadline().unwrap();
    assert_eq!(deadline, T0 + 500_000);

    // The receiver appears; nothing happens before the backoff has passed.
    let listener = TcpListener::bind(address).unwrap();
    let received = receive_one(listener);
    outputs.tick(poll.registry(), deadline - 1);
    assert_eq!(outputs.counters().connects, 0);
    drive(&mut poll, &mut outputs, deadline, |o| {
        o.counters().written == 4
    });
    outputs.write(&event(7));
    drive(&mut poll, &mut outputs, deadline, |o| {
        o.counters().written == 5
    });
    let counters = outputs.counters().clone();
    assert_eq!(
        (counters.written, counters.dropped, counters.connects),
        (5, 2, 1)
    );
    drop(outputs);

    let records = octet_records(&received.join().unwrap());
    let sequences: Vec<u64> = records
        .iter()
        .zip([1, 2, 3, 4, 7])
        .map(|(record, n)| check_rfc5424(record, n))
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 7]);
}

#[test]
fn tcp_peer_that_closes_is_reconnected_with_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut outputs = Outputs::open(&config(vec![format!("tcp://{address}")], 10), 4711).unwrap();
    let mut poll = Poll::new().unwrap();
    outputs.register(poll.registry(), FIRST_TOKEN).unwrap();

    // The first connection is accepted and closed at once.
    let (first, _) = listener.accept().unwrap();
    drive(&mut poll, &mut outputs, T0, |o| o.counters().connects == 1);
    drop(first);
    drive(&mut poll, &mut outputs, T0, |o| o.counters().errors == 1);
    outputs.write(&event(1));
    assert_eq!(outputs.next_deadline(), Some(T0 + 500_000));

    let received = receive_one(listener);
    drive(&mut poll, &mut outputs, T0 + 500_000, |o| {
        o.counters().written == 1
    });
    assert_eq!(outputs.counters().connects, 2);
    drop(outputs);
    let records = newline_records(&received.join().unwrap());
    assert_eq!(records.len(), 1);
    assert_eq!(check_rfc5424(&records[0], 1), 1);
}

#[test]
fn flush_at_shutdown_delivers_what_was_queued() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://{}", listener.local_addr().unwrap());
    let received = receive_one(listener);
    // Never registered (a replay with --to-outputs that has no loop): flush connects.
    let mut outputs = Outputs::open(&config(vec![target], 3), 4711).unwrap();
    for n in 1..=4 {
        outputs.write(&event(n));
    }
    outputs.flush();
    let counters = outputs.counters().clone();
    assert_eq!((counters.written, counters.dropped), (3, 1));
    drop(outputs);
    assert_eq!(newline_records(&received.join().unwrap()).len(), 3);
}

#[test]
fn unix_sink_gets_the_bsd_form() {
    let path = temp_path("devlog");
    let server = UnixDatagram::bind(&path).unwrap();
    let target = format!("unix:{}", path.display());
    let mut outputs = Outputs::open(&config(vec![target], 10), 4711).unwrap();
    outputs.write(&event(1));

    let mut buffer = [0u8; 2048];
    let length = server.recv(&mut buffer).unwrap();
    let expected = format!(
        "<28>Dec  3 19:47:09 flowalert[4711]: status {}",
        event(1).message
    );
    assert_eq!(std::str::from_utf8(&buffer[..length]).unwrap(), expected);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_reopened_after_rename_like_logrotate() {
    let dir = temp_path("file");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alerts.log");
    let mut output = config(Vec::new(), 10);
    output.file = Some(path.clone());
    let mut outputs = Outputs::open(&output, 4711).unwrap();

    outputs.write(&event(1));
    std::fs::rename(&path, dir.join("alerts.log.1")).unwrap();
    outputs.write(&event(2));
    outputs.reopen_files();
    outputs.write(&event(3));

    let line = |n| format!("{}\n", file_line(&event(n), "fwcol", 4711));
    let old = std::fs::read_to_string(dir.join("alerts.log.1")).unwrap();
    assert_eq!(old, line(1) + &line(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), line(3));
    let sinks: Vec<(String, u64)> = outputs
        .sinks()
        .map(|(name, c)| (name.to_owned(), c.written))
        .collect();
    assert_eq!(sinks, [(format!("file:{}", path.display()), 3)]);
    std::fs::remove_dir_all(&dir).unwrap();
}
