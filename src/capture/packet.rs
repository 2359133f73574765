//! One captured frame down to its UDP datagram: link layer, IPv4/IPv6, UDP.
//!
//! Pure functions over `&[u8]`. Every length is checked before the bytes it covers are read,
//! so no input makes them panic; a frame that is not a whole UDP datagram says why
//! (`Skip`), and an IP fragment is handed back for reassembly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad (QinQ outer tag) and the pre-standard QinQ tag.
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// More VLAN tags than this in one frame is not a real network.
const MAX_VLAN_TAGS: usize = 8;
/// IPv6 extension headers walked before giving up on a frame.
const MAX_EXTENSION_HEADERS: usize = 16;

const PROTO_UDP: u8 = 17;
const NH_HOP_BY_HOP: u8 = 0;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_AUTH: u8 = 51;
const NH_DEST_OPTS: u8 = 60;

/// The link layers replay understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// LINKTYPE_ETHERNET (1), with any number of 802.1Q/QinQ tags.
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113), Linux cooked capture v1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276), Linux cooked capture v2.
    LinuxSll2,
    /// LINKTYPE_RAW (101) and the DLT_RAW values some files carry (12, 14): IPv4 or IPv6.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NULL (0): BSD loopback, address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, address family in network byte order.
    Loop,
}

impl Link {
    /// The link for a pcap/pcapng link type number, `None` when replay cannot read it.
    pub fn from_linktype(linktype: u32) -> Option<Link> {
        match linktype {
            1 => Some(Link::Ethernet),
            113 => Some(Link::LinuxSll),
            276 => Some(Link::LinuxSll2),
            12 | 14 | 101 => Some(Link::RawIp),
            228 => Some(Link::Ipv4),
            229 => Some(Link::Ipv6),
            0 => Some(Link::Null),
            108 => Some(Link::Loop),
            _ => None,
        }
    }
}

/// Why a frame gave no datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP, but not UDP (TCP, ICMP, ESP, ...).
    NotUdp,
    /// The capture cut the frame (snap length) before the end of the datagram.
    Truncated,
    /// A length field disagrees with the bytes of a frame captured whole.
    BadLength,
    /// An IP header that cannot be right (version, header length, jumbogram, nesting).
    Malformed,
}

/// Identifies the fragments of one IP datagram (RFC 791 / RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// IPv4 protocol, or the next header of the IPv6 fragment header.
    pub next_header: u8,
}

/// One fragment of an IP datagram.
#[derive(Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub key: FragmentKey,
    /// Byte offset of `data` within the reassembled IP payload.
    pub offset: usize,
    /// More fragments follow (IPv4 MF flag, IPv6 M flag).
    pub more: bool,
    pub data: &'a [u8],
}

/// A whole UDP datagram.
#[derive(Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
}

/// What a frame holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    Udp(Udp<'a>),
    Fragment(Fragment<'a>),
    Skip(Skip),
}

/// Decodes one frame. `cut` says the capture kept fewer bytes than the frame had, so a
/// shortfall is `Truncated` rather than `BadLength`.
pub fn parse_frame(link: Link, frame: &[u8], cut: bool) -> Parsed<'_> {
    let shortfall = if cut {
        Skip::Truncated
    } else {
        Skip::BadLength
    };
    match network_layer(link, frame) {
        Ok((IpVersion::V4, packet)) => ipv4(packet, shortfall),
        Ok((IpVersion::V6, packet)) => ipv6(packet, shortfall),
        Err(skip) => Parsed::Skip(skip),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpVersion {
    V4,
    V6,
}

/// Strips the link header; says which IP version follows.
fn network_layer(link: Link, frame: &[u8]) -> Result<(IpVersion, &[u8]), Skip> {
    match link {
        Link::Ethernet => ethernet(frame),
        Link::LinuxSll => {
            let ethertype = be16(frame, 14).ok_or(Skip::Truncated)?;
            by_ethertype(ethertype, rest(frame, 16))
        }
        Link::LinuxSll2 => {
            let ethertype = be16(frame, 0).ok_or(Skip::Truncated)?;
            by_ethertype(ethertype, rest(frame, 20))
        }
        Link::RawIp => by_version_nibble(frame),
        Link::Ipv4 => Ok((IpVersion::V4, frame)),
        Link::Ipv6 => Ok((IpVersion::V6, frame)),
        Link::Null => loopback(frame, false),
        Link::Loop => loopback(frame, true),
    }
}

fn ethernet(frame: &[u8]) -> Result<(IpVersion, &[u8]), Skip> {
    let mut ethertype = be16(frame, 12).ok_or(Skip::Truncated)?;
    let mut at = 14;

    // Each tag is TCI (2 bytes) then the next EtherType.
    let mut tags = 0;
    while ETHERTYPE_VLAN.contains(&ethertype) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(Skip::Malformed);
        }
        ethertype = be16(frame, at + 2).ok_or(Skip::Truncated)?;
        at += 4;
    }
    by_ethertype(ethertype, rest(frame, at))
}

fn by_ethertype(ethertype: u16, packet: &[u8]) -> Result<(IpVersion, &[u8]), Skip> {
    match ethertype {
        ETHERTYPE_IPV4 => Ok((IpVersion::V4, packet)),
        ETHERTYPE_IPV6 => Ok((IpVersion::V6, packet)),
        _ => Err(Skip::NotIp),
    }
}

fn by_version_nibble(packet: &[u8]) -> Result<(IpVersion, &[u8]), Skip> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ok((IpVersion::V4, packet)),
        Some(6) => Ok((IpVersion::V6, packet)),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

/// BSD loopback: a 4-byte address family. AF_INET is 2 everywhere; AF_INET6 is 24, 28 or
/// 30 depending on the BSD (10 on Linux, 23 on Windows). LINKTYPE_NULL stores it in the
/// writer's byte order, so a value with its low bytes empty is read the other way round.
fn loopback(frame: &[u8], network_order: bool) -> Result<(IpVersion, &[u8]), Skip> {
    let raw: [u8; 4] = frame
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(Skip::Truncated)?;
    let mut family = if network_order {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    if family > 0xffff {
        family = family.swap_bytes();
    }
    match family {
        2 => Ok((IpVersion::V4, rest(frame, 4))),
        10 | 23 | 24 | 28 | 30 => Ok((IpVersion::V6, rest(frame, 4))),
        _ => Err(Skip::NotIp),
    }
}

/// IPv4 (RFC 791). The header checksum is not verified: replay reads what was captured.
fn ipv4(packet: &[u8], shortfall: Skip) -> Parsed<'_> {
    let Some(header) = packet.get(..20) else {
        return Parsed::Skip(shortfall);
    };
    if header[0] >> 4 != 4 {
        return Parsed::Skip(Skip::Malformed);
    }
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header_len < 20 || total_len < header_len {
        return Parsed::Skip(Skip::Malformed);
    }
    // Ethernet pads short frames: the datagram ends at the total length.
    let Some(datagram) = packet.get(..total_len) else {
        return Parsed::Skip(shortfall);
    };
    let payload = rest(datagram, header_len);

    let src = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    let protocol = header[9];
    let flags_offset = u16::from_be_bytes([header[6], header[7]]);
    let more = flags_offset & 0x2000 != 0;
    let offset = usize::from(flags_offset & 0x1fff) * 8;
    if more || offset != 0 {
        if protocol != PROTO_UDP {
            return Parsed::Skip(Skip::NotUdp);
        }
        let id = u32::from(u16::from_be_bytes([header[4], header[5]]));
        let key = FragmentKey {
            src,
            dst,
            id,
            next_header: protocol,
        };
        return fragment(key, offset, more, payload);
    }
    if protocol != PROTO_UDP {
        return Parsed::Skip(Skip::NotUdp);
    }
    udp(src, dst, payload, shortfall)
}

/// IPv6 (RFC 8200), with hop-by-hop, routing, destination options, AH and fragment headers.
fn ipv6(packet: &[u8], shortfall: Skip) -> Parsed<'_> {
    let Some(header) = packet.get(..40) else {
        return Parsed::Skip(shortfall);
    };
    if header[0] >> 4 != 6 {
        return Parsed::Skip(Skip::Malformed);
    }
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    // A payload length of 0 announces a jumbogram (RFC 2675), never an export datagram.
    if payload_len == 0 {
        return Parsed::Skip(Skip::Malformed);
    }
    let Some(payload) = packet.get(40..40 + payload_len) else {
        return Parsed::Skip(shortfall);
    };
    let src = IpAddr::V6(ipv6_addr(&header[8..24]));
    let dst = IpAddr::V6(ipv6_addr(&header[24..40]));

    match skip_extensions(header[6], payload, true) {
        Ok(Upper::Protocol(PROTO_UDP, datagram)) => udp(src, dst, datagram, shortfall),
        Ok(Upper::Protocol(_, _)) => Parsed::Skip(Skip::NotUdp),
        Ok(Upper::Fragment(fields, data)) => {
            if !is_udp_or_extension(fields.next_header) {
                return Parsed::Skip(Skip::NotUdp);
            }
            let key = FragmentKey {
                src,
                dst,
                id: fields.id,
                next_header: fields.next_header,
            };
            fragment(key, fields.offset, fields.more, data)
        }
        Err(skip) => Parsed::Skip(skip),
    }
}

/// The upper layer reached after the IPv6 extension headers.
#[derive(Debug, PartialEq, Eq)]
pub enum Upper<'a> {
    Protocol(u8, &'a [u8]),
    /// A fragment header, its fields and the fragment's data after it.
    Fragment(FragmentFields, &'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentFields {
    pub next_header: u8,
    pub offset: usize,
    pub more: bool,
    pub id: u32,
}

/// Walks IPv6 extension headers from `next_header`. `fragment_allowed` is false inside a
/// reassembled payload, where a second fragment header is nonsense.
pub fn skip_extensions(
    mut next_header: u8,
    mut bytes: &[u8],
    fragment_allowed: bool,
) -> Result<Upper<'_>, Skip> {
    for _ in 0..MAX_EXTENSION_HEADERS {
        match next_header {
            NH_HOP_BY_HOP | NH_ROUTING | NH_DEST_OPTS | NH_AUTH => {
                let pair = bytes.get(..2).ok_or(Skip::BadLength)?;
                let (next, len) = (pair[0], pair[1]);
                // AH counts 4-byte words minus 2; the others 8-byte words minus 1.
                let size = if next_header == NH_AUTH {
                    (usize::from(len) + 2) * 4
                } else {
                    (usize::from(len) + 1) * 8
                };
                bytes = bytes.get(size..).ok_or(Skip::BadLength)?;
                next_header = next;
            }
            NH_FRAGMENT if fragment_allowed => {
                let header = bytes.get(..8).ok_or(Skip::BadLength)?;
                let offset_flags = u16::from_be_bytes([header[2], header[3]]);
                let fields = FragmentFields {
                    next_header: header[0],
                    offset: usize::from(offset_flags >> 3) * 8,
                    more: offset_flags & 1 != 0,
                    id: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                };
                return Ok(Upper::Fragment(fields, rest(bytes, 8)));
            }
            NH_FRAGMENT => return Err(Skip::Malformed),
            protocol => return Ok(Upper::Protocol(protocol, bytes)),
        }
    }
    Err(Skip::Malformed)
}

fn is_udp_or_extension(next_header: u8) -> bool {
    matches!(
        next_header,
        PROTO_UDP | NH_HOP_BY_HOP | NH_ROUTING | NH_DEST_OPTS | NH_AUTH
    )
}

fn fragment(key: FragmentKey, offset: usize, more: bool, data: &[u8]) -> Parsed<'_> {
    Parsed::Fragment(Fragment {
        key,
        offset,
        more,
        data,
    })
}

/// UDP (RFC 768) inside an IP payload that is complete. The checksum is not verified:
/// captures taken on the sending host carry checksums the NIC had yet to fill in.
pub fn udp(src: IpAddr, dst: IpAddr, ip_payload: &[u8], shortfall: Skip) -> Parsed<'_> {
    let Some(header) = ip_payload.get(..8) else {
        return Parsed::Skip(shortfall);
    };
    let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    if length < 8 {
        return Parsed::Skip(Skip::BadLength);
    }
    let Some(payload) = ip_payload.get(8..length) else {
        return Parsed::Skip(shortfall);
    };
    Parsed::Udp(Udp {
        src: SocketAddr::new(src, u16::from_be_bytes([header[0], header[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([header[2], header[3]])),
        payload,
    })
}

fn ipv6_addr(bytes: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(bytes);
    Ipv6Addr::from(octets)
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// The bytes from `at` on, empty when `at` is past the end.
fn rest(bytes: &[u8], at: usize) -> &[u8] {
    bytes.get(at..).unwrap_or(&[])
}
