//! NetFlow v9 (RFC 3954): a 20-byte header, then flowsets walked by their length; the
//! header `count` is never trusted (softflowd, nProbe and MikroTik send wrong ones).
//!
//! Template flowsets (id 0), options template flowsets (id 1) and data flowsets (id >= 256).
//! Invariant: every loop consumes bytes or stops; no read goes past a checked slice.

use std::net::IpAddr;

use super::cache::{Exporter, Msg, Run};
use super::counters::Counters;
use super::error::{HeaderError, TemplateError};
use super::sets::{be16_at, be32_at, Set, Sets};
use super::template::{FieldSpec, Kind, Template};

pub const HEADER_LEN: usize = 20;

/// A checked view of a v9 header.
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
        Ok(Header { buf })
    }

    fn u32_at(&self, at: usize) -> u32 {
        be32_at(self.buf, at).unwrap_or(0)
    }

    pub fn count(&self) -> u16 {
        be16_at(self.buf, 2).unwrap_or(0)
    }

    pub fn sys_uptime(&self) -> u32 {
        self.u32_at(4)
    }

    pub fn unix_secs(&self) -> u32 {
        self.u32_at(8)
    }

    pub fn sequence(&self) -> u32 {
        self.u32_at(12)
    }

    pub fn source_id(&self) -> u32 {
        self.u32_at(16)
    }

    pub fn flowsets(&self) -> Sets<'a> {
        Sets::new(self.buf.get(HEADER_LEN..).unwrap_or(&[]), HEADER_LEN)
    }
}

/// Decodes one v9 datagram into `out`.
pub(crate) fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
    let h = match Header::new_checked(buf) {
        Ok(h) => h,
        Err(e) => return run.c.malformed(e.kind()),
    };
    let export_ms = i64::from(h.unix_secs()) * 1000;
    let msg = Msg {
        exporter,
        version: 9,
        domain: h.source_id(),
        export_ms,
        boot_ms: Some(export_ms - i64::from(h.sys_uptime())),
    };
    header_state(ex, &h, run.c);

    for set in h.flowsets() {
        match set {
            Ok(set) => flowset(ex, &msg, set, run),
            Err(e) => return run.c.malformed(e.kind()),
        }
    }
}

/// Sequence gaps (in datagrams) and restart detection by sysUpTime going backwards.
fn header_state(ex: &mut Exporter, h: &Header, c: &mut Counters) {
    let domain = h.source_id();
    let Some(d) = ex.domain(domain) else {
        return;
    };
    let restarted = d.last_uptime.is_some_and(|up| h.sys_uptime() < up);
    d.last_uptime = Some(h.sys_uptime());
    d.last_seq = Some(h.sequence());
    c.sequence_gaps += super::sequence_gap(&mut d.next_seq, h.sequence(), 1);
    if restarted && ex.drop_restored(domain) {
        c.exporter_restarts += 1;
    }
}

fn flowset(ex: &mut Exporter, msg: &Msg, set: Set, run: &mut Run) {
    match set.id {
        0 => templates(ex, msg, set, run),
        1 => options_templates(ex, msg, set, run),
        2..=255 => {}
        id => {
            ex.data_set(msg, id, set.body, run);
        }
    }
}

/// Template records: id, field count, then (type, length) pairs. Fewer than 4 bytes left
/// is padding.
fn templates(ex: &mut Exporter, msg: &Msg, set: Set, run: &mut Run) {
    let mut at = 0;
    while set.body.len() - at >= 4 {
        match template(set.body, at, set.offset + 4) {
            Ok((id, t, next)) => {
                ex.define(msg, id, t, run);
                at = next;
            }
            Err(e) => return run.c.malformed(e.kind()),
        }
    }
}

/// One template record at `at` of `body`; returns its id, the template and the next offset.
fn template(body: &[u8], at: usize, base: usize) -> Result<(u16, Template, usize), TemplateError> {
    let offset = base + at;
    let truncated = TemplateError::Truncated { offset };
    let id = be16_at(body, at).ok_or(truncated.clone())?;
    let count = be16_at(body, at + 2).ok_or(truncated.clone())?;
    if id < 256 {
        return Err(TemplateError::BadId { offset, id });
    }
    if count == 0 {
        return Err(TemplateError::NoFields { offset, id });
    }
    let (specs, next) = specs(body, at + 4, usize::from(count)).ok_or(truncated)?;
    let t = Template::compile(Kind::Data, 0, specs, true, id, offset)?;
    Ok((id, t, next))
}

/// `count` (type, length) pairs from `at`; None when they run past `body`.
fn specs(body: &[u8], at: usize, count: usize) -> Option<(Vec<FieldSpec>, usize)> {
    let end = at.checked_add(count.checked_mul(4)?)?;
    let raw = body.get(at..end)?;
    let specs = raw
        .chunks_exact(4)
        .map(|f| FieldSpec {
            ie: u16::from_be_bytes([f[0], f[1]]),
            len: u16::from_be_bytes([f[2], f[3]]),
            pen: 0,
        })
        .collect();
    Some((specs, end))
}

/// Options template records: id, scope length, option length (bytes), then scope fields
/// and option fields. Fewer than 6 bytes left is padding.
fn options_templates(ex: &mut Exporter, msg: &Msg, set: Set, run: &mut Run) {
    let mut at = 0;
    while set.body.len() - at >= 6 {
        match options_template(set.body, at, set.offset + 4) {
            Ok((id, t, next)) => {
                ex.define(msg, id, t, run);
                at = next;
            }
            Err(e) => return run.c.malformed(e.kind()),
        }
    }
}

fn options_template(
    body: &[u8],
    at: usize,
    base: usize,
) -> Result<(u16, Template, usize), TemplateError> {
    let offset = base + at;
    let truncated = TemplateError::Truncated { offset };
    let id = be16_at(body, at).ok_or(truncated.clone())?;
    let scope_len = be16_at(body, at + 2).ok_or(truncated.clone())?;
    let option_len = be16_at(body, at + 4).ok_or(truncated.clone())?;
    if id < 256 {
        return Err(TemplateError::BadId { offset, id });
    }
    for length in [scope_len, option_len] {
        if length % 4 != 0 {
            return Err(TemplateError::BadOptionLength { offset, length });
        }
    }
    // A scope length of 0 is accepted in v9 (unlike IPFIX): the options then describe the
    // whole exporter, which is what a collector assumes anyway.

    let count = usize::from(scope_len / 4) + usize::from(option_len / 4);
    let (specs, next) = specs(body, at + 6, count).ok_or(truncated)?;
    let t = Template::compile(Kind::Options, scope_len / 4, specs, true, id, offset)?;
    Ok((id, t, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testutil::{counters, feed, ip, run, set, template, v9};
    use crate::flow::{Decoder, Limits};

    /// Template 256: src v4, dst v4, sport, dport, proto, octets, packets, first, last.
    const FIELDS: [(u16, u16); 9] = [
        (8, 4),
        (12, 4),
        (7, 2),
        (11, 2),
        (4, 1),
        (1, 4),
        (2, 4),
        (22, 4),
        (21, 4),
    ];

    /// One 29-byte record of template 256.
    fn record(last_octet: u8) -> Vec<u8> {
        vec![
            10, 0, 0, last_octet, // IE 8 sourceIPv4Address
            192, 0, 2, 10, // IE 12 destinationIPv4Address
            0x04, 0xd2, // IE 7 sport 1234
            0x00, 0x35, // IE 11 dport 53
            17,   // IE 4 protocol UDP
            0, 0, 0, 100, // IE 1 octets 100
            0, 0, 0, 2, // IE 2 packets 2
            0, 0, 0, 0, // IE 22 first: uptime 0 (a real value)
            0, 0, 0x03, 0xe8, // IE 21 last: uptime 1000
        ]
    }

    fn templates() -> Vec<u8> {
        set(0, &template(256, &FIELDS))
    }

    /// Uptime 60 s at export time 1796325242 s: boot at 1796325182 s.
    const BOOT_MS: i64 = 1_796_325_182_000;

    #[test]
    fn template_then_data_decodes_with_times_from_sys_uptime() {
        let t = v9(60_000, 1_796_325_242, 0, &[templates()]);
        let data = v9(60_000, 1_796_325_242, 1, &[set(256, &record(1))]);
        let (d, out) = run(&[t, data]);

        let r = &out[0];
        assert_eq!((r.src, r.dst), (ip("10.0.0.1"), ip("192.0.2.10")));
        assert_eq!((r.src_port, r.dst_port, r.protocol), (1234, 53, 17));
        assert_eq!((r.octets, r.packets, r.version), (100, 2, 9));
        assert_eq!((r.start, r.end), (Some(BOOT_MS), Some(BOOT_MS + 1000)));
        let want = counters(2, |c| {
            c.records_v9 = 1;
            c.templates_defined = 1;
        });
        assert_eq!(d.counters(), &want);
        assert_eq!(d.templates_known(), 1);
    }

    #[test]
    fn walks_by_flowset_length_ignoring_count_with_padding_anywhere() {
        let mut body = record(1);
        body.extend(record(2));
        body.extend_from_slice(&[0, 0, 0]); // 3 bytes of padding inside the flowset
        let mut g = v9(60_000, 1_796_325_242, 0, &[templates(), set(256, &body)]);
        g[2..4].copy_from_slice(&99u16.to_be_bytes()); // header count 99: a lie
        g.extend_from_slice(&[0, 0]); // 2 bytes of padding after the last flowset
        let (d, out) = run(&[g]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].src, ip("10.0.0.2"));
        assert_eq!(d.counters().malformed_set, 0);
    }

    #[test]
    fn unaligned_flowsets_follow_each_other_at_any_offset() {
        // Data flowset of 4 + 29 = 33 bytes (not a multiple of 4), then another.
        let sets = [templates(), set(256, &record(1)), set(256, &record(2))];
        let (_, out) = run(&[v9(60_000, 1_796_325_242, 0, &sets)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].src, ip("10.0.0.2"));
    }

    #[test]
    fn zero_length_flowset_stops_and_keeps_records_before_it() {
        let mut g = v9(
            60_000,
            1_796_325_242,
            0,
            &[templates(), set(256, &record(1))],
        );
        g.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // flowset 256, length 0
        g.extend(set(256, &record(2))); // never reached
        let (d, out) = run(&[g]);
        assert_eq!(out.len(), 1);
        assert_eq!(d.counters().malformed_set, 1);
    }

    #[test]
    fn overlong_flowset_stops_and_keeps_records_before_it() {
        let mut g = v9(
            60_000,
            1_796_325_242,
            0,
            &[templates(), set(256, &record(1))],
        );
        g.extend_from_slice(&[0x01, 0x00, 0x01, 0x00, 1, 2, 3]); // length 256, 7 bytes left
        let (d, out) = run(&[g]);
        assert_eq!(out.len(), 1);
        assert_eq!(d.counters().malformed_set, 1);
    }

    #[test]
    fn data_before_its_template_in_the_same_datagram_decodes() {
        let g = v9(
            60_000,
            1_796_325_242,
            0,
            &[set(256, &record(7)), templates()],
        );
        let (d, out) = run(&[g]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].src, out[0].start), (ip("10.0.0.7"), Some(BOOT_MS)));
        let want = counters(1, |c| {
            c.records_v9 = 1;
            c.templates_defined = 1;
            c.sets_no_template = 1;
            c.held_records_decoded = 1;
        });
        assert_eq!(d.counters(), &want);
    }

    #[test]
    fn data_held_across_datagrams_decodes_with_its_own_header_times() {
        let data = v9(30_000, 1_796_325_212, 5, &[set(256, &record(7))]);
        let t = v9(60_000, 1_796_325_242, 6, &[templates()]);
        let (d, out) = run(&[data, t]);
        assert_eq!(out.len(), 1);
        // Boot from the data datagram's header: 1796325212 s - 30 s.
        assert_eq!(out[0].start, Some(1_796_325_182_000));
        assert_eq!(d.counters().held_records_decoded, 1);
    }

    #[test]
    fn variable_length_fields_in_v9_templates_are_accepted() {
        let fields = [(8, 4), (82, 65535), (12, 4)]; // IE 82 interfaceName, variable
        let body = [
            10, 0, 0, 1, // IE 8
            3, b'e', b't', b'h', // IE 82: 1-byte length 3, "eth"
            192, 0, 2, 1, // IE 12
        ];
        let g = v9(0, 0, 0, &[set(0, &template(300, &fields)), set(300, &body)]);
        let (_, out) = run(&[g]);
        assert_eq!((out[0].src, out[0].dst), (ip("10.0.0.1"), ip("192.0.2.1")));
    }

    #[test]
    fn template_of_record_length_zero_is_rejected() {
        let g = v9(
            0,
            0,
            0,
            &[set(0, &template(300, &[(8, 0)])), set(300, &[1; 40])],
        );
        let (d, out) = run(&[g]);
        assert!(out.is_empty());
        assert_eq!(d.templates_known(), 0);
        let want = counters(1, |c| {
            c.malformed_template = 1;
            c.sets_no_template = 1;
        });
        assert_eq!(d.counters(), &want);
    }

    #[test]
    fn options_sampling_interval_applies_to_data_of_the_domain() {
        let options = [
            0x01, 0x00, // options template id 256... reused below as 257
            0x00, 0x04, // scope length 4: one scope field
            0x00, 0x04, // option length 4: one option field
            0x00, 0x01, 0x00, 0x04, // scope: system, 4 bytes
            0x00, 0x22, 0x00, 0x04, // IE 34 samplingInterval, 4 bytes
        ];
        let mut options = options.to_vec();
        options[1] = 0x01; // template id 257
        let option_record = [0, 0, 0, 0, 0, 0, 0x03, 0xe8]; // scope 0, interval 1000
        let sets = [
            set(1, &options),
            set(257, &option_record),
            templates(),
            set(256, &record(1)),
        ];
        let (d, out) = run(&[v9(0, 0, 0, &sets)]);
        assert_eq!(out[0].sampling, 1000);
        assert_eq!(d.counters().options_records, 1);
    }

    #[test]
    fn sampler_id_in_data_picks_the_rate_from_options() {
        let options = [
            0x01, 0x01, // options template 257
            0x00, 0x04, 0x00, 0x08, // scope 4 bytes, options 8 bytes
            0x00, 0x01, 0x00, 0x04, // scope: system
            0x00, 0x30, 0x00, 0x01, // IE 48 samplerId, 1 byte
            0x00, 0x32, 0x00, 0x04, // IE 50 samplerRandomInterval, 4 bytes
        ];
        let rates = [
            0, 0, 0, 0, 7, 0, 0, 0, 64, // sampler 7: 1 in 64
            0, 0, 0, 0, 9, 0, 0, 0, 10, // sampler 9: 1 in 10
        ];
        let fields = [(8, 4), (48, 1)];
        let data = [10, 0, 0, 1, 9, 10, 0, 0, 2, 7]; // sampler 9, then sampler 7
        let sets = [
            set(1, &options),
            set(257, &rates),
            set(0, &template(300, &fields)),
            set(300, &data),
        ];
        let (_, out) = run(&[v9(0, 0, 0, &sets)]);
        assert_eq!((out[0].sampling, out[1].sampling), (10, 64));
    }

    #[test]
    fn sequence_gaps_count_datagrams() {
        let a = v9(1000, 0, 10, &[templates()]);
        let b = v9(2000, 0, 11, &[]);
        let c = v9(3000, 0, 15, &[]); // 12, 13, 14 lost
        let (d, _) = run(&[a, b, c]);
        assert_eq!(d.counters().sequence_gaps, 3);
    }

    #[test]
    fn template_limit_refuses_new_templates_but_allows_redefinition() {
        let mut d = Decoder::new(Limits {
            max_per_exporter: 1,
            ..Limits::default()
        });
        let two = [
            set(0, &template(256, &FIELDS)),
            set(0, &template(257, &FIELDS)),
        ];
        let again = [set(0, &template(256, &[(8, 4)]))];
        feed(&mut d, &[v9(0, 0, 0, &two), v9(0, 0, 1, &again)]);
        assert_eq!(d.templates_known(), 1);
        assert_eq!(d.counters().template_limit, 1);
        assert_eq!(d.counters().templates_defined, 2);
    }

    #[test]
    fn template_errors_name_offset_and_value() {
        let body = template(12, &FIELDS);
        let err = template_record(&body, 0, 24).unwrap_err();
        assert_eq!(err, TemplateError::BadId { offset: 24, id: 12 });
        assert_eq!(err.to_string(), "template id 12 at offset 24 is below 256");
    }

    fn template_record(b: &[u8], at: usize, base: usize) -> Result<u16, TemplateError> {
        super::template(b, at, base).map(|(id, _, _)| id)
    }
}
