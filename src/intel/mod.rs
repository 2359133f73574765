//! Threat intelligence: the sources (text lists, the OTX cache) and the frozen prefix set
//! built from them.
//!
//! Sources are parsed into `Source` values; `build::build` turns all of them into one
//! read-only `set::IndicatorSet`. A reload builds a new set and swaps it in whole.

use ipnet::IpNet;

/// One network named by a source, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub net: IpNet,
    /// The entry as the source wrote it ("1.10.16.0/20", "5.6.7.8-5.6.7.20").
    pub entry: Box<str>,
    /// Free text that explains the entry: a Spamhaus SBL id, an OTX pulse name.
    pub comment: Box<str>,
    /// A link about this entry (an OTX pulse URL, a Zeek meta.url); the source's `ref`
    /// applies when this is `None`.
    pub url: Option<Box<str>>,
}

/// A line a parser could not use, kept for the load summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: usize,
    pub reason: String,
}

/// Everything one source contributed to a build.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `[a-z0-9._-]{1,32}`; "otx" for the OTX cache.
    pub name: String,
    /// The list's `ref` URL from the configuration, if any.
    pub ref_url: Option<String>,
    pub indicators: Vec<Indicator>,
    pub problems: Vec<LineProblem>,
    /// When the data was produced or fetched (file mtime, OTX sync time), ms since the epoch.
    pub data_time: Option<i64>,
}

/// One source's reason for listing an address, as a lookup returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing<'a> {
    /// The source's name: the list name, or "otx".
    pub source: &'a str,
    pub entry: Entry<'a>,
    pub comment: &'a str,
    /// The entry's own link, or else the source's `ref`.
    pub url: Option<&'a str>,
}

/// An entry as its source wrote it. Most entries are an address or a prefix in its usual
/// form, which the set rebuilds from the address looked up instead of storing the text, so a
/// listing reads no text; the rest keep their text as written.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    Written(&'a str),
    /// Written as this address, in the form `Display` gives.
    Addr(std::net::IpAddr),
    /// Written as this prefix, in the form `Display` gives.
    Net(IpNet),
}

impl std::fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Written(text) => f.write_str(text),
            Entry::Addr(addr) => addr.fmt(f),
            Entry::Net(net) => net.fmt(f),
        }
    }
}

/// Entries are equal when they read the same: `Written("192.0.2.1")` equals `Addr(192.0.2.1)`.
impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Entry<'_>) -> bool {
        match (self, other) {
            (Entry::Written(a), Entry::Written(b)) => a == b,
            (Entry::Addr(a), Entry::Addr(b)) => a == b,
            (Entry::Net(a), Entry::Net(b)) => a == b,
            _ => self.to_string() == other.to_string(),
        }
    }
}

impl Eq for Entry<'_> {}

impl<'a> From<&'a str> for Entry<'a> {
    fn from(text: &'a str) -> Entry<'a> {
        Entry::Written(text)
    }
}

pub mod build;
pub mod otx;
pub mod set;
pub mod textlist;
pub mod update;

/// Anything that can say which sources list an address: the frozen `set::IndicatorSet`, or a
/// naive list in tests. Alerting is written against this, not against one structure.
pub trait Indicators {
    /// Appends every listing that covers `addr` to `out` (IPv4-mapped IPv6 is looked up as
    /// IPv4) and says whether there was any. Must be fast when there is none.
    fn listings<'a>(&'a self, addr: std::net::IpAddr, out: &mut Vec<Listing<'a>>) -> bool;
}
