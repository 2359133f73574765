//! The hit and repeat messages, field by field in the contract's order.
//!
//! `Provenance` keeps what the listings said (lists, refs, names) in a bounded form, so a
//! folded pair holds at most a few kilobytes however many pulses list its address.

use std::net::IpAddr;

use super::direction::Dir;
use super::message::{push_bare, push_decimal, Message, Plain, MAX_REFS, MESSAGE_MAX};
use super::proto::{has_ports, keyword, ProtoName};
use super::utc::push_millis_z;
use crate::flow::FlowRecord;
use crate::intel::Listing;

/// Names kept per listed address: more could never fit in one record.
const MAX_KEPT_NAMES: usize = 64;

/// Which side of the flow was listed: `match=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Src,
    Dst,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Src => "src",
            Side::Dst => "dst",
        }
    }
}

/// Why an address is listed, deduplicated and bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// `lists=` as written: encoded source names, comma-separated, `-` when none.
    pub lists: String,
    pub refs: Vec<Box<str>>,
    pub refs_total: usize,
    pub names: Vec<Box<str>>,
    pub names_total: usize,
}

impl Provenance {
    pub fn from_listings(listings: &[Listing<'_>]) -> Provenance {
        let mut sources: Vec<&str> = Vec::new();
        let mut refs: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for listing in listings {
            push_unique(&mut sources, listing.source);
            if let Some(url) = listing.url {
                push_unique(&mut refs, url);
            }
            push_unique(&mut names, listing.comment);
        }

        Provenance {
            lists: join_bare(&sources),
            refs_total: refs.len(),
            refs: refs.iter().take(MAX_REFS).map(|r| Box::from(*r)).collect(),
            names_total: names.len(),
            names: names.iter().take(MAX_KEPT_NAMES).map(|n| kept(n)).collect(),
        }
    }

    fn refs(&self) -> Vec<&str> {
        self.refs.iter().map(|r| &**r).collect()
    }

    fn names(&self) -> Vec<&str> {
        self.names.iter().map(|n| &**n).collect()
    }
}

fn push_unique<'a>(items: &mut Vec<&'a str>, item: &'a str) {
    if !item.is_empty() && !items.contains(&item) {
        items.push(item);
    }
}

fn join_bare(items: &[&str]) -> String {
    let mut joined = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            joined.push(',');
        }
        push_bare(&mut joined, item);
    }
    if joined.is_empty() {
        joined.push('-');
    }
    joined
}

/// A name cut to what one record could show, at a character boundary, with `...` when it
/// was cut: non-ASCII shrinks to one `?` each, so a cut name may still fit whole and must
/// not then pass for the entire name.
fn kept(name: &str) -> Box<str> {
    if name.len() <= MESSAGE_MAX {
        return Box::from(name);
    }
    let mut end = MESSAGE_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &name[..end]).into_boxed_str()
}

/// One listed end of one flow.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'f> {
    pub flow: &'f FlowRecord,
    pub side: Side,
    pub listed: IpAddr,
    pub dir: Dir,
    /// The flow's start, or the record time when it has none (ms).
    pub time_ms: i64,
}

/// `src=... names="..."` for a hit.
pub fn hit_message(hit: &Hit<'_>, provenance: &Provenance) -> String {
    let flow = hit.flow;
    let ports = has_ports(flow.protocol);
    let mut m = Message::new();
    m.plain("src", Addr(flow.src))
        .plain("sport", if ports { flow.src_port } else { 0 })
        .plain("dst", Addr(flow.dst))
        .plain("dport", if ports { flow.dst_port } else { 0 })
        .plain("proto", ProtoName(flow.protocol))
        .plain("dir", hit.dir.as_str())
        .plain("match", hit.side.as_str())
        .plain("listed", hit.listed)
        .plain("lists", &provenance.lists);

    let mut tail = Message::new();
    tail.plain("start", MillisZ(hit.time_ms))
        .plain("exporter", flow.exporter)
        .plain("sampling", flow.sampling)
        .plain("packets", flow.packets)
        .plain("bytes", flow.octets);
    let tail = tail.finish();

    m.refs(&provenance.refs(), provenance.refs_total, tail.len() + 1);
    m.join(&tail);
    m.names(&provenance.names(), provenance.names_total);
    m.finish()
}

/// What a repeat record summarises: the first flow's ends, and totals over the window.
#[derive(Debug, Clone)]
pub struct Summary {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub protocol: u8,
    pub dir: Dir,
    pub side: Side,
    pub listed: IpAddr,
    pub provenance: Provenance,
    pub peers: u64,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Summary {
    /// A summary holding only `hit`'s flow.
    pub fn start(hit: &Hit<'_>, provenance: Provenance) -> Summary {
        Summary {
            src: hit.flow.src,
            dst: hit.flow.dst,
            protocol: hit.flow.protocol,
            dir: hit.dir,
            side: hit.side,
            listed: hit.listed,
            provenance,
            peers: 1,
            flows: 1,
            packets: hit.flow.packets,
            bytes: hit.flow.octets,
            first_ms: hit.time_ms,
            last_ms: hit.time_ms,
        }
    }

    pub fn add(&mut self, hit: &Hit<'_>) {
        self.flows += 1;
        self.packets = self.packets.saturating_add(hit.flow.packets);
        self.bytes = self.bytes.saturating_add(hit.flow.octets);
        self.first_ms = self.first_ms.min(hit.time_ms);
        self.last_ms = self.last_ms.max(hit.time_ms);
    }
}

/// `src=... names="..."` for a repeat.
pub fn repeat_message(summary: &Summary) -> String {
    let p = &summary.provenance;
    let mut m = Message::new();
    m.plain("src", Addr(summary.src))
        .plain("dst", Addr(summary.dst))
        .plain("proto", ProtoName(summary.protocol))
        .plain("dir", summary.dir.as_str())
        .plain("match", summary.side.as_str())
        .plain("listed", summary.listed)
        .plain("lists", &p.lists)
        .plain("peers", summary.peers)
        .plain("flows", summary.flows)
        .plain("packets", summary.packets)
        .plain("bytes", summary.bytes)
        .plain("first", MillisZ(summary.first_ms))
        .plain("last", MillisZ(summary.last_ms))
        .names(&p.names(), p.names_total);
    m.finish()
}

/// An address as records show it: canonical, `-` when the flow had none.
struct Addr(Option<IpAddr>);

impl Plain for Addr {
    fn push_to(&self, out: &mut String) {
        match self.0 {
            Some(addr) => crate::flow::canonical(addr).push_to(out),
            None => out.push('-'),
        }
    }
}

/// A time in the message form, `2026-12-03T19:46:40.120Z`.
struct MillisZ(i64);

impl Plain for MillisZ {
    fn push_to(&self, out: &mut String) {
        push_millis_z(out, self.0);
    }
}

impl Plain for ProtoName {
    fn push_to(&self, out: &mut String) {
        match keyword(self.0) {
            Some(name) => out.push_str(name),
            None => push_decimal(out, u64::from(self.0)),
        }
    }
}
