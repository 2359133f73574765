//! Captures built byte by byte in the tests: pcap in both byte orders and resolutions,
//! pcapng with several interfaces, every link type, fragments and the skip reasons.

use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const EXPORTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 241);
const COLLECTOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const EXPORTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x241);
const COLLECTOR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

// ---- frame builders -------------------------------------------------------------------

/// UDP header (ports, length, checksum 0 = not computed) and payload.
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    d
}

/// IPv4 header without options: id, flags|fragment offset (in 8-byte units), protocol.
fn ipv4(id: u16, flags_offset: u16, protocol: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0]; // version 4, IHL 5; DSCP 0
    p.extend_from_slice(&((20 + body.len()) as u16).to_be_bytes()); // total length
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&flags_offset.to_be_bytes());
    p.extend_from_slice(&[64, protocol, 0, 0]); // TTL, protocol, checksum (unchecked)
    p.extend_from_slice(&EXPORTER.octets());
    p.extend_from_slice(&COLLECTOR.octets());
    p.extend_from_slice(body);
    p
}

/// IPv6 header: payload length, next header, hop limit 64, addresses.
fn ipv6(next_header: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0]; // version 6, traffic class 0, flow label 0
    p.extend_from_slice(&(body.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next_header, 64]);
    p.extend_from_slice(&EXPORTER6.octets());
    p.extend_from_slice(&COLLECTOR6.octets());
    p.extend_from_slice(body);
    p
}

/// Ethernet II: destination and source MAC, any VLAN tags (TPID, TCI), EtherType.
fn ethernet(tags: &[(u16, u16)], ethertype: u16, packet: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    ];
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

fn v4_udp_frame(payload: &[u8]) -> Vec<u8> {
    ethernet(
        &[],
        0x0800,
        &ipv4(1, 0x4000, 17, &udp(50000, 2055, payload)),
    )
}

// ---- file builders --------------------------------------------------------------------

/// A classic pcap file: 24-byte header, then 16-byte record headers and the frames.
/// `nanos` picks the nanosecond magic; `big` writes every field big-endian.
fn pcap(big: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend_from_slice(&u16b(2)); // version 2.4
    f.extend_from_slice(&u16b(4));
    f.extend_from_slice(&u32b(0)); // thiszone
    f.extend_from_slice(&u32b(0)); // sigfigs
    f.extend_from_slice(&u32b(65535)); // snaplen
    f.extend_from_slice(&u32b(linktype));
    for (sec, frac, data, origlen) in records {
        f.extend_from_slice(&u32b(*sec));
        f.extend_from_slice(&u32b(*frac));
        f.extend_from_slice(&u32b(data.len() as u32)); // caplen
        f.extend_from_slice(&u32b(*origlen));
        f.extend_from_slice(data);
    }
    f
}

/// One little-endian pcapng block: type, total length, body padded to 4, total length.
fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// Section header: byte-order magic, version 1.0, section length -1 (unknown).
fn ng_section() -> Vec<u8> {
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(PCAPNG_SHB, &body)
}

/// Interface description: link type, reserved, snaplen, optional if_tsresol (code 9),
/// opt_endofopt.
fn ng_interface(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = linktype.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&65535u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&[9, 0, 1, 0, r, 0, 0, 0]); // code 9, length 1, padded
        body.extend_from_slice(&[0, 0, 0, 0]); // end of options
    }
    ng_block(1, &body)
}

/// Enhanced packet: interface id, 64-bit timestamp (high, low), caplen, origlen, data.
fn ng_packet(interface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = interface.to_le_bytes().to_vec();
    body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ticks as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

/// Simple packet: original length, data (interface 0, no timestamp).
fn ng_simple(data: &[u8]) -> Vec<u8> {
    let mut body = (data.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(data);
    ng_block(3, &body)
}

fn reader(bytes: Vec<u8>) -> CaptureReader {
    CaptureReader::from_reader(Box::new(Cursor::new(bytes))).expect("capture opens")
}

fn read_all(r: &mut CaptureReader) -> Vec<Datagram> {
    let mut all = Vec::new();
    while let Some(d) = r.next_datagram().expect("no read error") {
        all.push(d);
    }
    all
}

fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

fn v6(ip: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(ip), port)
}

// ---- pcap -----------------------------------------------------------------------------

#[test]
fn pcap_little_endian_microseconds_with_ethernet_padding() {
    // 3-byte payload: 14 + 20 + 8 + 3 = 45 bytes, padded to the 60-byte Ethernet minimum.
    let mut frame = v4_udp_frame(b"abc");
    frame.resize(60, 0xee);
    let bytes = pcap(false, false, 1, &[(1_714_564_800, 123_456, &frame, 60)]);

    let mut r = reader(bytes);
    let d = r.next_datagram().unwrap().expect("one datagram");
    assert_eq!(d.time_us, 1_714_564_800_123_456);
    assert_eq!(d.src, v4(EXPORTER, 50000));
    assert_eq!(d.dst, v4(COLLECTOR, 2055));
    assert_eq!(d.payload, b"abc");
    assert_eq!(r.next_datagram().unwrap(), None);
    assert_eq!((r.counters().frames, r.counters().datagrams), (1, 1));
}

#[test]
fn pcap_big_endian_nanoseconds_raw_ip() {
    // LINKTYPE_RAW (101): the frame is the IPv6 packet itself. 999_999_999 ns -> 999_999 us.
    let packet = ipv6(17, &udp(4739, 4740, b"ipfix"));
    let bytes = pcap(
        true,
        true,
        101,
        &[(1_000, 999_999_999, &packet, packet.len() as u32)],
    );

    let d = read_all(&mut reader(bytes)).pop().expect("one datagram");
    assert_eq!(d.time_us, 1_000_999_999);
    assert_eq!(d.src, v6(EXPORTER6, 4739));
    assert_eq!(d.dst, v6(COLLECTOR6, 4740));
    assert_eq!(d.payload, b"ipfix");
}

#[test]
fn dlt_raw_12_and_14_read_as_raw_ip() {
    for linktype in [12, 14] {
        let packet = ipv4(9, 0, 17, &udp(1, 2, b"x"));
        let bytes = pcap(
            false,
            false,
            linktype,
            &[(5, 0, &packet, packet.len() as u32)],
        );
        let all = read_all(&mut reader(bytes));
        assert_eq!(all.len(), 1, "linktype {linktype}");
        assert_eq!(all[0].dst, v4(COLLECTOR, 2));
    }
}

#[test]
fn vlan_and_qinq_frames_are_unwrapped() {
    // 802.1ad outer tag (VLAN 100) then 802.1Q inner tag (VLAN 200), then IPv4.
    let qinq = ethernet(
        &[(0x88a8, 100), (0x8100, 200)],
        0x0800,
        &ipv4(1, 0, 17, &udp(2000, 2055, b"qinq")),
    );
    // One 802.1Q tag, then IPv6.
    let dot1q = ethernet(
        &[(0x8100, 7)],
        0x86dd,
        &ipv6(17, &udp(2001, 2055, b"dot1q")),
    );
    let bytes = pcap(
        false,
        false,
        1,
        &[
            (1, 0, &qinq, qinq.len() as u32),
            (2, 0, &dot1q, dot1q.len() as u32),
        ],
    );

    let all = read_all(&mut reader(bytes));
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].src, all[0].payload.as_slice()),
        (v4(EXPORTER, 2000), &b"qinq"[..])
    );
    assert_eq!(
        (all[1].src, all[1].payload.as_slice()),
        (v6(EXPORTER6, 2001), &b"dot1q"[..])
    );
}

#[test]
fn linux_cooked_v1_and_null_loopback() {
    // SLL: packet type 0 (to us), ARPHRD_LOOPBACK 772, address length 6, 8 address bytes,
    // protocol 0x0800.
    let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ipv4(1, 0, 17, &udp(10, 9995, b"sll")));
    // BSD loopback, AF_INET6 = 30 (macOS) written big-endian by the capturing host.
    let mut null = vec![0, 0, 0, 30];
    null.extend_from_slice(&ipv6(17, &udp(11, 9996, b"null")));

    let sll_file = pcap(false, false, 113, &[(1, 0, &sll, sll.len() as u32)]);
    let null_file = pcap(false, false, 0, &[(1, 0, &null, null.len() as u32)]);
    let a = read_all(&mut reader(sll_file));
    let b = read_all(&mut reader(null_file));
    assert_eq!(
        (a[0].dst, a[0].payload.as_slice()),
        (v4(COLLECTOR, 9995), &b"sll"[..])
    );
    assert_eq!(
        (b[0].dst, b[0].payload.as_slice()),
        (v6(COLLECTOR6, 9996), &b"null"[..])
    );
}

// ---- pcapng ---------------------------------------------------------------------------

#[test]
fn pcapng_interfaces_keep_their_link_types_and_resolutions() {
    // Interface 0: Ethernet, default resolution (microseconds).
    // Interface 1: Linux cooked v2, if_tsresol 9 (nanoseconds).
    // Interface 2: raw IP, if_tsresol 0x83 (2^-3 s: eighths of a second).
    let mut sll2 = vec![0x86, 0xdd, 0, 0]; // protocol IPv6, reserved
    sll2.extend_from_slice(&[0, 0, 0, 1, 0x03, 0x04, 0, 6]); // ifindex 1, ARPHRD, type, alen
    sll2.extend_from_slice(&[0; 8]); // link-layer address
    sll2.extend_from_slice(&ipv6(17, &udp(3000, 2055, b"sll2")));
    let raw = ipv4(1, 0, 17, &udp(3001, 2055, b"raw"));

    let mut file = ng_section();
    file.extend(ng_interface(1, None));
    file.extend(ng_interface(276, Some(9)));
    file.extend(ng_interface(101, Some(0x83)));
    file.extend(ng_packet(0, 1_714_564_800_000_001, &v4_udp_frame(b"eth")));
    file.extend(ng_packet(1, 1_714_564_800_000_000_999, &sll2));
    file.extend(ng_packet(2, 8 * 1_714_564_800 + 4, &raw));
    file.extend(ng_simple(&v4_udp_frame(b"spb")));

    let all = read_all(&mut reader(file));
    let got: Vec<(i64, &[u8])> = all
        .iter()
        .map(|d| (d.time_us, d.payload.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (1_714_564_800_000_001, &b"eth"[..]),
            (1_714_564_800_000_000, &b"sll2"[..]),
            (1_714_564_800_500_000, &b"raw"[..]),
            // A simple packet block has no time: it takes the previous frame's.
            (1_714_564_800_500_000, &b"spb"[..]),
        ]
    );
    assert_eq!(all[1].src, v6(EXPORTER6, 3000));
}

#[test]
fn pcapng_new_section_forgets_interfaces() {
    let mut file = ng_section();
    file.extend(ng_interface(1, None));
    file.extend(ng_section());
    file.extend(ng_packet(0, 1, &v4_udp_frame(b"lost")));
    file.extend(ng_block(5, &[0; 12])); // interface statistics: skipped

    let mut r = reader(file);
    assert_eq!(read_all(&mut r), []);
    assert_eq!(
        (r.counters().bad_interface, r.counters().other_blocks),
        (1, 1)
    );
}

// ---- fragments ------------------------------------------------------------------------

#[test]
fn fragmented_ipv4_datagram_is_reassembled() {
    // A 1000-byte payload: UDP header + 1000 bytes = 1008, split at 512 (64 * 8).
    let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let datagram = udp(40000, 2055, &payload);
    // MF set, offset 0 | MF clear, offset 64 (512 bytes). Sent last part first.
    let first = ethernet(&[], 0x0800, &ipv4(77, 0x2000, 17, &datagram[..512]));
    let second = ethernet(&[], 0x0800, &ipv4(77, 64, 17, &datagram[512..]));
    let bytes = pcap(
        false,
        false,
        1,
        &[
            (10, 1, &second, second.len() as u32),
            (10, 2, &first, first.len() as u32),
        ],
    );

    let mut r = reader(bytes);
    let d = r.next_datagram().unwrap().expect("reassembled");
    assert_eq!(d.time_us, 10_000_002);
    assert_eq!(d.src, v4(EXPORTER, 40000));
    assert_eq!(d.dst, v4(COLLECTOR, 2055));
    assert_eq!(d.payload, payload);
    assert_eq!(r.next_datagram().unwrap(), None);
    let c = r.counters();
    assert_eq!(
        (c.frames, c.fragments, c.reassembled, c.datagrams),
        (2, 2, 1, 1)
    );
    assert_eq!((c.fragments_dropped, c.reassemblies_dropped), (0, 0));
}

#[test]
fn fragmented_ipv6_datagram_with_extension_headers_is_reassembled() {
    let payload: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    let datagram = udp(4739, 4739, &payload);
    // Hop-by-hop (next 44, length 0 = 8 bytes, PadN) then the fragment header:
    // next header 17, reserved, offset << 3 | M, identification 0xdeadbeef.
    let frag = |offset: u16, more: bool, data: &[u8]| {
        let mut body = vec![44, 0, 1, 4, 0, 0, 0, 0];
        body.extend_from_slice(&[17, 0]);
        body.extend_from_slice(&((offset / 8) << 3 | u16::from(more)).to_be_bytes());
        body.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        body.extend_from_slice(data);
        ethernet(&[], 0x86dd, &ipv6(0, &body))
    };
    let a = frag(0, true, &datagram[..200]);
    let b = frag(200, false, &datagram[200..]);
    let bytes = pcap(
        false,
        false,
        1,
        &[(1, 0, &a, a.len() as u32), (1, 5, &b, b.len() as u32)],
    );

    let mut r = reader(bytes);
    let all = read_all(&mut r);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].src, v6(EXPORTER6, 4739));
    assert_eq!(all[0].payload, payload);
    assert_eq!(all[0].time_us, 1_000_005);
    assert_eq!((r.counters().fragments, r.counters().reassembled), (2, 1));
}

#[test]
fn incomplete_fragments_are_counted_at_the_end() {
    let datagram = udp(1, 2, &[0; 100]);
    let first = ethernet(&[], 0x0800, &ipv4(5, 0x2000, 17, &datagram[..64]));
    let bytes = pcap(false, false, 1, &[(1, 0, &first, first.len() as u32)]);
    let mut r = reader(bytes);
    assert_eq!(read_all(&mut r), []);
    let c = r.counters();
    assert_eq!(
        (c.fragments, c.fragments_dropped, c.reassemblies_dropped),
        (1, 1, 1)
    );
}

// ---- skips and errors -----------------------------------------------------------------

#[test]
fn every_skipped_frame_is_counted_by_reason() {
    let arp = ethernet(&[], 0x0806, &[0; 28]);
    let tcp = ethernet(&[], 0x0800, &ipv4(1, 0, 6, &[0; 20]));
    let good = v4_udp_frame(b"0123456789");
    let snapped = &good[..good.len() - 4]; // caplen < origlen
    let mut bad_udp = v4_udp_frame(b"xy");
    bad_udp[14 + 20 + 5] = 200; // UDP length 200 in a 10-byte UDP datagram
    let bytes = pcap(
        false,
        false,
        1,
        &[
            (1, 0, &arp, arp.len() as u32),
            (1, 0, &tcp, tcp.len() as u32),
            (1, 0, snapped, good.len() as u32),
            (1, 0, &bad_udp, bad_udp.len() as u32),
            (1, 0, &good, good.len() as u32),
        ],
    );

    let mut r = reader(bytes);
    assert_eq!(read_all(&mut r).len(), 1);
    let c = r.counters();
    assert_eq!((c.frames, c.datagrams), (5, 1));
    assert_eq!(
        (c.non_ip, c.non_udp, c.truncated, c.bad_length),
        (1, 1, 1, 1)
    );

    // LINKTYPE_USER0 (147) is not read at all.
    let mut r = reader(pcap(false, false, 147, &[(1, 0, &good, good.len() as u32)]));
    assert_eq!(read_all(&mut r), []);
    assert_eq!(r.counters().unsupported_link, 1);
}

#[test]
fn truncated_file_ends_with_an_error_after_the_datagrams_before() {
    let frame = v4_udp_frame(b"first");
    let mut bytes = pcap(
        false,
        false,
        1,
        &[
            (1, 0, &frame, frame.len() as u32),
            (2, 0, &frame, frame.len() as u32),
        ],
    );
    bytes.truncate(bytes.len() - 3);

    let mut r = reader(bytes);
    assert_eq!(r.next_datagram().unwrap().unwrap().payload, b"first");
    let second_record_at = (24 + 16 + frame.len()) as u64;
    match r.next_datagram() {
        Err(CaptureError::Truncated { offset }) => assert_eq!(offset, second_record_at),
        other => panic!("expected a truncation error, got {other:?}"),
    }
    assert_eq!(r.next_datagram().unwrap(), None);
}

#[test]
fn not_a_capture_is_refused() {
    let open = |b: &[u8]| CaptureReader::from_reader(Box::new(Cursor::new(b.to_vec())));
    match open(b"GET / HTTP/1.1\r\n") {
        Err(CaptureError::NotACapture { magic }) => assert_eq!(magic, Some(0x4745_5420)),
        other => panic!("got {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        open(b""),
        Err(CaptureError::NotACapture { magic: None })
    ));
    // A pcap magic with nothing after it: the header is cut.
    assert!(matches!(
        open(&[0xd4, 0xc3, 0xb2, 0xa1]),
        Err(CaptureError::Truncated { .. })
    ));
}

/// Hands out one byte per read, like a slow pipe.
struct Trickle(Cursor<Vec<u8>>);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn a_stream_that_trickles_reads_the_same() {
    let mut file = ng_section();
    file.extend(ng_interface(1, None));
    for i in 0..5u8 {
        file.extend(ng_packet(0, u64::from(i), &v4_udp_frame(&[i; 3])));
    }
    // The probe reads the first 64 KiB completely, so trickle a file longer than that.
    for i in 0..200u32 {
        file.extend(ng_packet(0, u64::from(i), &v4_udp_frame(&[7; 500])));
    }
    let expected = read_all(&mut reader(file.clone()));
    let mut r = CaptureReader::from_reader(Box::new(Trickle(Cursor::new(file)))).unwrap();
    assert_eq!(read_all(&mut r), expected);
    assert_eq!(expected.len(), 205);
}

#[test]
fn every_prefix_and_mutation_of_a_file_is_read_without_panic() {
    let mut file = ng_section();
    file.extend(ng_interface(1, Some(9)));
    file.extend(ng_packet(0, 1, &v4_udp_frame(b"one")));
    file.extend(ng_packet(
        0,
        2,
        &ethernet(&[], 0x0800, &ipv4(3, 0x2000, 17, &[0; 16])),
    ));
    file.extend(ng_packet(0, 3, &v4_udp_frame(b"two")));
    let full = read_all(&mut reader(file.clone()));
    assert_eq!(full.len(), 2);

    // Any prefix gives a prefix of the datagrams (then an error or the end).
    for len in 0..file.len() {
        let Ok(mut r) = CaptureReader::from_reader(Box::new(Cursor::new(file[..len].to_vec())))
        else {
            continue;
        };
        let mut got = Vec::new();
        while let Ok(Some(d)) = r.next_datagram() {
            got.push(d);
        }
        assert_eq!(got[..], full[..got.len()], "prefix of {len} bytes");
    }

    // Byte flips anywhere: no panic, and never more datagrams than frames.
    let mut seed = 0x2545_f491u32;
    for _ in 0..3000 {
        let mut bad = file.clone();
        for _ in 0..3 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = (seed >> 8) as usize % bad.len();
            bad[at] ^= (seed >> 24) as u8 | 1;
        }
        if let Ok(mut r) = CaptureReader::from_reader(Box::new(Cursor::new(bad))) {
            while let Ok(Some(_)) = r.next_datagram() {}
            assert!(r.counters().datagrams <= r.counters().frames);
        }
    }
}

#[test]
fn timestamp_resolutions() {
    assert_eq!(units_per_second(6), Some(1_000_000));
    assert_eq!(units_per_second(9), Some(1_000_000_000));
    assert_eq!(units_per_second(0x80 | 10), Some(1024));
    assert_eq!(units_per_second(20), None);
    assert_eq!(units_per_second(0x80 | 64), None);
    assert_eq!(ticks_to_us(1_500, 1_000, 10), 11_500_000);
    assert_eq!(ticks_to_us(u64::MAX, 1, 0), i64::MAX);
}

#[test]
fn long_records_grow_the_buffer_up_to_its_limit() {
    // 65000-byte payload in a 70000-byte record: longer than the initial 64 KiB buffer.
    let mut frame = v4_udp_frame(&[0x5a; 65000]);
    frame.resize(70_000, 0);
    let bytes = pcap(false, false, 1, &[(1, 0, &frame, frame.len() as u32)]);
    let all = read_all(&mut reader(bytes));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].payload.len(), 65000);

    // A record header claiming 2 MiB (and the bytes to back it) is refused.
    let huge = vec![0u8; 2 << 20];
    let mut r = reader(pcap(false, false, 1, &[(1, 0, &huge, huge.len() as u32)]));
    match r.next_datagram() {
        Err(CaptureError::RecordTooLong { offset, limit }) => {
            assert_eq!((offset, limit), (24, BUFFER_BYTES))
        }
        other => panic!("expected RecordTooLong, got {other:?}"),
    }
}

#[test]
fn a_process_information_block_shorter_than_12_bytes_is_corrupt_not_a_panic() {
    // The capture fuzz target's crash, minimised by hand: a section header, then a block
    // of type 0x80000001 (Process Information) whose length says 8.
    let mut bytes = ng_section();
    bytes.extend_from_slice(&0x8000_0001u32.to_le_bytes());
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    let mut r = reader(bytes);
    match r.next_datagram() {
        Err(CaptureError::Corrupt { offset, detail }) => {
            assert_eq!(offset, 28);
            assert_eq!(detail, "pcapng block length 8 is below 12");
        }
        other => panic!("expected a corrupt block, got {other:?}"),
    }
    assert!(matches!(r.next_datagram(), Ok(None)));
}

#[test]
fn the_capture_fuzz_crash_input_is_an_error() {
    // fuzz/artifacts/capture/crash-240c8ea7...: big-endian section, then the short block.
    let bytes: Vec<u8> = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 0x00, 0x00, 0x00, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d, 0x20, 0x00, 0x29,
        0x3d, 0x02, 0x55, 0x55, 0x7a, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x80, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 0x00, 0x7a, 0x1f,
    ];
    let mut r = reader(bytes);
    while let Ok(Some(_)) = r.next_datagram() {}
    assert!(matches!(r.next_datagram(), Ok(None)));
}
