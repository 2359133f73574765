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
    pub entry: &'a str,
    pub comment: &'a str,
    /// The entry's own link, or else the source's `ref`.
    pub url: Option<&'a str>,
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
