//! Builders for hand-made datagrams in unit tests: headers are filled in, the bytes of
//! sets and records are written out (and commented) by each test.

use std::net::IpAddr;

use super::{Counters, Decoder, FlowRecord, Limits};

pub const EXPORTER: &str = "192.0.2.241";
/// Receive time used by the tests (2026-12-03T...).
pub const NOW: i64 = 1_796_325_242_000;

pub fn exporter() -> IpAddr {
    EXPORTER.parse().unwrap()
}

pub fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// A set (v9 flowset) with its 4-byte header: id, then length including the header.
pub fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    b.extend_from_slice(body);
    b
}

/// A v9 datagram: version 9, count 1 (never trusted), sysUpTime, unix secs, sequence,
/// source id 0, then the flowsets as given.
pub fn v9(uptime: u32, secs: u32, seq: u32, flowsets: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0, 9, 0, 1];
    for v in [uptime, secs, seq, 0] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    for f in flowsets {
        b.extend_from_slice(f);
    }
    b
}

/// An IPFIX message: version 10, length, export time, sequence, domain, then the sets.
pub fn ipfix(secs: u32, seq: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![0, 10, 0, 0];
    for v in [secs, seq, domain] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    for s in sets {
        b.extend_from_slice(s);
    }
    let len = (b.len() as u16).to_be_bytes();
    b[2] = len[0];
    b[3] = len[1];
    b
}

/// Template record body: id, field count, then (IE, length) pairs.
pub fn template(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    b.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for (ie, len) in fields {
        b.extend_from_slice(&ie.to_be_bytes());
        b.extend_from_slice(&len.to_be_bytes());
    }
    b
}

/// Decodes `datagrams` in order with one decoder; returns it and every record.
pub fn run(datagrams: &[Vec<u8>]) -> (Decoder, Vec<FlowRecord>) {
    let mut d = Decoder::new(Limits::default());
    let out = feed(&mut d, datagrams);
    (d, out)
}

pub fn feed(d: &mut Decoder, datagrams: &[Vec<u8>]) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    for g in datagrams {
        d.decode(exporter(), g, NOW, &mut out);
    }
    out
}

/// Counters with `datagrams` set and the rest from `f`.
pub fn counters(datagrams: u64, f: impl FnOnce(&mut Counters)) -> Counters {
    let mut c = Counters {
        datagrams,
        ..Counters::default()
    };
    f(&mut c);
    c
}
