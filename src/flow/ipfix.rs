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
pub fn decode(ex: &mut Exporter, exporter: IpAddr, buf: &[u8], run: &mut Run) {
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
