//! IPFIX over UDP (RFC 7011): a 16-byte message header whose length is checked against the
//! datagram, then sets walked by their length.
//!
//! Template sets (id 2), options template sets (id 3, scope count at least 1), withdrawals
//! (field count 0; template id 2 or 3 withdraws all) applied in wire order, data sets
//! (id >= 256). Invariant: every loop consumes bytes or stops.

use std::net::IpAddr;

use super::cache::{Exporter, Msg, Run};
use super::counters::Counters;
use super::error::{HeaderError, TemplateError};
use super::sets::{be16_at, be32_at, Set, Sets};
use super::template::{FieldSpec, Kind, Template};

pub const HEADER_LEN: usize = 16;

/// A checked view of an IPFIX message header: `new_checked` proves the message length
/// fits the datagram, so `sets` only ever sees the message's own bytes.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Header<'a>, HeaderError> {
        if buf.len() < HEADER_LEN {
            return Err(HeaderError::Short {
                len: buf.len(),
                need: HEADER_LEN,
            });
        }
        let declared = usize::from(be16_at(buf, 2).unwrap_or(0));
        if declared < HEADER_LEN {
            return Err(HeaderError::LengthTooSmall { declared });
        }
        let msg = buf.get(..declared).ok_or(HeaderError::LengthPastEnd {
            declared,
            available: buf.len(),
        })?;
        Ok(Header { buf: msg })
    }

    fn u32_at(&self, at: usize) -> u32 {
        be32_at(self.buf, at).unwrap_or(0)
    }

    pub fn length(&self) -> usize {
        self.buf.len()
    }

    pub fn export_time(&self) -> u32 {
        self.u32_at(4)
    }

    pub fn sequence(&self) -> u32 {
        self.u32_at(8)
    }

    pub fn observation_domain(&self) -> u32 {
        self.u32_at(12)
    }

    pub fn sets(&self) -> Sets<'a> {
        Sets::new(self.buf.get(HEADER_LEN..).unwrap_or(&[]), HEADER_LEN)
    }
}

/// Decodes one IPFIX message into `out`.
pub(crate) fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
    let h = match Header::new_checked(buf) {
        Ok(h) => h,
        Err(e) => return run.c.malformed(e.kind()),
    };
    let msg = Msg {
        exporter,
        version: 10,
        domain: h.observation_domain(),
        export_ms: i64::from(h.export_time()) * 1000,
        boot_ms: None,
    };
    restart_check(ex, &h, run.c);

    let mut walk = Walk::default();
    for set in h.sets() {
        match set {
            Ok(set) => walk.set(ex, &msg, set, run),
            Err(e) => {
                run.c.malformed(e.kind());
                break;
            }
        }
    }
    sequence(ex, &h, &walk, run.c);
}

/// What the set walk learnt that the sequence check needs.
#[derive(Debug, Default)]
struct Walk {
    records: usize,
    /// A data set could not be counted (held): the next expected sequence is unknown.
    uncounted: bool,
}

impl Walk {
    fn set(&mut self, ex: &mut Exporter, msg: &Msg, set: Set, run: &mut Run) {
        match set.id {
            2 => templates(ex, msg, set, Kind::Data, run),
            3 => templates(ex, msg, set, Kind::Options, run),
            0..=255 => {}
            id => match ex.data_set(msg, id, set.body, run) {
                Some(n) => self.records += n,
                None => self.uncounted = true,
            },
        }
    }
}

/// A sequence number below the last one while restored templates exist means the exporter
/// restarted and may reuse template ids: its restored templates are dropped.
fn restart_check(ex: &mut Exporter, h: &Header, c: &mut Counters) {
    let domain = h.observation_domain();
    let last = ex.domains.get(&domain).and_then(|d| d.last_seq);
    if last.is_some_and(|last| h.sequence() < last) && ex.drop_restored(domain) {
        c.exporter_restarts += 1;
    }
}

/// Gaps in data records (the IPFIX sequence counts data records, options included).
fn sequence(ex: &mut Exporter, h: &Header, walk: &Walk, c: &mut Counters) {
    let Some(d) = ex.domain(h.observation_domain()) else {
        return;
    };
    d.last_seq = Some(h.sequence());
    c.sequence_gaps += super::sequence_gap(&mut d.next_seq, h.sequence(), walk.records);
    if walk.uncounted {
        d.next_seq = None;
    }
}

/// Template or options template records of one set, applied in wire order. Fewer than 4
/// bytes left is padding.
fn templates(ex: &mut Exporter, msg: &Msg, set: Set, kind: Kind, run: &mut Run) {
    let mut at = 0;
    while set.body.len() - at >= 4 {
        match record(set.body, at, set.offset + 4, kind) {
            Ok((Parsed::Define(id, t), next)) => {
                ex.define(msg, id, t, run);
                at = next;
            }
            Ok((Parsed::Withdraw(id), next)) => {
                ex.withdraw(msg.domain, id, kind, run.c);
                at = next;
            }
            Err(e) => return run.c.malformed(e.kind()),
        }
    }
}

/// A template record: a definition, or a withdrawal of one id (None: all of the kind).
#[derive(Debug)]
enum Parsed {
    Define(u16, Template),
    Withdraw(Option<u16>),
}

fn record(
    body: &[u8],
    at: usize,
    base: usize,
    kind: Kind,
) -> Result<(Parsed, usize), TemplateError> {
    let offset = base + at;
    let truncated = TemplateError::Truncated { offset };
    let id = be16_at(body, at).ok_or(truncated.clone())?;
    let count = be16_at(body, at + 2).ok_or(truncated.clone())?;
    if count == 0 {
        return withdrawal(id, offset).map(|p| (p, at + 4));
    }
    if id < 256 {
        return Err(TemplateError::BadId { offset, id });
    }

    let (scope, fields_at) = match kind {
        Kind::Data => (0, at + 4),
        Kind::Options => (be16_at(body, at + 4).ok_or(truncated.clone())?, at + 6),
    };
    if kind == Kind::Options && scope == 0 {
        return Err(TemplateError::NoScope { offset, id });
    }
    let (specs, next) = specs(body, fields_at, count).ok_or(truncated)?;
    let t = Template::compile(kind, scope, specs, false, id, offset)?;
    Ok((Parsed::Define(id, t), next))
}

/// Field count 0: template id `id` withdrawn; the set's own id (2 or 3) withdraws all.
fn withdrawal(id: u16, offset: usize) -> Result<Parsed, TemplateError> {
    match id {
        2 | 3 => Ok(Parsed::Withdraw(None)),
        0..=255 => Err(TemplateError::BadId { offset, id }),
        id => Ok(Parsed::Withdraw(Some(id))),
    }
}

/// `count` field specifiers from `at`: IE and length, then a 4-byte enterprise number
/// when the IE's top bit is set.
fn specs(body: &[u8], mut at: usize, count: u16) -> Option<(Vec<FieldSpec>, usize)> {
    // Each specifier is at least 4 bytes, so the set length bounds the allocation.
    let cap = usize::from(count).min(body.len() / 4);
    let mut specs = Vec::with_capacity(cap);
    for _ in 0..count {
        let ie = be16_at(body, at)?;
        let len = be16_at(body, at + 2)?;
        let pen = if ie & 0x8000 != 0 {
            at += 4;
            be32_at(body, at)?
        } else {
            0
        };
        specs.push(FieldSpec {
            ie: ie & 0x7fff,
            len,
            pen,
        });
        at += 4;
    }
    Some((specs, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testutil::{counters, ip, ipfix, run, set, template};
    use crate::flow::FlowRecord;

    const SECS: u32 = 1_796_325_242;

    /// Template 256: src v4, dst v4, proto, octets (8 bytes), packets (8 bytes).
    fn t256() -> Vec<u8> {
        set(
            2,
            &template(256, &[(8, 4), (12, 4), (4, 1), (1, 8), (2, 8)]),
        )
    }

    fn r256(last: u8) -> Vec<u8> {
        let mut r = vec![10, 0, 0, last, 192, 0, 2, 1, 6]; // IE 8, IE 12, IE 4 TCP
        r.extend_from_slice(&1500u64.to_be_bytes()); // IE 1 octetDeltaCount
        r.extend_from_slice(&3u64.to_be_bytes()); // IE 2 packetDeltaCount
        r
    }

    /// Decodes one message with `sets` and returns its single record.
    fn one(sets: &[Vec<u8>]) -> FlowRecord {
        let (_, out) = run(&[ipfix(SECS, 0, 1, sets)]);
        assert_eq!(out.len(), 1, "one record expected");
        out[0].clone()
    }

    #[test]
    fn template_and_data_decode_with_domain() {
        let r = one(&[t256(), set(256, &r256(1))]);
        assert_eq!(
            (r.src, r.dst, r.protocol),
            (ip("10.0.0.1"), ip("192.0.2.1"), 6)
        );
        assert_eq!((r.octets, r.packets, r.domain, r.version), (1500, 3, 1, 10));
    }

    #[test]
    fn message_length_is_checked_against_the_datagram() {
        let mut g = ipfix(SECS, 0, 1, &[t256()]);
        g[2..4].copy_from_slice(&9000u16.to_be_bytes());
        let err = Header::new_checked(&g).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("message length 9000 exceeds the {}-byte datagram", g.len())
        );
        g[2..4].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(
            Header::new_checked(&g).unwrap_err(),
            HeaderError::LengthTooSmall { declared: 8 }
        );
    }

    #[test]
    fn bytes_after_the_message_length_are_ignored() {
        let mut g = ipfix(SECS, 0, 1, &[t256(), set(256, &r256(1))]);
        g.extend(set(256, &r256(2))); // beyond the header's length
        let (_, out) = run(&[g]);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn withdrawal_applies_in_wire_order() {
        let withdraw = set(2, &[0x01, 0x00, 0x00, 0x00]); // template 256, field count 0
        let sets = [t256(), set(256, &r256(1)), withdraw, set(256, &r256(2))];
        let (d, out) = run(&[ipfix(SECS, 0, 1, &sets)]);
        assert_eq!(out.len(), 1);
        let want = counters(1, |c| {
            c.records_ipfix = 1;
            c.templates_defined = 1;
            c.templates_withdrawn = 1;
            c.sets_no_template = 1;
        });
        assert_eq!(d.counters(), &want);
    }

    #[test]
    fn withdraw_all_removes_every_data_template_of_the_domain() {
        let second = set(2, &template(257, &[(8, 4)]));
        let all = set(2, &[0x00, 0x02, 0x00, 0x00]); // template id 2 (the set id): all
        let (d, _) = run(&[ipfix(SECS, 0, 1, &[t256(), second, all])]);
        assert_eq!(d.templates_known(), 0);
        assert_eq!(d.counters().templates_withdrawn, 2);
    }

    #[test]
    fn variable_length_fields_in_both_length_forms() {
        let fields = [(82, 65535), (8, 4), (83, 65535), (12, 4)];
        let mut body = vec![2, b'x', b'y']; // IE 82: 1-byte length 2
        body.extend_from_slice(&[10, 0, 0, 1]); // IE 8
        body.extend_from_slice(&[255, 0x01, 0x00]); // IE 83: 255 then 2-byte length 256
        body.extend_from_slice(&[b'd'; 256]);
        body.extend_from_slice(&[192, 0, 2, 9]); // IE 12
        let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
        assert_eq!((r.src, r.dst), (ip("10.0.0.1"), ip("192.0.2.9")));
    }

    #[test]
    fn variable_length_record_running_past_the_set_is_counted() {
        let fields = [(8, 4), (82, 65535)];
        let body = [10, 0, 0, 1, 9, b'a']; // IE 82 says 9 bytes, 1 present
        let sets = [set(2, &template(300, &fields)), set(300, &body)];
        let (d, out) = run(&[ipfix(SECS, 0, 1, &sets)]);
        assert!(out.is_empty());
        assert_eq!(d.counters().malformed_record, 1);
    }

    #[test]
    fn enterprise_fields_are_skipped_by_length() {
        let tmpl = [
            0x01, 0x2c, 0x00, 0x03, // template 300, 3 fields
            0x80, 0x08, 0x00, 0x04, // enterprise bit + IE 8, 4 bytes
            0x00, 0x00, 0x72, 0x79, // PEN 29305 (reverse): not our source address
            0x00, 0x08, 0x00, 0x04, // IE 8 sourceIPv4Address
            0x00, 0x0c, 0x00, 0x04, // IE 12 destinationIPv4Address
        ];
        let body = [1, 1, 1, 1, 10, 0, 0, 1, 192, 0, 2, 1];
        let r = one(&[set(2, &tmpl), set(300, &body)]);
        assert_eq!((r.src, r.dst), (ip("10.0.0.1"), ip("192.0.2.1")));
    }

    #[test]
    fn reduced_size_integers_of_one_to_eight_bytes() {
        let fields = [(8, 4), (1, 3), (2, 1), (10, 2), (14, 5)];
        let body = [
            10, 0, 0, 1, // IE 8
            0x01, 0x00, 0x00, // IE 1 octets in 3 bytes: 65536
            7,    // IE 2 packets in 1 byte
            0x01, 0x02, // IE 10 ingressInterface in 2 bytes: 258
            0, 0, 0, 0, 9, // IE 14 egressInterface in 5 bytes: 9
        ];
        let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
        assert_eq!(
            (r.octets, r.packets, r.input_if, r.output_if),
            (65536, 7, 258, 9)
        );
    }

    #[test]
    fn repeated_fields_keep_the_first_occurrence() {
        let fields = [(8, 4), (8, 4), (1, 4), (1, 4)];
        let body = [10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6];
        let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
        assert_eq!((r.src, r.octets), (ip("10.0.0.1"), 5));
    }

    #[test]
    fn options_template_with_scope_count_zero_is_rejected() {
        let tmpl = [
            0x01, 0x2c, 0x00, 0x01, // options template 300, 1 field
            0x00, 0x00, // scope field count 0
            0x00, 0xa0, 0x00, 0x08, // IE 160
        ];
        let (d, _) = run(&[ipfix(SECS, 0, 1, &[set(3, &tmpl)])]);
        assert_eq!(d.templates_known(), 0);
        assert_eq!(d.counters().malformed_template, 1);
        let err = record(&tmpl, 0, 20, Kind::Options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "options template 300 at offset 20 has scope count 0"
        );
    }

    /// Options template 400: scope IE 149 observationDomainId, then IE 160.
    fn init_options(init_ms: u64) -> [Vec<u8>; 2] {
        let tmpl = [
            0x01, 0x90, 0x00, 0x02, 0x00, 0x01, // options template 400, 2 fields, 1 scope
            0x00, 0x95, 0x00, 0x04, // scope: IE 149, 4 bytes
            0x00, 0xa0, 0x00, 0x08, // IE 160 systemInitTimeMilliseconds, 8 bytes
        ];
        let mut rec = vec![0, 0, 0, 1]; // domain 1
        rec.extend_from_slice(&init_ms.to_be_bytes());
        [set(3, &tmpl), set(400, &rec)]
    }

    #[test]
    fn sys_uptime_times_are_relative_to_system_init_and_zero_is_real() {
        let [t, o] = init_options(1_796_325_000_000);
        let fields = [(8, 4), (22, 4), (21, 4)];
        let body = [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x71, 0x48]; // start 0, end 29000
        let r = one(&[t, o, set(2, &template(300, &fields)), set(300, &body)]);
        assert_eq!(r.start, Some(1_796_325_000_000));
        assert_eq!(r.end, Some(1_796_325_029_000));
    }

    #[test]
    fn absolute_times_in_seconds_millis_micros_and_nanos() {
        let body_for = |start: &[u8], end: &[u8]| {
            let mut b = vec![10, 0, 0, 1];
            b.extend_from_slice(start);
            b.extend_from_slice(end);
            b
        };
        let ntp = ((1_796_325_242u64 + 2_208_988_800) << 32) | (1u64 << 31); // + 0.5 s
        let cases: [(u16, u16, Vec<u8>, i64); 4] = [
            (
                150,
                4,
                1_796_325_242u32.to_be_bytes().to_vec(),
                1_796_325_242_000,
            ),
            (
                152,
                8,
                1_796_325_242_123u64.to_be_bytes().to_vec(),
                1_796_325_242_123,
            ),
            (154, 8, ntp.to_be_bytes().to_vec(), 1_796_325_242_500),
            (156, 8, ntp.to_be_bytes().to_vec(), 1_796_325_242_500),
        ];
        for (ie, len, value, want) in cases {
            let fields = [(8, 4), (ie, len), (ie + 1, len)];
            let body = body_for(&value, &value);
            let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
            assert_eq!((r.start, r.end), (Some(want), Some(want)), "IE {ie}");
        }
    }

    #[test]
    fn selector_rate_from_packet_interval_and_space() {
        let tmpl = [
            0x01, 0x90, 0x00, 0x03, 0x00, 0x01, // options template 400, 3 fields, 1 scope
            0x01, 0x2e, 0x00, 0x02, // scope: IE 302 selectorId, 2 bytes
            0x01, 0x31, 0x00, 0x04, // IE 305 samplingPacketInterval
            0x01, 0x32, 0x00, 0x04, // IE 306 samplingPacketSpace
        ];
        let rec = [0, 5, 0, 0, 0, 1, 0, 0, 0, 99]; // selector 5: 1 sampled, 99 skipped
        let fields = [(8, 4), (302, 2)];
        let data = [10, 0, 0, 1, 0, 5];
        let sets = [
            set(3, &tmpl),
            set(400, &rec),
            set(2, &template(300, &fields)),
        ];
        let r = one(&[
            sets[0].clone(),
            sets[1].clone(),
            sets[2].clone(),
            set(300, &data),
        ]);
        assert_eq!(r.sampling, 100);
    }

    #[test]
    fn nat_asa_counters_physical_interfaces_direction_and_icmp_parts() {
        let fields = [
            (8, 4),
            (225, 4),
            (226, 4),
            (4, 1),
            (231, 4),
            (232, 4),
            (298, 4),
            (299, 4),
            (252, 4),
            (253, 4),
            (61, 1),
            (176, 1),
            (177, 1),
        ];
        let body = [
            10, 0, 0, 1, // IE 8 source
            203, 0, 113, 1, // IE 225 post-NAT source
            198, 51, 100, 2, // IE 226 post-NAT destination
            1, // IE 4 ICMP
            0, 0, 0, 100, // IE 231 initiatorOctets
            0, 0, 0, 50, // IE 232 responderOctets
            0, 0, 0, 2, // IE 298 initiatorPackets
            0, 0, 0, 1, // IE 299 responderPackets
            0, 0, 0, 7, // IE 252 ingressPhysicalInterface
            0, 0, 0, 8, // IE 253 egressPhysicalInterface
            1, // IE 61 flowDirection egress
            8, 0, // IE 176 type 8, IE 177 code 0
        ];
        let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
        assert_eq!(
            (r.nat_src, r.nat_dst),
            (ip("203.0.113.1"), ip("198.51.100.2"))
        );
        assert_eq!((r.octets, r.packets), (150, 3));
        assert_eq!((r.input_if, r.output_if, r.direction), (7, 8, Some(1)));
        assert_eq!(r.icmp_type_code, 0x0800);
    }

    #[test]
    fn ipv6_addresses_and_total_counters() {
        let fields = [(27, 16), (28, 16), (85, 4), (86, 4), (139, 2)];
        let mut body = vec![0x20, 0x01, 0x0d, 0xb8];
        body.extend_from_slice(&[0; 11]);
        body.push(1); // IE 27 2001:db8::1
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
        body.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1, 0x80, 0]); // IE 85, 86, 139
        let r = one(&[set(2, &template(300, &fields)), set(300, &body)]);
        // IE 28 is IPv4-mapped: made canonical.
        assert_eq!((r.src, r.dst), (ip("2001:db8::1"), ip("192.0.2.1")));
        assert_eq!((r.octets, r.packets, r.icmp_type_code), (9, 1, 0x8000));
    }

    #[test]
    fn dual_stack_templates_take_the_family_that_is_not_zero() {
        let fields = [(27, 16), (8, 4), (28, 16), (12, 4)];
        let mut v4_flow = vec![0; 16]; // IE 27 :: (unused family)
        v4_flow.extend_from_slice(&[10, 0, 0, 1]); // IE 8
        v4_flow.extend_from_slice(&[0; 16]); // IE 28 ::
        v4_flow.extend_from_slice(&[192, 0, 2, 1]); // IE 12
        let mut v6_flow = vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        v6_flow.extend_from_slice(&[0; 4]); // IE 8 0.0.0.0 (unused family)
        v6_flow.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]);
        v6_flow.extend_from_slice(&[0; 4]); // IE 12 0.0.0.0
        let sets = [
            set(2, &template(300, &fields)),
            set(300, &[v4_flow, v6_flow].concat()),
        ];
        let (_, out) = run(&[ipfix(SECS, 0, 1, &sets)]);
        assert_eq!((out[0].src, out[0].dst), (ip("10.0.0.1"), ip("192.0.2.1")));
        assert_eq!(
            (out[1].src, out[1].dst),
            (ip("2001:db8::5"), ip("2001:db8::6"))
        );
    }

    #[test]
    fn records_without_any_address_are_emitted_and_counted() {
        let fields = [(4, 1), (1, 4)];
        let body = [6, 0, 0, 0, 40];
        let (d, out) = run(&[ipfix(
            SECS,
            0,
            1,
            &[set(2, &template(300, &fields)), set(300, &body)],
        )]);
        assert!(!out[0].has_address());
        assert_eq!(d.counters().records_no_address, 1);
    }

    #[test]
    fn sequence_gaps_count_records_and_the_first_message_is_none() {
        let first = ipfix(
            SECS,
            100,
            1,
            &[t256(), set(256, &[r256(1), r256(2)].concat())],
        );
        let second = ipfix(SECS, 105, 1, &[set(256, &r256(3))]); // expected 102
        let (d, out) = run(&[first, second]);
        assert_eq!(out.len(), 3);
        assert_eq!(d.counters().sequence_gaps, 3);
    }
}
