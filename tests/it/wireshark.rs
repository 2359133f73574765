//! Our own demo capture decoded by Wireshark (Debian's tshark) and by flowalert: every
//! record's addresses, ports, protocol and counters must agree.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use flowalert::capture::CaptureReader;
use flowalert::flow::{Decoder, Limits};

const FIELDS: &[&str] = &[
    "frame.number",
    "cflow.srcaddr",
    "cflow.srcaddrv6",
    "cflow.dstaddr",
    "cflow.dstaddrv6",
    "cflow.srcport",
    "cflow.dstport",
    "cflow.protocol",
    "cflow.packets",
    "cflow.octets",
];

/// (frame, src, dst, sport, dport, protocol, packets, octets) for every record.
type Row = (usize, IpAddr, IpAddr, u16, u16, u8, u64, u64);

fn tshark_rows(capture: &Path) -> Vec<Row> {
    let tshark = std::path::Path::new("/usr/bin/tshark");
    assert!(
        tshark.exists(),
        "tshark is not installed (apt-get install tshark)"
    );
    let mut command = Command::new(tshark);
    command.arg("-r").arg(capture);
    command.args(["-d", "udp.port==2055,cflow", "-d", "udp.port==4739,cflow"]);
    command.args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=;"]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().expect("cannot run tshark");
    assert!(output.status.success(), "tshark failed: {output:?}");

    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let columns: Vec<Vec<&str>> = line
            .split(';')
            .map(|c| c.split(',').filter(|v| !v.is_empty()).collect())
            .collect();
        let frame: usize = columns[0][0].parse().unwrap();
        let src: Vec<&str> = columns[1].iter().chain(&columns[2]).copied().collect();
        let dst: Vec<&str> = columns[3].iter().chain(&columns[4]).copied().collect();
        for index in 0..src.len() {
            let number = |column: usize| columns[column][index].parse::<u64>().unwrap();
            rows.push((
                frame,
                src[index].parse().unwrap(),
                dst[index].parse().unwrap(),
                number(5) as u16,
                number(6) as u16,
                number(7) as u8,
                number(8),
                number(9),
            ));
        }
    }
    rows
}

fn our_rows(capture: &Path) -> Vec<Row> {
    let mut reader = CaptureReader::open(capture).unwrap();
    let mut decoder = Decoder::new(Limits::default());
    let mut rows = Vec::new();
    let mut frame = 0;
    while let Some(datagram) = reader.next_datagram().unwrap() {
        frame += 1;
        let mut records = Vec::new();
        let now_ms = datagram.time_us / 1000;
        decoder.decode(datagram.src.ip(), &datagram.payload, now_ms, &mut records);
        for r in records {
            let (src, dst) = (r.src.unwrap(), r.dst.unwrap());
            let ports = (r.src_port, r.dst_port);
            rows.push((
                frame, src, dst, ports.0, ports.1, r.protocol, r.packets, r.octets,
            ));
        }
    }
    rows
}

#[test]
#[ignore = "needs tshark"]
fn the_demo_capture_decodes_as_wireshark_decodes_it() {
    let capture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo/demo.pcap");
    let theirs = tshark_rows(&capture);
    assert_eq!(theirs.len(), 30, "{theirs:#?}");
    assert_eq!(our_rows(&capture), theirs);
}
