//! Which side started a flow, relative to the home networks.
//!
//! NetFlow reports each direction of a conversation as its own flow, so the reply to an
//! inbound scan arrives with the scanner as destination. The initiator is therefore judged
//! from the flow itself (SYN without ACK, then service ports, then ICMP type), never from
//! which field the listed address sits in. Anything not certain is `Unknown`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::proto::{ICMP, ICMPV6, TCP};
use crate::flow::FlowRecord;

const SYN: u16 = 0x02;
const ACK: u16 = 0x10;

/// Ports at or above 1024 that are services, not client ports: a flow between one of these
/// and an ephemeral port has its server on this side.
const REGISTERED_SERVICES: &[u16] = &[
    1194, 1433, 1521, 1723, 1883, 2049, 2375, 3306, 3389, 5060, 5061, 5432, 5900, 5985, 6379, 6443,
    8080, 8443, 8883, 9200, 11211, 27017,
];

/// `dir=` of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// A remote host started it.
    In,
    /// A home host started it.
    Out,
    Unknown,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::In => "in",
            Dir::Out => "out",
            Dir::Unknown => "unknown",
        }
    }
}

/// Which end of the flow as exported started the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Source,
    Destination,
    Unknown,
}

/// The direction of `flow` given whether each end is at home (pre- or post-NAT address).
pub fn direction(flow: &FlowRecord, home: &[IpNet]) -> Dir {
    let src_home = at_home(home, flow.src) || at_home(home, flow.nat_src);
    let dst_home = at_home(home, flow.dst) || at_home(home, flow.nat_dst);
    if src_home == dst_home {
        // Both inside or both outside: nothing to say relative to home.
        return Dir::Unknown;
    }

    match (initiator(flow), src_home) {
        (Initiator::Unknown, _) => Dir::Unknown,
        (Initiator::Source, true) | (Initiator::Destination, false) => Dir::Out,
        (Initiator::Source, false) | (Initiator::Destination, true) => Dir::In,
    }
}

/// The initiator from the flow's own fields.
pub fn initiator(flow: &FlowRecord) -> Initiator {
    if flow.protocol == TCP && flow.tcp_flags & SYN != 0 && flow.tcp_flags & ACK == 0 {
        return Initiator::Source;
    }
    match flow.protocol {
        ICMP | ICMPV6 => icmp_initiator(flow.protocol, flow.icmp_type_code),
        protocol if super::proto::has_ports(protocol) => {
            port_initiator(flow.src_port, flow.dst_port)
        }
        _ => Initiator::Unknown,
    }
}

/// The side with the service port is the server; the lower one when both are services.
fn port_initiator(src_port: u16, dst_port: u16) -> Initiator {
    match (is_service(src_port), is_service(dst_port)) {
        (true, false) => Initiator::Destination,
        (false, true) => Initiator::Source,
        (true, true) if src_port < dst_port => Initiator::Destination,
        (true, true) if dst_port < src_port => Initiator::Source,
        _ => Initiator::Unknown,
    }
}

fn is_service(port: u16) -> bool {
    (1..1024).contains(&port) || REGISTERED_SERVICES.contains(&port)
}

/// Requests come from the initiator; replies and errors go back to it.
fn icmp_initiator(protocol: u8, type_code: u16) -> Initiator {
    let icmp_type = (type_code >> 8) as u8;
    let (requests, answers): (&[u8], &[u8]) = if protocol == ICMP {
        // Echo, timestamp, information request; echo reply, unreachable, time exceeded,
        // parameter problem, timestamp and information reply.
        (&[8, 13, 15], &[0, 3, 11, 12, 14, 16])
    } else {
        // Echo request; unreachable, too big, time exceeded, parameter problem, echo reply.
        (&[128], &[1, 2, 3, 4, 129])
    };
    if requests.contains(&icmp_type) {
        Initiator::Source
    } else if answers.contains(&icmp_type) {
        Initiator::Destination
    } else {
        Initiator::Unknown
    }
}

fn at_home(home: &[IpNet], addr: Option<IpAddr>) -> bool {
    let Some(addr) = addr.map(crate::flow::canonical) else {
        return false;
    };
    home.iter().any(|net| net.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Vec<IpNet> {
        vec![
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8:1::/48".parse().unwrap(),
        ]
    }

    fn flow(src: &str, sport: u16, dst: &str, dport: u16, protocol: u8, flags: u16) -> FlowRecord {
        let mut flow = FlowRecord::new("192.0.2.241".parse().unwrap(), 9, 0);
        flow.src = Some(src.parse().unwrap());
        flow.dst = Some(dst.parse().unwrap());
        flow.src_port = sport;
        flow.dst_port = dport;
        flow.protocol = protocol;
        flow.tcp_flags = flags;
        flow
    }

    #[test]
    fn inbound_scan_and_its_reply_are_both_in() {
        let scan = flow("203.0.113.9", 44444, "192.0.2.10", 22, TCP, SYN);
        let reply = flow("192.0.2.10", 22, "203.0.113.9", 44444, TCP, SYN | ACK);
        let reset = flow("192.0.2.10", 22, "203.0.113.9", 44444, TCP, 0x14);
        assert_eq!(direction(&scan, &home()), Dir::In);
        assert_eq!(direction(&reply, &home()), Dir::In);
        assert_eq!(direction(&reset, &home()), Dir::In);
    }

    #[test]
    fn outbound_connection_and_its_reply_are_both_out() {
        let request = flow("192.0.2.10", 51000, "198.51.100.7", 443, TCP, 0x1b);
        let reply = flow("198.51.100.7", 443, "192.0.2.10", 51000, TCP, 0x1b);
        assert_eq!(direction(&request, &home()), Dir::Out);
        assert_eq!(direction(&reply, &home()), Dir::Out);
    }

    #[test]
    fn syn_scan_of_a_high_port_uses_the_flags() {
        let scan = flow("203.0.113.9", 44444, "192.0.2.10", 40000, TCP, SYN);
        assert_eq!(direction(&scan, &home()), Dir::In);
        // The reset back has neither a SYN nor a service port: not an outbound alert.
        let reset = flow("192.0.2.10", 40000, "203.0.113.9", 44444, TCP, 0x14);
        assert_eq!(direction(&reset, &home()), Dir::Unknown);
    }

    #[test]
    fn udp_both_ways() {
        let query = flow("192.0.2.10", 53000, "198.51.100.53", 53, 17, 0);
        let answer = flow("198.51.100.53", 53, "192.0.2.10", 53000, 17, 0);
        let inbound = flow("203.0.113.9", 40000, "192.0.2.10", 3389, 17, 0);
        assert_eq!(direction(&query, &home()), Dir::Out);
        assert_eq!(direction(&answer, &home()), Dir::Out);
        assert_eq!(direction(&inbound, &home()), Dir::In);
    }

    #[test]
    fn both_service_ports_lower_is_server_equal_is_unknown() {
        let low = flow("192.0.2.10", 1194, "203.0.113.9", 443, 17, 0);
        assert_eq!(direction(&low, &home()), Dir::Out);
        let same = flow("192.0.2.10", 123, "203.0.113.9", 123, 17, 0);
        assert_eq!(direction(&same, &home()), Dir::Unknown);
        let ephemeral = flow("192.0.2.10", 40000, "203.0.113.9", 50000, 17, 0);
        assert_eq!(direction(&ephemeral, &home()), Dir::Unknown);
    }

    #[test]
    fn icmp_echo_and_errors() {
        let mut ping = flow("203.0.113.9", 0, "192.0.2.10", 0, ICMP, 0);
        ping.icmp_type_code = 8 << 8;
        let mut pong = flow("192.0.2.10", 0, "203.0.113.9", 0, ICMP, 0);
        assert_eq!(direction(&ping, &home()), Dir::In);
        assert_eq!(direction(&pong, &home()), Dir::In);
        pong.icmp_type_code = 3 << 8 | 3;
        assert_eq!(direction(&pong, &home()), Dir::In);
        ping.icmp_type_code = 9 << 8; // router advertisement: no conversation
        assert_eq!(direction(&ping, &home()), Dir::Unknown);
    }

    #[test]
    fn ipv6_echo_out_and_reply() {
        let mut request = flow("2001:db8:1::12", 0, "2001:db8:bad::5", 0, ICMPV6, 0);
        request.icmp_type_code = 128 << 8;
        let mut reply = flow("2001:db8:bad::5", 0, "2001:db8:1::12", 0, ICMPV6, 0);
        reply.icmp_type_code = 129 << 8;
        assert_eq!(direction(&request, &home()), Dir::Out);
        assert_eq!(direction(&reply, &home()), Dir::Out);
    }

    #[test]
    fn ipv4_mapped_home_address_counts_as_home() {
        let scan = flow("203.0.113.9", 44444, "::ffff:192.0.2.10", 22, TCP, SYN);
        assert_eq!(direction(&scan, &home()), Dir::In);
    }

    #[test]
    fn nat_address_at_home_counts() {
        let mut scan = flow("203.0.113.9", 44444, "198.18.0.1", 22, TCP, SYN);
        assert_eq!(direction(&scan, &home()), Dir::Unknown);
        scan.nat_dst = Some("192.0.2.10".parse().unwrap());
        assert_eq!(direction(&scan, &home()), Dir::In);
    }

    #[test]
    fn gre_both_outside_and_empty_home_are_unknown() {
        let gre = flow("203.0.113.9", 0, "192.0.2.10", 0, 47, 0);
        assert_eq!(direction(&gre, &home()), Dir::Unknown);
        let outside = flow("203.0.113.9", 44444, "198.51.100.7", 22, TCP, SYN);
        assert_eq!(direction(&outside, &home()), Dir::Unknown);
        let scan = flow("203.0.113.9", 44444, "192.0.2.10", 22, TCP, SYN);
        assert_eq!(direction(&scan, &[]), Dir::Unknown);
    }
}
