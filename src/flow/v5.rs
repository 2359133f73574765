//! NetFlow v5: a 24-byte header and fixed 48-byte flow records.
//!
//! `Header::new_checked` validates the length once; after it no accessor can panic.
//! Records are taken as whole 48-byte chunks only, so a lying `count` never reads past
//! the end.

use std::net::{IpAddr, Ipv4Addr};

use super::cache::{Exporter, Run};
use super::error::HeaderError;
use super::record::FlowRecord;

pub const HEADER_LEN: usize = 24;
pub const RECORD_LEN: usize = 48;

mod field {
    use std::ops::Range;
    pub const COUNT: Range<usize> = 2..4;
    pub const SYS_UPTIME: Range<usize> = 4..8;
    pub const UNIX_SECS: Range<usize> = 8..12;
    pub const UNIX_NSECS: Range<usize> = 12..16;
    pub const FLOW_SEQUENCE: Range<usize> = 16..20;
    pub const ENGINE: Range<usize> = 20..22;
    pub const SAMPLING: Range<usize> = 22..24;
}

/// A checked view of a v5 header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    buf: &'a [u8],
}

fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    b.get(r).map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], r: std::ops::Range<usize>) -> u32 {
    b.get(r)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Header<'a>, HeaderError> {
        if buf.len() < HEADER_LEN {
            return Err(HeaderError::Short {
                len: buf.len(),
                need: HEADER_LEN,
            });
        }
        Ok(Header { buf })
    }

    pub fn count(&self) -> u16 {
        be16(self.buf, field::COUNT)
    }

    pub fn sys_uptime(&self) -> u32 {
        be32(self.buf, field::SYS_UPTIME)
    }

    pub fn unix_secs(&self) -> u32 {
        be32(self.buf, field::UNIX_SECS)
    }

    pub fn unix_nsecs(&self) -> u32 {
        be32(self.buf, field::UNIX_NSECS)
    }

    pub fn flow_sequence(&self) -> u32 {
        be32(self.buf, field::FLOW_SEQUENCE)
    }

    /// engine_type << 8 | engine_id: the record's domain.
    pub fn engine(&self) -> u16 {
        be16(self.buf, field::ENGINE)
    }

    /// The sampling interval (low 14 bits of the sampling field); 1 when 0.
    pub fn sampling_rate(&self) -> u32 {
        match be16(self.buf, field::SAMPLING) & 0x3fff {
            0 => 1,
            n => u32::from(n),
        }
    }

    /// When uptime 0 was, ms since the epoch.
    pub fn boot_ms(&self) -> i64 {
        let export = i64::from(self.unix_secs()) * 1000 + i64::from(self.unix_nsecs() / 1_000_000);
        export - i64::from(self.sys_uptime())
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or(&[])
    }
}

/// Decodes one v5 datagram into `out`.
pub fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
    let (out, c) = (&mut *run.out, &mut *run.c);
    let h = match Header::new_checked(buf) {
        Ok(h) => h,
        Err(e) => return c.malformed(e.kind()),
    };
    let payload = h.payload();
    let whole = payload.len() / RECORD_LEN;
    if whole != usize::from(h.count()) || payload.len() % RECORD_LEN != 0 {
        c.count_mismatch += 1;
    }

    let domain = u32::from(h.engine());
    let base = FlowRecord {
        sampling: h.sampling_rate(),
        ..FlowRecord::new(exporter, 5, domain)
    };
    let boot = h.boot_ms();
    let export = boot + i64::from(h.sys_uptime());
    for rec in payload.chunks_exact(RECORD_LEN) {
        out.push(record(&base, (boot, export), rec));
    }
    c.records(5, whole as u64);

    if let Some(d) = ex.domain(domain) {
        c.sequence_gaps += super::sequence_gap(&mut d.next_seq, h.flow_sequence(), whole);
    }
}

/// One 48-byte record (`rec` is exactly `RECORD_LEN` long).
/// `clock` is (when uptime 0 was, the export time), ms since the epoch.
fn record(base: &FlowRecord, clock: (i64, i64), rec: &[u8]) -> FlowRecord {
    let at = |r| {
        Some(super::fields::from_uptime(
            clock.0,
            clock.1,
            u64::from(be32(rec, r)),
        ))
    };
    let v4 = |r| {
        let v = be32(rec, r);
        Some(IpAddr::V4(Ipv4Addr::from(v)))
    };
    let byte = |i: usize| rec.get(i).copied().unwrap_or(0);
    let protocol = byte(38);
    let dst_port = be16(rec, 34..36);
    FlowRecord {
        src: v4(0..4),
        dst: v4(4..8),
        input_if: u32::from(be16(rec, 12..14)),
        output_if: u32::from(be16(rec, 14..16)),
        packets: u64::from(be32(rec, 16..20)),
        octets: u64::from(be32(rec, 20..24)),
        start: at(24..28),
        end: at(28..32),
        src_port: be16(rec, 32..34),
        dst_port,
        tcp_flags: u16::from(byte(37)),
        protocol,
        icmp_type_code: if protocol == 1 { dst_port } else { 0 },
        ..base.clone()
    }
}
