//! A minimal reader of the shared captures for the benchmark and the capture sanity tests:
//! classic little-endian pcap, Ethernet (optionally one VLAN tag), IPv4 or IPv6, UDP.
//! Fragments and anything else are skipped. Not the product's capture reader.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One UDP payload with its source address and capture time in ms.
pub struct Udp {
    pub src: IpAddr,
    pub time_ms: i64,
    pub payload: Vec<u8>,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Every UDP datagram of the pcap bytes `file`, in order.
pub fn udp_datagrams(file: &[u8]) -> Vec<Udp> {
    let mut out = Vec::new();
    let mut at = 24;
    while let (Some(secs), Some(usecs), Some(len)) =
        (le32(file, at), le32(file, at + 4), le32(file, at + 8))
    {
        let Some(frame) = file.get(at + 16..at + 16 + len as usize) else {
            break;
        };
        at += 16 + len as usize;
        if let Some((src, payload)) = udp(frame) {
            let time_ms = i64::from(secs) * 1000 + i64::from(usecs) / 1000;
            out.push(Udp {
                src,
                time_ms,
                payload: payload.to_vec(),
            });
        }
    }
    out
}

fn udp(frame: &[u8]) -> Option<(IpAddr, &[u8])> {
    let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut ip = frame.get(14..)?;
    if ethertype == 0x8100 {
        ethertype = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        ip = frame.get(18..)?;
    }
    let (src, l4) = match ethertype {
        0x0800 => ipv4(ip)?,
        0x86dd => ipv6(ip)?,
        _ => return None,
    };
    let len = usize::from(u16::from_be_bytes([*l4.get(4)?, *l4.get(5)?]));
    Some((src, l4.get(8..len.max(8))?))
}

fn ipv4(ip: &[u8]) -> Option<(IpAddr, &[u8])> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let flags_frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    if *ip.get(9)? != 17 || flags_frag & 0x3fff != 0 {
        return None;
    }
    let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    Some((IpAddr::V4(Ipv4Addr::from(src)), ip.get(ihl..)?))
}

fn ipv6(ip: &[u8]) -> Option<(IpAddr, &[u8])> {
    if *ip.get(6)? != 17 {
        return None;
    }
    let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
    Some((IpAddr::V6(Ipv6Addr::from(src)), ip.get(40..)?))
}
