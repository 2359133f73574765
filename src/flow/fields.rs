//! Information elements (IPFIX IE numbers, the same numbers as NetFlow v9 field types) mapped
//! to what they fill in a `FlowRecord`.
//!
//! A template is compiled once into `Act`s; `apply` then only stores values, and `finish`
//! resolves the choices between forms (delta or total counters, uptime or absolute times).
//! `apply` never panics: a value of a length an action cannot use is ignored.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::record::FlowRecord;

/// The length that marks an IPFIX variable-length field (also sent by vendors in v9).
pub const VARLEN: u16 = 65535;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_SECS: i64 = 2_208_988_800;

/// What one field of a template does to the record being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    Skip,
    Src,
    Dst,
    NatSrc,
    NatDst,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    OctetsDelta,
    OctetsTotal,
    PacketsDelta,
    PacketsTotal,
    InitOctets,
    RespOctets,
    InitPackets,
    RespPackets,
    InIf,
    OutIf,
    InPhys,
    OutPhys,
    Direction,
    StartUptime,
    EndUptime,
    StartSecs,
    EndSecs,
    StartMillis,
    EndMillis,
    StartNtp,
    EndNtp,
    StartDeltaMicros,
    EndDeltaMicros,
    SamplerId,
    SamplingInterval,
    PacketInterval,
    PacketSpace,
    SystemInit,
}

/// The action for IE `ie` of enterprise `pen` (0 for IANA) sent with length `len`.
/// Enterprise fields and lengths the action cannot use become `Skip` (skipped by length).
pub fn action(ie: u16, pen: u32, len: u16) -> Act {
    if pen != 0 {
        return Act::Skip;
    }
    let act = iana(ie);
    if fits(act, len) {
        act
    } else {
        Act::Skip
    }
}

fn iana(ie: u16) -> Act {
    match ie {
        1 => Act::OctetsDelta,
        2 => Act::PacketsDelta,
        4 => Act::Proto,
        6 => Act::TcpFlags,
        7 => Act::SrcPort,
        8 | 27 => Act::Src,
        10 => Act::InIf,
        11 => Act::DstPort,
        12 | 28 => Act::Dst,
        14 => Act::OutIf,
        21 => Act::EndUptime,
        22 => Act::StartUptime,
        32 | 139 => Act::IcmpTypeCode,
        34 | 50 | 305 => Act::SamplingInterval,
        48 | 302 => Act::SamplerId,
        61 => Act::Direction,
        85 => Act::OctetsTotal,
        86 => Act::PacketsTotal,
        150 => Act::StartSecs,
        151 => Act::EndSecs,
        152 => Act::StartMillis,
        153 => Act::EndMillis,
        154 | 156 => Act::StartNtp,
        155 | 157 => Act::EndNtp,
        158 => Act::StartDeltaMicros,
        159 => Act::EndDeltaMicros,
        160 => Act::SystemInit,
        176 | 178 => Act::IcmpType,
        177 | 179 => Act::IcmpCode,
        225 | 281 => Act::NatSrc,
        226 | 282 => Act::NatDst,
        231 => Act::InitOctets,
        232 => Act::RespOctets,
        252 => Act::InPhys,
        253 => Act::OutPhys,
        298 => Act::InitPackets,
        299 => Act::RespPackets,
        306 => Act::PacketSpace,
        _ => Act::Skip,
    }
}

/// Whether `act` can use a value of `len` bytes (variable length is checked per record).
fn fits(act: Act, len: u16) -> bool {
    match act {
        Act::Skip => true,
        Act::Src | Act::Dst | Act::NatSrc | Act::NatDst => matches!(len, 4 | 16 | VARLEN),
        _ => (1..=8).contains(&len) || len == VARLEN,
    }
}

/// Which `Acc::set` bit says a value was seen.
mod bit {
    pub const OCT_DELTA: u32 = 1;
    pub const OCT_TOTAL: u32 = 1 << 1;
    pub const PKT_DELTA: u32 = 1 << 2;
    pub const PKT_TOTAL: u32 = 1 << 3;
    pub const INIT_OCT: u32 = 1 << 4;
    pub const RESP_OCT: u32 = 1 << 5;
    pub const INIT_PKT: u32 = 1 << 6;
    pub const RESP_PKT: u32 = 1 << 7;
    pub const IN_IF: u32 = 1 << 8;
    pub const OUT_IF: u32 = 1 << 9;
    pub const IN_PHYS: u32 = 1 << 10;
    pub const OUT_PHYS: u32 = 1 << 11;
    pub const START_UP: u32 = 1 << 12;
    pub const END_UP: u32 = 1 << 13;
    pub const START_DELTA: u32 = 1 << 14;
    pub const END_DELTA: u32 = 1 << 15;
    pub const SAMPLER: u32 = 1 << 16;
    pub const INTERVAL: u32 = 1 << 17;
    pub const SPACE: u32 = 1 << 18;
    pub const INIT: u32 = 1 << 19;
    pub const ICMP: u32 = 1 << 20;
    pub const ICMP_TYPE: u32 = 1 << 21;
    pub const ICMP_CODE: u32 = 1 << 22;
}

/// One record while its fields are applied: the record plus the raw values that need
/// context (uptime, sampler table) or a choice between forms.
#[derive(Debug)]
pub struct Acc {
    pub rec: FlowRecord,
    set: u32,
    counters: [u64; 8],
    ifs: [u32; 4],
    uptime: [u64; 2],
    delta_us: [u64; 2],
    sampler: u64,
    interval: u64,
    space: u64,
    init_ms: u64,
    icmp: [u8; 2],
}

/// What the record needs from outside: times and sampling of its exporter and domain.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub exporter: IpAddr,
    pub version: u16,
    pub domain: u32,
    /// Header export time, ms since the epoch.
    pub export_ms: i64,
    /// When uptime 0 was: v9 header export time minus sysUpTime, IPFIX IE 160.
    pub boot_ms: Option<i64>,
    pub sampling: &'a Sampling,
}

/// The sampling an exporter's domain announced in options records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sampling {
    /// The rate from options without a sampler id; 0 when none was sent.
    pub default: u32,
    /// Rates by sampler id (IE 48 or 302).
    pub samplers: HashMap<u64, u32>,
}

/// Most sampler ids remembered per domain; more are ignored.
pub const MAX_SAMPLERS: usize = 256;

/// The facts an options record carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptionFacts {
    pub sampler: Option<u64>,
    pub rate: Option<u32>,
    pub init_ms: Option<i64>,
}

impl Acc {
    pub fn new(ctx: &Ctx) -> Acc {
        Acc {
            rec: FlowRecord::new(ctx.exporter, ctx.version, ctx.domain),
            set: 0,
            counters: [0; 8],
            ifs: [0; 4],
            uptime: [0; 2],
            delta_us: [0; 2],
            sampler: 0,
            interval: 0,
            space: 0,
            init_ms: 0,
            icmp: [0; 2],
        }
    }
}

/// Reads a big-endian unsigned integer of 1 to 8 bytes (reduced-size encoding); longer
/// values keep their last 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    match b.len() {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_be_bytes([b[0], b[1]])),
        4 => u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        8 => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        _ => b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
    }
}

fn addr(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    let v6 = <[u8; 16]>::try_from(b).ok()?;
    Some(super::record::canonical(IpAddr::V6(Ipv6Addr::from(v6))))
}

/// An uptime-relative time (IE 21/22, v5 first/last) as Unix ms. Uptimes are 32-bit
/// milliseconds that wrap every 49.7 days, and exporters send times from before a wrap
/// (softflowd's 0xffffffff for "1 ms before boot"; softflowd -r flows older than its
/// start), so the time taken is the one at most 49.7 days before the export time or at
/// most an hour after it. Without a wrap that is `boot_ms + uptime`, which is also what a
/// header inconsistent with the boot time (export before boot, or 49.7 days after) gets.
pub fn from_uptime(boot_ms: i64, export_ms: i64, uptime: u64) -> i64 {
    const AHEAD_MS: u32 = 3_600_000;
    let since_boot = export_ms.wrapping_sub(boot_ms);
    let (Ok(uptime32), Ok(now)) = (u32::try_from(uptime), u32::try_from(since_boot)) else {
        return boot_ms.wrapping_add(uptime as i64);
    };
    let ago = now.wrapping_sub(uptime32);
    let ago = if ago > u32::MAX - AHEAD_MS {
        -i64::from(ago.wrapping_neg())
    } else {
        i64::from(ago)
    };
    export_ms.wrapping_sub(ago)
}

/// The first specified address wins. Templates with both IPv4 and IPv6 address fields
/// (Cisco IOS XR template 313) send the family a flow does not use as all zeros.
fn fill_addr(slot: &mut Option<IpAddr>, b: &[u8]) {
    let replace = match slot {
        Some(old) => old.is_unspecified(),
        None => true,
    };
    if replace {
        if let Some(new) = addr(b) {
            *slot = Some(new);
        }
    }
}

/// NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the low 32) as
/// Unix ms; a 4-byte value is the seconds alone.
fn ntp_ms(b: &[u8]) -> i64 {
    let v = be_uint(b);
    let (secs, frac) = if b.len() == 8 {
        (v >> 32, v & 0xffff_ffff)
    } else {
        (v, 0)
    };
    let frac_ms = ((frac * 1000) >> 32) as i64;
    (secs as i64 - NTP_UNIX_SECS) * 1000 + frac_ms
}

/// Stores the value `b` of a field with action `act`.
#[inline]
pub fn apply(acc: &mut Acc, act: Act, b: &[u8]) {
    match act {
        Act::Skip => {}
        Act::Src => fill_addr(&mut acc.rec.src, b),
        Act::Dst => fill_addr(&mut acc.rec.dst, b),
        Act::NatSrc => fill_addr(&mut acc.rec.nat_src, b),
        Act::NatDst => fill_addr(&mut acc.rec.nat_dst, b),
        Act::SrcPort => acc.rec.src_port = be_uint(b) as u16,
        Act::DstPort => acc.rec.dst_port = be_uint(b) as u16,
        Act::Proto => acc.rec.protocol = be_uint(b) as u8,
        Act::TcpFlags => acc.rec.tcp_flags = be_uint(b) as u16,
        Act::Direction => acc.rec.direction = Some(be_uint(b) as u8),
        Act::StartSecs => acc.rec.start = Some(be_uint(b) as i64 * 1000),
        Act::EndSecs => acc.rec.end = Some(be_uint(b) as i64 * 1000),
        Act::StartMillis => acc.rec.start = Some(be_uint(b) as i64),
        Act::EndMillis => acc.rec.end = Some(be_uint(b) as i64),
        Act::StartNtp => acc.rec.start = Some(ntp_ms(b)),
        Act::EndNtp => acc.rec.end = Some(ntp_ms(b)),
        _ => apply_raw(acc, act, be_uint(b)),
    }
}

/// The actions that only keep a number for `finish`.
fn apply_raw(acc: &mut Acc, act: Act, v: u64) {
    let (flag, slot) = match act {
        Act::OctetsDelta => (bit::OCT_DELTA, &mut acc.counters[0]),
        Act::OctetsTotal => (bit::OCT_TOTAL, &mut acc.counters[1]),
        Act::PacketsDelta => (bit::PKT_DELTA, &mut acc.counters[2]),
        Act::PacketsTotal => (bit::PKT_TOTAL, &mut acc.counters[3]),
        Act::InitOctets => (bit::INIT_OCT, &mut acc.counters[4]),
        Act::RespOctets => (bit::RESP_OCT, &mut acc.counters[5]),
        Act::InitPackets => (bit::INIT_PKT, &mut acc.counters[6]),
        Act::RespPackets => (bit::RESP_PKT, &mut acc.counters[7]),
        Act::StartUptime => (bit::START_UP, &mut acc.uptime[0]),
        Act::EndUptime => (bit::END_UP, &mut acc.uptime[1]),
        Act::StartDeltaMicros => (bit::START_DELTA, &mut acc.delta_us[0]),
        Act::EndDeltaMicros => (bit::END_DELTA, &mut acc.delta_us[1]),
        Act::SamplerId => (bit::SAMPLER, &mut acc.sampler),
        Act::SamplingInterval => (bit::INTERVAL, &mut acc.interval),
        Act::PacketSpace => (bit::SPACE, &mut acc.space),
        Act::SystemInit => (bit::INIT, &mut acc.init_ms),
        _ => return apply_small(acc, act, v),
    };
    *slot = v;
    acc.set |= flag;
}

/// Interfaces and ICMP parts, kept apart so the preferred form wins in `finish`.
fn apply_small(acc: &mut Acc, act: Act, v: u64) {
    let (flag, slot) = match act {
        Act::InIf => (bit::IN_IF, &mut acc.ifs[0]),
        Act::OutIf => (bit::OUT_IF, &mut acc.ifs[1]),
        Act::InPhys => (bit::IN_PHYS, &mut acc.ifs[2]),
        Act::OutPhys => (bit::OUT_PHYS, &mut acc.ifs[3]),
        Act::IcmpTypeCode => {
            acc.rec.icmp_type_code = v as u16;
            acc.set |= bit::ICMP;
            return;
        }
        Act::IcmpType => {
            acc.icmp[0] = v as u8;
            acc.set |= bit::ICMP_TYPE;
            return;
        }
        Act::IcmpCode => {
            acc.icmp[1] = v as u8;
            acc.set |= bit::ICMP_CODE;
            return;
        }
        _ => return,
    };
    *slot = v as u32;
    acc.set |= flag;
}

impl Acc {
    fn has(&self, flag: u32) -> bool {
        self.set & flag != 0
    }

    /// The first present of `choices` (flag, value).
    fn first(&self, choices: &[(u32, u64)]) -> Option<u64> {
        choices.iter().find(|(f, _)| self.has(*f)).map(|&(_, v)| v)
    }

    /// The finished data record: counters, interfaces, times and sampling resolved.
    pub fn finish(mut self, ctx: &Ctx) -> FlowRecord {
        self.counters_and_ifs();
        self.times(ctx);
        self.icmp();
        self.rec.sampling = self.sampling(ctx.sampling);
        self.rec
    }

    /// Delta before total; ASA's initiator + responder when neither is sent.
    fn counters_and_ifs(&mut self) {
        let c = self.counters;
        let asa_oct =
            (self.has(bit::INIT_OCT) || self.has(bit::RESP_OCT)).then(|| c[4].wrapping_add(c[5]));
        let asa_pkt =
            (self.has(bit::INIT_PKT) || self.has(bit::RESP_PKT)).then(|| c[6].wrapping_add(c[7]));
        let oct = self.first(&[(bit::OCT_DELTA, c[0]), (bit::OCT_TOTAL, c[1])]);
        let pkt = self.first(&[(bit::PKT_DELTA, c[2]), (bit::PKT_TOTAL, c[3])]);
        self.rec.octets = oct.or(asa_oct).unwrap_or(0);
        self.rec.packets = pkt.or(asa_pkt).unwrap_or(0);

        let ifs = self.ifs.map(u64::from);
        let input = self.first(&[(bit::IN_IF, ifs[0]), (bit::IN_PHYS, ifs[2])]);
        let output = self.first(&[(bit::OUT_IF, ifs[1]), (bit::OUT_PHYS, ifs[3])]);
        self.rec.input_if = input.unwrap_or(0) as u32;
        self.rec.output_if = output.unwrap_or(0) as u32;
    }

    /// Uptime-relative and export-relative times; absolute forms were set by `apply`.
    fn times(&mut self, ctx: &Ctx) {
        let boot = if self.has(bit::INIT) {
            Some(self.init_ms as i64)
        } else {
            ctx.boot_ms
        };
        if let Some(boot) = boot {
            if self.has(bit::START_UP) {
                self.rec.start = Some(from_uptime(boot, ctx.export_ms, self.uptime[0]));
            }
            if self.has(bit::END_UP) {
                self.rec.end = Some(from_uptime(boot, ctx.export_ms, self.uptime[1]));
            }
        }
        if self.has(bit::START_DELTA) {
            let ago = (self.delta_us[0] / 1000) as i64;
            self.rec.start = Some(ctx.export_ms.wrapping_sub(ago));
        }
        if self.has(bit::END_DELTA) {
            let ago = (self.delta_us[1] / 1000) as i64;
            self.rec.end = Some(ctx.export_ms.wrapping_sub(ago));
        }
    }

    /// Type and code sent apart, or (like v5) in the destination port.
    fn icmp(&mut self) {
        if self.has(bit::ICMP) {
            return;
        }
        if self.has(bit::ICMP_TYPE) || self.has(bit::ICMP_CODE) {
            self.rec.icmp_type_code = u16::from_be_bytes(self.icmp);
        } else if matches!(self.rec.protocol, 1 | 58) {
            self.rec.icmp_type_code = self.rec.dst_port;
        }
    }

    /// Rate sent in the record, else its sampler's, else the domain's, else 1.
    fn sampling(&self, s: &Sampling) -> u32 {
        if let Some(rate) = self.own_rate() {
            return rate;
        }
        let by_id = self
            .has(bit::SAMPLER)
            .then(|| s.samplers.get(&self.sampler).copied())
            .flatten();
        match by_id.unwrap_or(s.default) {
            0 => 1,
            r => r,
        }
    }

    /// A rate in this record itself: interval, or (305 + 306) / 305.
    fn own_rate(&self) -> Option<u32> {
        if !self.has(bit::INTERVAL) || self.interval == 0 {
            return None;
        }
        let space = if self.has(bit::SPACE) { self.space } else { 0 };
        let rate = self.interval.saturating_add(space) / self.interval;
        let rate = if self.has(bit::SPACE) {
            rate
        } else {
            self.interval
        };
        Some(rate.clamp(1, u64::from(u32::MAX)) as u32)
    }

    /// What an options record says about sampling and system init time.
    pub fn option_facts(&self) -> OptionFacts {
        OptionFacts {
            sampler: self.has(bit::SAMPLER).then_some(self.sampler),
            rate: self.own_rate(),
            init_ms: self.has(bit::INIT).then_some(self.init_ms as i64),
        }
    }
}
