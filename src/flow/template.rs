//! Templates compiled once into a flat plan, and the walk of a data set by that plan.
//!
//! Invariant: a compiled template's record length (fixed) or minimum length (with
//! variable-length fields) is at least 1, so every record loop consumes bytes and ends.
//! The fixed-length walk reads each field through a checked slice of its record.

use super::error::{RecordError, TemplateError};
use super::fields::{
    action, apply, apply_read, bit, read_for, Act, Ctx, Extra, OptionFacts, Read, VARLEN,
};
use super::record::FlowRecord;

/// One field as the template announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldSpec {
    /// IE number (v9 field type), enterprise bit cleared.
    pub ie: u16,
    /// Length in bytes, or `VARLEN`.
    pub len: u16,
    /// Enterprise number, 0 for IANA fields.
    pub pen: u32,
}

/// Data records are emitted; options records update state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Data,
    Options,
}

/// A fixed-length field: where it sits in the record and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    start: usize,
    end: usize,
    read: Read,
    act: Act,
}

/// A fixed-length template's fields grouped by how they are read, so the record loop
/// runs a few tight loops instead of dispatching on every field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Steps {
    /// The `Extra` slots every record of this template fills.
    mask: u64,
    u8s: Vec<(usize, Act)>,
    u16s: Vec<(usize, Act)>,
    u32s: Vec<(usize, Act)>,
    u64s: Vec<(usize, Act)>,
    /// Addresses and odd-length integers, applied one by one.
    other: Vec<Step>,
}

impl Steps {
    fn push(&mut self, step: Step) {
        let Step {
            start, read, act, ..
        } = step;
        match read {
            Read::U8 => self.u8s.push((start, act)),
            Read::U16 => self.u16s.push((start, act)),
            Read::U32 => self.u32s.push((start, act)),
            Read::U64 => self.u64s.push((start, act)),
            _ => self.other.push(step),
        }
        if !matches!(
            read,
            Read::Src4 | Read::Src6 | Read::Dst4 | Read::Dst6 | Read::Addr
        ) {
            self.mask |= bit(act);
        }
    }

    /// Applies every field of one record (`rec_bytes` is exactly one record long).
    #[inline(always)]
    fn apply(&self, rec: &mut FlowRecord, x: &mut Extra, rec_bytes: &[u8]) {
        x.start(self.mask);
        for &(at, act) in &self.u8s {
            x.store(act, rec_bytes.get(at).map_or(0, |&v| u64::from(v)));
        }
        for &(at, act) in &self.u16s {
            let v = rec_bytes.get(at..at + 2).and_then(|b| b.try_into().ok());
            x.store(act, v.map_or(0, |a| u64::from(u16::from_be_bytes(a))));
        }
        for &(at, act) in &self.u32s {
            let v = rec_bytes.get(at..at + 4).and_then(|b| b.try_into().ok());
            x.store(act, v.map_or(0, |a| u64::from(u32::from_be_bytes(a))));
        }
        for &(at, act) in &self.u64s {
            let v = rec_bytes.get(at..at + 8).and_then(|b| b.try_into().ok());
            x.store(act, v.map_or(0, u64::from_be_bytes));
        }
        for s in &self.other {
            if let Some(b) = rec_bytes.get(s.start..s.end) {
                apply_read(rec, x, s.read, s.act, b);
            }
        }
    }
}

/// How to walk a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Every field has a fixed length: records are `len` bytes, fields at fixed offsets.
    Fixed { len: usize, steps: Steps },
    /// At least one variable-length field: fields are read in order, `min` bytes at least.
    Variable { min: usize, fields: Vec<(u16, Act)> },
}

/// A template as received, compiled for decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub kind: Kind,
    /// Scope fields at the front (options templates; 0 for data templates).
    pub scope_count: u16,
    pub specs: Vec<FieldSpec>,
    /// When it was last defined, ms since the epoch.
    pub learned_ms: i64,
    /// Restored from the state file and not defined again since.
    pub restored: bool,
    /// Scope fields are v9 scope types, not IEs (kept to recompile after a restore).
    pub v9_scope: bool,
    plan: Plan,
}

/// The widest template kept. Real exporters send tens of fields (YAF, the widest seen in
/// the shared captures, about a hundred); a datagram could carry 16 000.
pub const MAX_TEMPLATE_FIELDS: usize = 1024;

impl Template {
    /// Compiles `specs`. `v9_scope` marks v9 options scope fields, whose types are not IEs.
    /// Rejects templates whose records would be 0 bytes long, or wider than
    /// `MAX_TEMPLATE_FIELDS`.
    pub fn compile(
        kind: Kind,
        scope_count: u16,
        specs: Vec<FieldSpec>,
        v9_scope: bool,
        id: u16,
        offset: usize,
    ) -> Result<Template, TemplateError> {
        if specs.len() > MAX_TEMPLATE_FIELDS {
            let fields = specs.len();
            return Err(TemplateError::TooWide { offset, id, fields });
        }
        let acts = actions(&specs, if v9_scope { scope_count } else { 0 });
        let plan = plan(&specs, &acts);
        let zero = match &plan {
            Plan::Fixed { len, .. } => *len == 0,
            Plan::Variable { min, .. } => *min == 0,
        };
        if zero {
            return Err(TemplateError::ZeroLength { offset, id });
        }
        Ok(Template {
            kind,
            scope_count,
            specs,
            learned_ms: 0,
            restored: false,
            v9_scope,
            plan,
        })
    }

    /// Decodes the data records of `body` into `out`; returns how many. Stops with an error
    /// at a record that runs past the set (records before it are kept).
    pub fn data(
        &self,
        body: &[u8],
        ctx: &Ctx,
        out: &mut Vec<FlowRecord>,
    ) -> (usize, Option<RecordError>) {
        let before = out.len();
        let err = self.walk(body, ctx, out, |_| {});
        (out.len() - before, err)
    }

    /// Decodes the options records of `body`; returns the facts of each.
    pub fn options(&self, body: &[u8], ctx: &Ctx) -> (Vec<OptionFacts>, Option<RecordError>) {
        let mut facts = Vec::new();
        let mut scratch = Vec::new();
        let err = self.walk(body, ctx, &mut scratch, |x| facts.push(x.option_facts()));
        (facts, err)
    }

    fn walk(
        &self,
        body: &[u8],
        ctx: &Ctx,
        out: &mut Vec<FlowRecord>,
        each: impl FnMut(&Extra),
    ) -> Option<RecordError> {
        let base = FlowRecord {
            sampling: ctx.sampling.default.max(1),
            ..FlowRecord::new(ctx.exporter, ctx.version, ctx.domain)
        };
        match &self.plan {
            Plan::Fixed { len, steps } => {
                walk_fixed(body, *len, steps, &base, ctx, out, each);
                None
            }
            Plan::Variable { min, fields } => {
                walk_variable(body, *min, fields, &base, ctx, out, each)
            }
        }
    }
}

/// The action of every field; v9 scope fields are skipped; a repeated action keeps its
/// first occurrence (like Wireshark's first-of rule for counters).
fn actions(specs: &[FieldSpec], skip_first: u16) -> Vec<Act> {
    let mut seen: Vec<Act> = Vec::new();
    let mut acts = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let mut act = if i < usize::from(skip_first) {
            Act::Skip
        } else {
            action(s.ie, s.pen, s.len)
        };
        if act != Act::Skip && seen.contains(&act) {
            act = Act::Skip;
        }
        seen.push(act);
        acts.push(act);
    }
    acts
}

fn plan(specs: &[FieldSpec], acts: &[Act]) -> Plan {
    if specs.iter().any(|s| s.len == VARLEN) {
        let fields = specs.iter().zip(acts).map(|(s, &a)| (s.len, a)).collect();
        let min = specs
            .iter()
            .map(|s| {
                if s.len == VARLEN {
                    1
                } else {
                    usize::from(s.len)
                }
            })
            .sum();
        return Plan::Variable { min, fields };
    }
    let mut steps = Steps::default();
    let mut at = 0usize;
    for (s, &act) in specs.iter().zip(acts) {
        let end = at + usize::from(s.len);
        if act != Act::Skip {
            steps.push(Step {
                start: at,
                end,
                read: read_for(act, s.len),
                act,
            });
        }
        at = end;
    }
    Plan::Fixed { len: at, steps }
}

/// Whole records of `len` bytes; a remainder shorter than one record is padding. Each
/// record is built in place at the end of `out`.
fn walk_fixed(
    body: &[u8],
    len: usize,
    steps: &Steps,
    base: &FlowRecord,
    ctx: &Ctx,
    out: &mut Vec<FlowRecord>,
    mut each: impl FnMut(&Extra),
) {
    let mut x = Extra::default();
    out.reserve(body.len() / len);
    for bytes in body.chunks_exact(len) {
        out.push(base.clone());
        let Some(rec) = out.last_mut() else {
            return;
        };
        steps.apply(rec, &mut x, bytes);
        x.finish(rec, ctx);
        each(&x);
    }
}

/// Records with variable-length fields, read field by field. Each record consumes at least
/// `min` (>= 1) bytes; a remainder below `min` is padding. A record that overruns the set
/// is removed again.
fn walk_variable(
    body: &[u8],
    min: usize,
    fields: &[(u16, Act)],
    base: &FlowRecord,
    ctx: &Ctx,
    out: &mut Vec<FlowRecord>,
    mut each: impl FnMut(&Extra),
) -> Option<RecordError> {
    let mut x = Extra::default();
    let mut at = 0usize;
    while body.len() - at >= min {
        let mut rec = base.clone();
        x.clear();
        let start = at;
        for &(len, act) in fields {
            let Some((value, next)) = field(body, at, len) else {
                return Some(RecordError::Overrun { offset: start });
            };
            apply(&mut rec, &mut x, act, value);
            at = next;
        }
        x.finish(&mut rec, ctx);
        out.push(rec);
        each(&x);
    }
    None
}

/// The value of one field at `at` and the offset after it; variable lengths use the
/// 1-byte form, or 255 then a 2-byte length (RFC 7011 7).
fn field(body: &[u8], at: usize, len: u16) -> Option<(&[u8], usize)> {
    let (at, len) = if len == VARLEN {
        let first = *body.get(at)?;
        if first < 255 {
            (at + 1, usize::from(first))
        } else {
            let two = body.get(at + 1..at + 3)?;
            (at + 3, usize::from(u16::from_be_bytes([two[0], two[1]])))
        }
    } else {
        (at, usize::from(len))
    };
    let value = body.get(at..at + len)?;
    Some((value, at + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ie: u16, len: u16) -> FieldSpec {
        FieldSpec { ie, len, pen: 0 }
    }

    #[test]
    fn record_length_zero_is_rejected_and_variable_fields_count_one_byte() {
        let zero = Template::compile(Kind::Data, 0, vec![spec(8, 0)], false, 300, 20);
        assert_eq!(
            zero,
            Err(TemplateError::ZeroLength {
                offset: 20,
                id: 300
            })
        );
        let var = Template::compile(Kind::Data, 0, vec![spec(82, VARLEN)], false, 300, 20);
        assert!(matches!(var.unwrap().plan, Plan::Variable { min: 1, .. }));
    }

    #[test]
    fn fixed_plan_skips_unknown_fields_and_repeats() {
        let specs = vec![spec(8, 4), spec(9999, 3), spec(8, 4), spec(12, 4)];
        let t = Template::compile(Kind::Data, 0, specs, false, 300, 0).unwrap();
        let Plan::Fixed { len, steps } = &t.plan else {
            panic!("fixed plan expected");
        };
        assert_eq!(*len, 15);
        let starts: Vec<_> = steps.other.iter().map(|s| (s.start, s.act)).collect();
        assert_eq!(starts, vec![(0, Act::Src), (11, Act::Dst)]);
    }

    #[test]
    fn v9_scope_fields_are_not_read_as_information_elements() {
        // Scope type 1 (system) would otherwise be IE 1 octetDeltaCount.
        let specs = vec![spec(1, 4), spec(34, 4)];
        let t = Template::compile(Kind::Options, 1, specs, true, 300, 0).unwrap();
        let Plan::Fixed { steps, .. } = &t.plan else {
            panic!("fixed plan expected");
        };
        assert_eq!(steps.u32s, vec![(4, Act::SamplingInterval)]);
    }
}
