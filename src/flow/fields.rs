//! Information elements (IPFIX IE numbers, the same numbers as NetFlow v9 field types) mapped
//! to what they fill in a `FlowRecord`.
//!
//! A template is compiled once into `Act`s; `apply` then only stores values, and `finish`
//! resolves the choices between forms (delta or total counters, uptime or absolute times).
//! `apply` never panics: a value of a length an action cannot use is ignored.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::record::FlowRecord;

/// The time of a 32-bit uptime value `v` (ms) seen in a message exported at `export_ms` by an
/// exporter that booted at `boot_ms`. The counter wraps every 49.7 days: a value that would
/// put the flow more than an hour after its own export (more than clock skew) was taken
/// before the wrap. An export time before the boot time (softflowd's IPFIX header clock is
/// sometimes unset) cannot place a wrap, so the plain offset stands, as Wireshark shows it.
pub fn uptime_time(boot_ms: i64, export_ms: i64, v: u64) -> i64 {
    const MAX_SKEW_MS: i64 = 3_600_000;
    let plain = boot_ms.wrapping_add(v as i64);
    if export_ms < boot_ms {
        return plain;
    }
    if plain.wrapping_sub(export_ms) > MAX_SKEW_MS {
        plain.wrapping_sub(1 << 32)
    } else {
        plain
    }
}

/// The length that marks an IPFIX variable-length field (also sent by vendors in v9).
pub const VARLEN: u16 = 65535;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_SECS: i64 = 2_208_988_800;

/// What one field of a template does to the record being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    Skip,
    /// IPv4 addresses (IE 8, 12, 225, 226).
    Src,
    Dst,
    NatSrc,
    NatDst,
    /// IPv6 addresses (IE 27, 28, 281, 282).
    Src6,
    Dst6,
    NatSrc6,
    NatDst6,
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
        8 => Act::Src,
        27 => Act::Src6,
        10 => Act::InIf,
        11 => Act::DstPort,
        12 => Act::Dst,
        28 => Act::Dst6,
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
        225 => Act::NatSrc,
        226 => Act::NatDst,
        281 => Act::NatSrc6,
        282 => Act::NatDst6,
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
        Act::Src | Act::Dst | Act::NatSrc | Act::NatDst => matches!(len, 4 | VARLEN),
        Act::Src6 | Act::Dst6 | Act::NatSrc6 | Act::NatDst6 => matches!(len, 16 | VARLEN),
        _ => (1..=8).contains(&len) || len == VARLEN,
    }
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

/// NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the low 32) as
/// Unix ms. A value that fits 32 bits is taken as the seconds alone (a 4-byte field).
fn ntp_ms(v: u64) -> i64 {
    let (secs, frac) = if v > u64::from(u32::MAX) {
        (v >> 32, v & 0xffff_ffff)
    } else {
        (v, 0)
    };
    let frac_ms = ((frac * 1000) >> 32) as i64;
    (secs as i64 - NTP_UNIX_SECS) * 1000 + frac_ms
}

/// How a fixed-length field is read: the length is part of the operation, so a compiled
/// step costs one dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Src4,
    Src6,
    Dst4,
    Dst6,
    /// Any other address field (post-NAT), by its action.
    Addr,
    U8,
    U16,
    U32,
    U64,
    /// An integer of another length (3, 5, 6, 7 bytes).
    Uint,
}

/// The read for action `act` on a field of `len` bytes (`Skip` is never compiled).
pub fn read_for(act: Act, len: u16) -> Read {
    match (act, len) {
        (Act::Src, _) => Read::Src4,
        (Act::Src6, _) => Read::Src6,
        (Act::Dst, _) => Read::Dst4,
        (Act::Dst6, _) => Read::Dst6,
        (Act::NatSrc | Act::NatDst | Act::NatSrc6 | Act::NatDst6, _) => Read::Addr,
        (_, 1) => Read::U8,
        (_, 2) => Read::U16,
        (_, 4) => Read::U32,
        (_, 8) => Read::U64,
        _ => Read::Uint,
    }
}

/// The raw values of one record, one slot per action, with a bit per slot saying it was
/// seen. A slot is only read when its bit is on, so between records only `set` is cleared.
#[derive(Debug)]
pub struct Extra {
    set: u64,
    vals: [u64; SLOTS],
}

const SLOTS: usize = Act::SystemInit as usize + 1;

// Every action needs a bit of `Extra::set`.
const _: () = assert!(SLOTS <= 64);

impl Default for Extra {
    fn default() -> Extra {
        Extra {
            set: 0,
            vals: [0; SLOTS],
        }
    }
}

/// The `Extra` bit of `act`.
pub const fn bit(act: Act) -> u64 {
    1 << act as u64
}

impl Extra {
    /// Forgets the previous record's values.
    #[inline]
    pub fn clear(&mut self) {
        self.set = 0;
    }

    /// Starts a record of a fixed-length template, which always fills the slots in `mask`.
    #[inline(always)]
    pub fn start(&mut self, mask: u64) {
        self.set = mask;
    }

    /// Stores `v` in the slot of `act` without touching `set` (see `start`).
    #[inline(always)]
    pub fn store(&mut self, act: Act, v: u64) {
        if let Some(slot) = self.vals.get_mut(act as usize) {
            *slot = v;
        }
    }

    #[inline(always)]
    fn put(&mut self, act: Act, v: u64) {
        if let Some(slot) = self.vals.get_mut(act as usize) {
            *slot = v;
        }
        self.set |= bit(act);
    }

    fn has(&self, act: Act) -> bool {
        self.set & bit(act) != 0
    }

    /// The value of `act` if the record carried it.
    fn get(&self, act: Act) -> Option<u64> {
        if self.has(act) {
            self.vals.get(act as usize).copied()
        } else {
            None
        }
    }
}

/// Applies one compiled fixed-length field (`b` is exactly the field's bytes).
#[inline(always)]
pub fn apply_read(rec: &mut FlowRecord, x: &mut Extra, read: Read, act: Act, b: &[u8]) {
    match read {
        Read::Src4 => put_v4(&mut rec.src, b),
        Read::Src6 => put_v6(&mut rec.src, b),
        Read::Dst4 => put_v4(&mut rec.dst, b),
        Read::Dst6 => put_v6(&mut rec.dst, b),
        Read::Addr => apply_addr(rec, act, b),
        Read::U8 => x.put(act, b.first().map_or(0, |&v| u64::from(v))),
        Read::U16 => x.put(
            act,
            b.try_into().map_or(0, |a| u64::from(u16::from_be_bytes(a))),
        ),
        Read::U32 => x.put(
            act,
            b.try_into().map_or(0, |a| u64::from(u32::from_be_bytes(a))),
        ),
        Read::U64 => x.put(act, b.try_into().map_or(0, u64::from_be_bytes)),
        Read::Uint => x.put(act, be_uint(b)),
    }
}

/// Applies a field whose length is only known per record (variable-length fields).
pub fn apply(rec: &mut FlowRecord, x: &mut Extra, act: Act, b: &[u8]) {
    match act {
        Act::Skip => {}
        Act::Src | Act::Dst | Act::NatSrc | Act::NatDst => apply_addr(rec, act, b),
        Act::Src6 | Act::Dst6 | Act::NatSrc6 | Act::NatDst6 => apply_addr(rec, act, b),
        _ if b.len() <= 8 => x.put(act, be_uint(b)),
        _ => {}
    }
}

fn apply_addr(rec: &mut FlowRecord, act: Act, b: &[u8]) {
    match act {
        Act::Src => put_v4(&mut rec.src, b),
        Act::Dst => put_v4(&mut rec.dst, b),
        Act::NatSrc => put_v4(&mut rec.nat_src, b),
        Act::NatDst => put_v4(&mut rec.nat_dst, b),
        Act::Src6 => put_v6(&mut rec.src, b),
        Act::Dst6 => put_v6(&mut rec.dst, b),
        Act::NatSrc6 => put_v6(&mut rec.nat_src, b),
        Act::NatDst6 => put_v6(&mut rec.nat_dst, b),
        _ => {}
    }
}

/// Templates that carry both IPv4 and IPv6 fields fill the unused family with zeros, in
/// either order. An IPv4 address that is not 0.0.0.0 wins; an IPv6 one only replaces
/// nothing or an unspecified address. (Where both are real, as in some SRv6 exports,
/// IPv4 wins, like Wireshark's first column.)
#[inline(always)]
fn put_v4(slot: &mut Option<IpAddr>, b: &[u8]) {
    let Some(a) = v4(b) else {
        return;
    };
    if !a.is_unspecified() || slot.is_none() {
        *slot = Some(a);
    }
}

#[inline(always)]
fn put_v6(slot: &mut Option<IpAddr>, b: &[u8]) {
    let Some(a) = v6(b) else {
        return;
    };
    if slot.map_or(true, |old| old.is_unspecified()) {
        *slot = Some(a);
    }
}

fn v4(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(a)))
}

fn v6(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(super::record::canonical(IpAddr::V6(Ipv6Addr::from(a))))
}

/// The slots the common record uses; anything else takes the slower full resolution.
const USUAL: u64 = bit(Act::SrcPort)
    | bit(Act::DstPort)
    | bit(Act::Proto)
    | bit(Act::TcpFlags)
    | bit(Act::OctetsDelta)
    | bit(Act::PacketsDelta)
    | bit(Act::InIf)
    | bit(Act::OutIf)
    | bit(Act::Direction)
    | bit(Act::IcmpTypeCode)
    | bit(Act::StartUptime)
    | bit(Act::EndUptime)
    | bit(Act::StartMillis)
    | bit(Act::EndMillis);

impl Extra {
    /// Finishes a data record: fields, counters, interfaces, times, ICMP and sampling.
    /// `rec.sampling` already holds the domain's rate.
    #[inline]
    pub fn finish(&self, rec: &mut FlowRecord, ctx: &Ctx) {
        self.direct(rec);
        if self.set & !USUAL == 0 {
            rec.octets = self.get(Act::OctetsDelta).unwrap_or(0);
            rec.packets = self.get(Act::PacketsDelta).unwrap_or(0);
            rec.input_if = self.get(Act::InIf).unwrap_or(0) as u32;
            rec.output_if = self.get(Act::OutIf).unwrap_or(0) as u32;
        } else {
            self.counters_and_ifs(rec);
            self.absolute_times(rec);
            if self.has(Act::SamplerId) || self.has(Act::SamplingInterval) {
                rec.sampling = self.sampling(ctx.sampling);
            }
        }
        self.relative_times(rec, ctx);
        self.icmp(rec);
    }

    /// Fields copied as they are.
    #[inline(always)]
    fn direct(&self, rec: &mut FlowRecord) {
        let v = &self.vals;
        let s = self.set;
        let at = |a: Act| v.get(a as usize).copied().unwrap_or(0);
        if s & bit(Act::SrcPort) != 0 {
            rec.src_port = at(Act::SrcPort) as u16;
        }
        if s & bit(Act::DstPort) != 0 {
            rec.dst_port = at(Act::DstPort) as u16;
        }
        if s & bit(Act::Proto) != 0 {
            rec.protocol = at(Act::Proto) as u8;
        }
        if s & bit(Act::TcpFlags) != 0 {
            rec.tcp_flags = at(Act::TcpFlags) as u16;
        }
        if s & bit(Act::Direction) != 0 {
            rec.direction = Some(at(Act::Direction) as u8);
        }
        if s & bit(Act::StartMillis) != 0 {
            rec.start = Some(at(Act::StartMillis) as i64);
        }
        if s & bit(Act::EndMillis) != 0 {
            rec.end = Some(at(Act::EndMillis) as i64);
        }
    }

    /// Delta before total; ASA's initiator + responder when neither is sent; SNMP
    /// interfaces before physical ones.
    fn counters_and_ifs(&self, rec: &mut FlowRecord) {
        let sum = |a: Act, b: Act| match (self.get(a), self.get(b)) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0).wrapping_add(y.unwrap_or(0))),
        };
        let octets = self.get(Act::OctetsDelta).or(self.get(Act::OctetsTotal));
        let packets = self.get(Act::PacketsDelta).or(self.get(Act::PacketsTotal));
        rec.octets = octets
            .or(sum(Act::InitOctets, Act::RespOctets))
            .unwrap_or(0);
        rec.packets = packets
            .or(sum(Act::InitPackets, Act::RespPackets))
            .unwrap_or(0);

        let input = self.get(Act::InIf).or(self.get(Act::InPhys));
        let output = self.get(Act::OutIf).or(self.get(Act::OutPhys));
        rec.input_if = input.unwrap_or(0) as u32;
        rec.output_if = output.unwrap_or(0) as u32;
    }

    /// Seconds and NTP forms (milliseconds were copied by `direct`).
    fn absolute_times(&self, rec: &mut FlowRecord) {
        let secs = |v: u64| (v as i64).wrapping_mul(1000);
        if let Some(v) = self.get(Act::StartSecs) {
            rec.start = Some(secs(v));
        }
        if let Some(v) = self.get(Act::EndSecs) {
            rec.end = Some(secs(v));
        }
        if let Some(v) = self.get(Act::StartNtp) {
            rec.start = Some(ntp_ms(v));
        }
        if let Some(v) = self.get(Act::EndNtp) {
            rec.end = Some(ntp_ms(v));
        }
    }

    /// Uptime-relative (to IE 160 or the v9 header) and export-relative times.
    #[inline(always)]
    fn relative_times(&self, rec: &mut FlowRecord, ctx: &Ctx) {
        let relative = bit(Act::StartUptime)
            | bit(Act::EndUptime)
            | bit(Act::StartDeltaMicros)
            | bit(Act::EndDeltaMicros);
        if self.set & relative == 0 {
            return;
        }
        let init = self.get(Act::SystemInit).map(|v| v as i64);
        let at = |v: u64| match (init, ctx.boot_ms) {
            (Some(init), _) => Some(init.wrapping_add(v as i64)),
            (None, Some(boot)) => Some(uptime_time(boot, ctx.export_ms, v)),
            (None, None) => None,
        };
        if let Some(v) = self.get(Act::StartUptime) {
            rec.start = at(v).or(rec.start);
        }
        if let Some(v) = self.get(Act::EndUptime) {
            rec.end = at(v).or(rec.end);
        }
        let ago = |us: u64| ctx.export_ms.wrapping_sub((us / 1000) as i64);
        if let Some(v) = self.get(Act::StartDeltaMicros) {
            rec.start = Some(ago(v));
        }
        if let Some(v) = self.get(Act::EndDeltaMicros) {
            rec.end = Some(ago(v));
        }
    }

    /// ICMP type and code: one field, two fields, or (like v5) the destination port.
    #[inline(always)]
    fn icmp(&self, rec: &mut FlowRecord) {
        if let Some(v) = self.get(Act::IcmpTypeCode) {
            rec.icmp_type_code = v as u16;
        } else if self.has(Act::IcmpType) || self.has(Act::IcmpCode) {
            let t = self.get(Act::IcmpType).unwrap_or(0) as u16;
            let c = self.get(Act::IcmpCode).unwrap_or(0) as u16;
            rec.icmp_type_code = (t & 0xff) << 8 | (c & 0xff);
        } else if matches!(rec.protocol, 1 | 58) {
            rec.icmp_type_code = rec.dst_port;
        }
    }

    /// Rate sent in the record, else its sampler's, else the domain's, else 1.
    pub fn sampling(&self, s: &Sampling) -> u32 {
        if let Some(rate) = self.own_rate() {
            return rate;
        }
        let by_id = self
            .get(Act::SamplerId)
            .and_then(|id| s.samplers.get(&id).copied());
        match by_id.unwrap_or(s.default) {
            0 => 1,
            r => r,
        }
    }

    /// A rate in this record itself: the interval, or (305 + 306) / 305.
    fn own_rate(&self) -> Option<u32> {
        let interval = self.get(Act::SamplingInterval).filter(|&i| i != 0)?;
        let rate = match self.get(Act::PacketSpace) {
            Some(space) => interval.saturating_add(space) / interval,
            None => interval,
        };
        Some(rate.clamp(1, u64::from(u32::MAX)) as u32)
    }

    /// What an options record says about sampling and system init time.
    pub fn option_facts(&self) -> OptionFacts {
        OptionFacts {
            sampler: self.get(Act::SamplerId),
            rate: self.own_rate(),
            init_ms: self.get(Act::SystemInit).map(|v| v as i64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be_uint_reads_every_reduced_size() {
        assert_eq!(be_uint(&[0x12]), 0x12);
        assert_eq!(be_uint(&[0x12, 0x34, 0x56]), 0x12_3456);
        assert_eq!(be_uint(&[1, 2, 3, 4, 5, 6, 7]), 0x01_0203_0405_0607);
        assert_eq!(be_uint(&[0xff; 8]), u64::MAX);
        assert_eq!(be_uint(&[]), 0);
    }

    #[test]
    fn ntp_timestamps_become_unix_millis() {
        let secs = 1_796_325_242u64 + 2_208_988_800;
        assert_eq!(ntp_ms(secs << 32 | 0x4000_0000), 1_796_325_242_250); // + 0.25 s
        assert_eq!(ntp_ms(secs), 1_796_325_242_000); // a 4-byte field: seconds only
    }

    #[test]
    fn enterprise_fields_and_unusable_lengths_are_skipped() {
        assert_eq!(action(8, 0, 4), Act::Src);
        assert_eq!(action(8, 29305, 4), Act::Skip);
        assert_eq!(action(8, 0, 2), Act::Skip); // H3C sends odd address lengths
        assert_eq!(action(27, 0, 16), Act::Src6);
        assert_eq!(action(1, 0, 9), Act::Skip);
        assert_eq!(action(1, 0, VARLEN), Act::OctetsDelta);
        assert_eq!(action(9999, 0, 4), Act::Skip);
    }

    fn ctx(sampling: &Sampling) -> Ctx<'_> {
        Ctx {
            exporter: "192.0.2.1".parse().unwrap(),
            version: 10,
            domain: 0,
            export_ms: 1_000_000,
            boot_ms: Some(500_000),
            sampling,
        }
    }

    fn finished(fields: &[(Act, &[u8])], sampling: &Sampling) -> FlowRecord {
        let c = ctx(sampling);
        let mut rec = FlowRecord::new(c.exporter, 10, 0);
        let mut x = Extra::default();
        for (act, b) in fields {
            apply(&mut rec, &mut x, *act, b);
        }
        x.finish(&mut rec, &c);
        rec
    }

    #[test]
    fn delta_counters_win_over_totals_and_totals_over_asa() {
        let s = Sampling::default();
        let r = finished(&[(Act::OctetsTotal, &[9]), (Act::OctetsDelta, &[5])], &s);
        assert_eq!(r.octets, 5);
        let r = finished(&[(Act::InitOctets, &[9]), (Act::OctetsTotal, &[7])], &s);
        assert_eq!(r.octets, 7);
        let r = finished(&[(Act::InitPackets, &[2]), (Act::RespPackets, &[3])], &s);
        assert_eq!(r.packets, 5);
    }

    #[test]
    fn uptime_values_from_before_a_wrap_of_the_counter() {
        // Exported at 1 000 000 ms, uptime 1000 ms (just wrapped): boot at 999 000.
        assert_eq!(uptime_time(999_000, 1_000_000, 400), 999_400);
        // 2^32 - 4000: taken 5 s before export, before the wrap.
        assert_eq!(uptime_time(999_000, 1_000_000, (1 << 32) - 4000), 995_000);
        // Up to an hour after the export is clock skew, not a wrap.
        assert_eq!(uptime_time(999_000, 1_000_000, 6000), 1_005_000);
        // An export clock before the boot (never set) cannot place a wrap: plain offset.
        assert_eq!(
            uptime_time(1_000_000, 5, (1 << 32) - 4000),
            1_000_000 + (1 << 32) - 4000
        );
    }

    #[test]
    fn export_relative_delta_micros_count_back_from_export_time() {
        let s = Sampling::default();
        let r = finished(&[(Act::StartDeltaMicros, &[0x0f, 0x42, 0x40])], &s); // 1 s
        assert_eq!(r.start, Some(999_000));
    }

    #[test]
    fn sampling_prefers_the_record_then_the_sampler_then_the_domain() {
        let mut s = Sampling {
            default: 10,
            ..Sampling::default()
        };
        s.samplers.insert(3, 500);
        assert_eq!(finished(&[(Act::Proto, &[6])], &s).sampling, 1); // base set by caller
        assert_eq!(finished(&[(Act::SamplerId, &[3])], &s).sampling, 500);
        assert_eq!(finished(&[(Act::SamplerId, &[4])], &s).sampling, 10);
        let own = [
            (Act::SamplerId, &[3][..]),
            (Act::SamplingInterval, &[0, 64]),
        ];
        assert_eq!(finished(&own, &s).sampling, 64);
    }

    #[test]
    fn packet_interval_and_space_give_the_rate() {
        let s = Sampling::default();
        let x = |interval: &[u8], space: &[u8]| {
            let c = ctx(&s);
            let mut rec = FlowRecord::new(c.exporter, 10, 0);
            let mut x = Extra::default();
            apply(&mut rec, &mut x, Act::SamplingInterval, interval);
            apply(&mut rec, &mut x, Act::PacketSpace, space);
            x.option_facts().rate
        };
        assert_eq!(x(&[1], &[99]), Some(100));
        assert_eq!(x(&[1], &[0]), Some(1));
        assert_eq!(x(&[0], &[9]), None); // interval 0: no rate
    }
}
