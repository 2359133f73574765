//! Templates compiled once into a flat plan, and the walk of a data set by that plan.
//!
//! Invariant: a compiled template's record length (fixed) or minimum length (with
//! variable-length fields) is at least 1, so every record loop consumes bytes and ends.
//! The fixed-length walk reads each field through a checked slice of its record.

use super::error::{RecordError, TemplateError};
use super::fields::{action, apply, Acc, Act, Ctx, OptionFacts, VARLEN};
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
    act: Act,
}

/// How to walk a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Every field has a fixed length: records are `len` bytes, fields at fixed offsets.
    Fixed { len: usize, steps: Vec<Step> },
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

impl Template {
    /// Compiles `specs`. `v9_scope` marks v9 options scope fields, whose types are not IEs.
    /// Rejects templates whose records would be 0 bytes long.
    pub fn compile(
        kind: Kind,
        scope_count: u16,
        specs: Vec<FieldSpec>,
        v9_scope: bool,
        id: u16,
        offset: usize,
    ) -> Result<Template, TemplateError> {
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

    /// The shortest record: below this, what is left of a set is padding.
    pub fn min_len(&self) -> usize {
        match &self.plan {
            Plan::Fixed { len, .. } => *len,
            Plan::Variable { min, .. } => *min,
        }
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
        let err = self.walk(body, ctx, |acc| out.push(acc.finish(ctx)));
        (out.len() - before, err)
    }

    /// Decodes the options records of `body`; returns the facts of each.
    pub fn options(&self, body: &[u8], ctx: &Ctx) -> (Vec<OptionFacts>, Option<RecordError>) {
        let mut facts = Vec::new();
        let err = self.walk(body, ctx, |acc| facts.push(acc.option_facts()));
        (facts, err)
    }

    fn walk(&self, body: &[u8], ctx: &Ctx, each: impl FnMut(Acc)) -> Option<RecordError> {
        match &self.plan {
            Plan::Fixed { len, steps } => {
                walk_fixed(body, *len, steps, ctx, each);
                None
            }
            Plan::Variable { min, fields } => walk_variable(body, *min, fields, ctx, each),
        }
    }
}

/// The action of every field; v9 scope fields are skipped; a repeated action keeps its
/// first occurrence (like Wireshark's first-of rule for counters), except addresses: IPv4
/// and IPv6 fields share an action and `fields::apply` keeps the first specified one.
fn actions(specs: &[FieldSpec], skip_first: u16) -> Vec<Act> {
    let mut seen: Vec<Act> = Vec::new();
    let mut acts = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let mut act = if i < usize::from(skip_first) {
            Act::Skip
        } else {
            action(s.ie, s.pen, s.len)
        };
        let address = matches!(act, Act::Src | Act::Dst | Act::NatSrc | Act::NatDst);
        if act != Act::Skip && !address && seen.contains(&act) {
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
    let mut steps = Vec::new();
    let mut at = 0usize;
    for (s, &act) in specs.iter().zip(acts) {
        let end = at + usize::from(s.len);
        if act != Act::Skip {
            steps.push(Step {
                start: at,
                end,
                act,
            });
        }
        at = end;
    }
    Plan::Fixed { len: at, steps }
}

/// Whole records of `len` bytes; a remainder shorter than one record is padding.
fn walk_fixed(body: &[u8], len: usize, steps: &[Step], ctx: &Ctx, mut each: impl FnMut(Acc)) {
    for rec in body.chunks_exact(len) {
        let mut acc = Acc::new(ctx);
        for s in steps {
            if let Some(b) = rec.get(s.start..s.end) {
                apply(&mut acc, s.act, b);
            }
        }
        each(acc);
    }
}

/// Records with variable-length fields, read field by field. Each record consumes at least
/// `min` (>= 1) bytes; a remainder below `min` is padding.
fn walk_variable(
    body: &[u8],
    min: usize,
    fields: &[(u16, Act)],
    ctx: &Ctx,
    mut each: impl FnMut(Acc),
) -> Option<RecordError> {
    let mut at = 0usize;
    while body.len() - at >= min {
        let mut acc = Acc::new(ctx);
        let start = at;
        for &(len, act) in fields {
            let Some((value, next)) = field(body, at, len) else {
                return Some(RecordError::Overrun { offset: start });
            };
            apply(&mut acc, act, value);
            at = next;
        }
        each(acc);
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
