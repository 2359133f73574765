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
pub fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
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
