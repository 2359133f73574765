//! NetFlow v5: a 24-byte header and fixed 48-byte flow records.
//!
//! `Header::new_checked` validates the length once; after it no accessor can panic.
//! Records are taken as whole 48-byte chunks only, so a lying `count` never reads past
//! the end.

use std::net::{IpAddr, Ipv4Addr};

use super::cache::{Exporter, Run};
use super::error::HeaderError;
use super::fields::uptime_time;
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
pub(crate) fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
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

/// One 48-byte record (`rec` is exactly `RECORD_LEN` long); `times` is (boot, export) ms.
fn record(base: &FlowRecord, times: (i64, i64), rec: &[u8]) -> FlowRecord {
    let at = |v: u32| uptime_time(times.0, times.1, u64::from(v));
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
        start: Some(at(be32(rec, 24..28))),
        end: Some(at(be32(rec, 28..32))),
        src_port: be16(rec, 32..34),
        dst_port,
        tcp_flags: u16::from(byte(37)),
        protocol,
        icmp_type_code: if protocol == 1 { dst_port } else { 0 },
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testutil::{counters, exporter, ip, run};

    /// v5 header: count, sysUpTime 10 s, unix secs, 500 ms, sequence, engine 1/2, sampling.
    fn header(count: u16, seq: u32, sampling: u16) -> Vec<u8> {
        let mut b = vec![0, 5];
        b.extend_from_slice(&count.to_be_bytes());
        b.extend_from_slice(&10_000u32.to_be_bytes()); // sysUpTime ms
        b.extend_from_slice(&1_796_325_242u32.to_be_bytes()); // unix_secs
        b.extend_from_slice(&500_000_000u32.to_be_bytes()); // unix_nsecs
        b.extend_from_slice(&seq.to_be_bytes()); // flow_sequence
        b.extend_from_slice(&[1, 2]); // engine type 1, engine id 2
        b.extend_from_slice(&sampling.to_be_bytes());
        b
    }

    fn record(proto: u8, dport: u16) -> Vec<u8> {
        let mut r = vec![
            192, 0, 2, 1, // srcaddr
            198, 51, 100, 1, // dstaddr
            0, 0, 0, 0, // nexthop
            0, 3, 0, 4, // input 3, output 4
            0, 0, 0, 5, // dPkts 5
            0, 0, 1, 44, // dOctets 300
            0, 0, 0x13, 0x88, // first: uptime 5000 ms
            0, 0, 0x23, 0x28, // last: uptime 9000 ms
            0x9c, 0x40, // srcport 40000
        ];
        r.extend_from_slice(&dport.to_be_bytes()); // dstport
        r.extend_from_slice(&[0, 0x12, proto, 0]); // pad1, tcp_flags SYN|ACK, prot, tos
        r.extend_from_slice(&[0; 8]); // src_as, dst_as, masks, pad2
        r
    }

    #[test]
    fn decodes_every_field_with_times_from_uptime_and_header_sampling() {
        let mut g = header(1, 0, 0x4064); // mode 1, interval 100
        g.extend(record(6, 443));
        let (d, out) = run(&[g]);

        let r = &out[0];
        assert_eq!((r.src, r.dst), (ip("192.0.2.1"), ip("198.51.100.1")));
        assert_eq!(
            (r.src_port, r.dst_port, r.protocol, r.tcp_flags),
            (40000, 443, 6, 0x12)
        );
        assert_eq!(
            (r.packets, r.octets, r.input_if, r.output_if),
            (5, 300, 3, 4)
        );
        // boot = 1796325242.5 s - 10 s
        assert_eq!(r.start, Some(1_796_325_232_500 + 5000));
        assert_eq!(r.end, Some(1_796_325_232_500 + 9000));
        assert_eq!(
            (r.sampling, r.domain, r.version, r.exporter),
            (100, 0x0102, 5, exporter())
        );
        assert_eq!(d.counters(), &counters(1, |c| c.records_v5 = 1));
    }

    #[test]
    fn icmp_type_and_code_come_from_the_destination_port() {
        let mut g = header(1, 0, 0);
        g.extend(record(1, 0x0303)); // ICMP, dst port = type 3 code 3
        let (_, out) = run(&[g]);
        assert_eq!((out[0].icmp_type_code, out[0].sampling), (0x0303, 1));
    }

    #[test]
    fn count_lie_decodes_whole_records_only_and_is_counted() {
        let mut g = header(30, 0, 0); // claims 30 records
        g.extend(record(6, 80));
        g.extend_from_slice(&[0xee; 10]); // 10 bytes of a partial record
        let (d, out) = run(&[g]);
        assert_eq!(out.len(), 1);
        let want = counters(1, |c| {
            c.records_v5 = 1;
            c.count_mismatch = 1;
        });
        assert_eq!(d.counters(), &want);
    }

    #[test]
    fn sequence_gaps_count_missing_records_not_on_the_first_datagram() {
        let mut first = header(2, 100, 0);
        first.extend(record(6, 80));
        first.extend(record(6, 80));
        let mut second = header(1, 107, 0); // expected 102: 5 records lost
        second.extend(record(6, 80));
        let (d, _) = run(&[first, second]);
        assert_eq!(d.counters().sequence_gaps, 5);
    }

    #[test]
    fn short_header_is_an_error_with_offsets() {
        let err = Header::new_checked(&[0, 5, 0, 0]).unwrap_err();
        assert_eq!(err, HeaderError::Short { len: 4, need: 24 });
        assert_eq!(
            err.to_string(),
            "datagram of 4 bytes is shorter than the 24-byte header"
        );
    }
}
