//! The normalised flow record every decoder produces and everything downstream reads.
//!
//! One type for NetFlow v5, v9 and IPFIX: a field the exporter did not send keeps its
//! default (`None` for addresses and times, 0 for counters and ports, 1 for sampling).

use std::net::IpAddr;

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// One flow as exported, after decoding and normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// The exporter's address, canonical (an IPv4-mapped IPv6 source is IPv4).
    pub exporter: IpAddr,
    /// NetFlow v9 source id, IPFIX observation domain, v5 engine type << 8 | engine id.
    pub domain: u32,
    /// Export protocol version: 5, 9 or 10.
    pub version: u16,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// Post-NAT source address (IE 225 or 281) where the exporter sends one.
    pub nat_src: Option<IpAddr>,
    /// Post-NAT destination address (IE 226 or 282) where the exporter sends one.
    pub nat_dst: Option<IpAddr>,
    pub src_port: u16,
    pub dst_port: u16,
    /// IANA protocol number.
    pub protocol: u8,
    pub tcp_flags: u16,
    /// ICMP type << 8 | code, from IE 32/139 or the destination port of v5-style records.
    pub icmp_type_code: u16,
    /// Octets as exported (not multiplied by the sampling rate).
    pub octets: u64,
    /// Packets as exported (not multiplied by the sampling rate).
    pub packets: u64,
    pub start: Option<UnixMillis>,
    pub end: Option<UnixMillis>,
    pub input_if: u32,
    pub output_if: u32,
    /// IE 61 flowDirection: 0 ingress, 1 egress, where sent.
    pub direction: Option<u8>,
    /// The sampling rate that applies: 1 when unsampled or unknown.
    pub sampling: u32,
}

impl FlowRecord {
    /// An empty record from `exporter`; decoders fill in what the wire carries.
    pub fn new(exporter: IpAddr, version: u16, domain: u32) -> FlowRecord {
        FlowRecord {
            exporter,
            domain,
            version,
            src: None,
            dst: None,
            nat_src: None,
            nat_dst: None,
            src_port: 0,
            dst_port: 0,
            protocol: 0,
            tcp_flags: 0,
            icmp_type_code: 0,
            octets: 0,
            packets: 0,
            start: None,
            end: None,
            input_if: 0,
            output_if: 0,
            direction: None,
            sampling: 1,
        }
    }

    /// True when the record names no endpoint at all (some Cisco WLC and Juniper records).
    pub fn has_address(&self) -> bool {
        self.src.is_some() || self.dst.is_some() || self.nat_src.is_some() || self.nat_dst.is_some()
    }
}

/// Maps an IPv4-mapped IPv6 address to IPv4; leaves every other address as it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}
