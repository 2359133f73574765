//! Per-exporter state: templates keyed by (observation domain, template id), per-domain
//! sequence and sampling state, and data sets held until their template arrives.
//!
//! Invariants: at most `max_per_exporter` templates and `MAX_DOMAINS` domains per exporter;
//! held bytes (plus a fixed charge per set) never exceed `hold_bytes`, per exporter and in all.

use std::collections::{HashMap, VecDeque};

use super::counters::Counters;
use super::error::RecordError;
use super::fields::{Ctx, OptionFacts, Sampling, MAX_SAMPLERS};
use super::record::FlowRecord;
use super::template::{Kind, Template};
use super::Limits;

/// Most domains tracked per exporter; datagrams of further domains decode without state.
pub const MAX_DOMAINS: usize = 1024;

/// What every held set is charged beyond its bytes, so empty sets cannot pile up.
const HELD_OVERHEAD: usize = 64;

/// Sequence, uptime and sampling state of one (exporter, domain).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Domain {
    /// The sequence number the next message should carry; None until known.
    pub next_seq: Option<u32>,
    /// The sequence number of the last message (restart detection).
    pub last_seq: Option<u32>,
    /// The v9 sysUpTime of the last message (restart detection).
    pub last_uptime: Option<u32>,
    /// systemInitTimeMilliseconds (IE 160) from options records.
    pub init_ms: Option<i64>,
    pub sampling: Sampling,
}

/// A data set that arrived before its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub domain: u32,
    pub id: u16,
    pub export_ms: i64,
    /// The v9 header's boot time; IPFIX takes the domain's init time at release.
    pub boot_ms: Option<i64>,
    pub received_ms: i64,
    pub bytes: Vec<u8>,
}

/// The header facts every set of one message shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    pub exporter: std::net::IpAddr,
    pub version: u16,
    pub domain: u32,
    pub export_ms: i64,
    /// v9 only: export time minus sysUpTime.
    pub boot_ms: Option<i64>,
}

/// What decoding one datagram writes to: the records, the counters, and the time and
/// limits it runs under.
#[derive(Debug)]
pub struct Run<'a> {
    pub now_ms: i64,
    pub limits: &'a Limits,
    pub out: &'a mut Vec<FlowRecord>,
    pub c: &'a mut Counters,
    /// Held bytes over all exporters, bounded by `hold_bytes` too.
    pub held_total: &'a mut usize,
}

/// Everything known about one exporter.
#[derive(Debug, Clone, Default)]
pub struct Exporter {
    pub templates: HashMap<(u32, u16), Template>,
    pub domains: HashMap<u32, Domain>,
    pub held: VecDeque<Held>,
    pub held_bytes: usize,
    pub counters: Counters,
    pub last_seen: i64,
}

impl Exporter {
    /// The state of `domain`, created if there is room.
    pub fn domain(&mut self, domain: u32) -> Option<&mut Domain> {
        if !self.domains.contains_key(&domain) && self.domains.len() >= MAX_DOMAINS {
            return None;
        }
        Some(self.domains.entry(domain).or_default())
    }

    /// Decodes a data set for template `id`, or holds it when the template is unknown.
    /// Returns the records (data and options) the set held.
    pub fn data_set(&mut self, msg: &Msg, id: u16, body: &[u8], run: &mut Run) -> Option<usize> {
        let Some(t) = self.templates.get(&(msg.domain, id)) else {
            run.c.sets_no_template += 1;
            self.hold(msg, id, body, run);
            return None;
        };
        let default = Domain::default();
        let domain = self.domains.get(&msg.domain).unwrap_or(&default);
        let (n, facts, err) = decode_set(t, domain, msg, body, run.out, run.c);
        if let Some(e) = err {
            run.c.malformed(e.kind());
        }
        self.apply_facts(msg.domain, &facts);
        Some(n)
    }

    /// Defines (or redefines) a template, then decodes the sets held for it.
    pub fn define(&mut self, msg: &Msg, id: u16, mut t: Template, run: &mut Run) {
        let key = (msg.domain, id);
        let full = self.templates.len() >= run.limits.max_per_exporter;
        if full && !self.templates.contains_key(&key) {
            run.c.template_limit += 1;
            return;
        }
        t.learned_ms = run.now_ms;
        self.templates.insert(key, t);
        run.c.templates_defined += 1;
        self.release(msg, id, run);
    }

    /// Removes template `id` of `kind` in the message's domain, or all of that kind.
    pub fn withdraw(&mut self, domain: u32, id: Option<u16>, kind: Kind, c: &mut Counters) {
        let before = self.templates.len();
        match id {
            Some(id) => {
                self.templates.remove(&(domain, id));
            }
            None => self
                .templates
                .retain(|k, t| k.0 != domain || t.kind != kind),
        }
        c.templates_withdrawn += (before - self.templates.len()) as u64;
    }

    /// Drops restored templates of `domain` (the exporter restarted); true if any were.
    pub fn drop_restored(&mut self, domain: u32) -> bool {
        let before = self.templates.len();
        self.templates.retain(|k, t| k.0 != domain || !t.restored);
        before != self.templates.len()
    }

    /// Drops held sets older than `hold_time_ms`, counted as expired.
    pub fn expire_held(&mut self, now_ms: i64, limits: &Limits, c: &mut Counters) {
        while let Some(h) = self.held.front() {
            if now_ms.saturating_sub(h.received_ms) <= limits.hold_time_ms {
                break;
            }
            self.pop_held();
            c.held_sets_expired += 1;
        }
    }

    fn hold(&mut self, msg: &Msg, id: u16, body: &[u8], run: &mut Run) {
        let cost = body.len() + HELD_OVERHEAD;
        if cost > run.limits.hold_bytes {
            run.c.held_sets_dropped_space += 1;
            return;
        }
        // An exporter makes room from its own oldest sets only, so one that floods (or many
        // spoofed ones) cannot push out the data of another; past the total, new sets drop.
        let limit = run.limits.hold_bytes;
        loop {
            let over = self.held_bytes + cost > limit || *run.held_total + cost > limit;
            if !over {
                break;
            }
            let Some(freed) = self.pop_held_bytes() else {
                run.c.held_sets_dropped_space += 1;
                return;
            };
            *run.held_total = run.held_total.saturating_sub(freed);
            run.c.held_sets_dropped_space += 1;
        }

        self.held_bytes += cost;
        *run.held_total += cost;
        self.held.push_back(Held {
            domain: msg.domain,
            id,
            export_ms: msg.export_ms,
            boot_ms: msg.boot_ms,
            received_ms: run.now_ms,
            bytes: body.to_vec(),
        });
    }

    fn pop_held(&mut self) -> bool {
        self.pop_held_bytes().is_some()
    }

    /// Drops the oldest held set; the bytes it was charged.
    fn pop_held_bytes(&mut self) -> Option<usize> {
        let h = self.held.pop_front()?;
        let cost = h.bytes.len() + HELD_OVERHEAD;
        self.held_bytes -= cost;
        Some(cost)
    }

    /// Decodes, in arrival order, the held sets that template `id` now explains.
    fn release(&mut self, msg: &Msg, id: u16, run: &mut Run) {
        if !self
            .held
            .iter()
            .any(|h| h.domain == msg.domain && h.id == id)
        {
            return;
        }
        let (mine, rest): (VecDeque<Held>, VecDeque<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.domain == msg.domain && h.id == id);
        self.held = rest;

        for h in mine {
            self.held_bytes -= h.bytes.len() + HELD_OVERHEAD;
            *run.held_total = run.held_total.saturating_sub(h.bytes.len() + HELD_OVERHEAD);
            if run.now_ms.saturating_sub(h.received_ms) > run.limits.hold_time_ms {
                run.c.held_sets_expired += 1;
                continue;
            }
            let held_msg = Msg {
                export_ms: h.export_ms,
                boot_ms: h.boot_ms,
                ..*msg
            };
            let n = self.data_set(&held_msg, id, &h.bytes, run).unwrap_or(0);
            run.c.held_records_decoded += n as u64;
        }
    }

    fn apply_facts(&mut self, domain: u32, facts: &[OptionFacts]) {
        if facts.is_empty() {
            return;
        }
        let Some(d) = self.domain(domain) else {
            return;
        };
        for f in facts {
            if let Some(init) = f.init_ms {
                d.init_ms = Some(init);
            }
            match (f.sampler, f.rate) {
                (Some(id), Some(rate)) => set_sampler(&mut d.sampling, id, rate),
                (None, Some(rate)) => d.sampling.default = rate,
                _ => {}
            }
        }
    }
}

fn set_sampler(s: &mut Sampling, id: u64, rate: u32) {
    if s.samplers.len() < MAX_SAMPLERS || s.samplers.contains_key(&id) {
        s.samplers.insert(id, rate);
    }
}

/// Decodes one set by `t`: data records into `out` (counted), options records into facts.
fn decode_set(
    t: &Template,
    domain: &Domain,
    msg: &Msg,
    body: &[u8],
    out: &mut Vec<FlowRecord>,
    c: &mut Counters,
) -> (usize, Vec<OptionFacts>, Option<RecordError>) {
    let boot_ms = if msg.version == 9 {
        msg.boot_ms
    } else {
        domain.init_ms
    };
    let ctx = Ctx {
        exporter: msg.exporter,
        version: msg.version,
        domain: msg.domain,
        export_ms: msg.export_ms,
        boot_ms,
        sampling: &domain.sampling,
    };
    match t.kind {
        Kind::Data => {
            let before = out.len();
            let (n, err) = t.data(body, &ctx, out);
            let tail = out.get(before..).unwrap_or(&[]);
            c.records_no_address += tail.iter().filter(|r| !r.has_address()).count() as u64;
            c.records(msg.version, n as u64);
            (n, Vec::new(), err)
        }
        Kind::Options => {
            let (facts, err) = t.options(body, &ctx);
            c.options_records += facts.len() as u64;
            (facts.len(), facts, err)
        }
    }
}
