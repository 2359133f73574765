//! A DNSBL hit: the flow that was waiting and the zone's verdict, owned, so it outlives the
//! query. It answers `Indicators` for the listed address only, which lets the alerter write
//! the ordinary `hit` record from it.

use std::net::IpAddr;

use crate::flow::{canonical, FlowRecord};
use crate::intel::{Entry, Indicators, Listing};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsblHit {
    pub flow: FlowRecord,
    /// The address the zone lists (canonical: IPv4-mapped IPv6 as IPv4).
    pub address: IpAddr,
    /// The zone's `name`: what `lists=` shows.
    pub list: String,
    /// The address as asked, for the listing's entry.
    pub entry: String,
    /// The return codes and their labels: `127.0.0.2 SBL | 127.0.0.4 XBL`.
    pub names: String,
    /// The URL from the TXT answer, when the zone asks for one and got it.
    pub refs: Option<String>,
}

impl Indicators for DnsblHit {
    fn listings<'a>(&'a self, addr: IpAddr, out: &mut Vec<Listing<'a>>) -> bool {
        if canonical(addr) != self.address {
            return false;
        }
        out.push(Listing {
            source: &self.list,
            entry: Entry::Written(&self.entry),
            comment: &self.names,
            url: self.refs.as_deref(),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_address_has_a_listing() {
        let exporter = IpAddr::from([192, 0, 2, 241]);
        let hit = DnsblHit {
            flow: FlowRecord::new(exporter, 10, 0),
            address: IpAddr::from([203, 0, 113, 9]),
            list: "zen".into(),
            entry: "203.0.113.9".into(),
            names: "127.0.0.2 SBL".into(),
            refs: None,
        };
        let mut out = Vec::new();
        assert!(!hit.listings(IpAddr::from([192, 0, 2, 10]), &mut out));
        assert!(out.is_empty());

        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert!(hit.listings(mapped, &mut out));
        let listing = Listing {
            source: "zen",
            entry: "203.0.113.9".into(),
            comment: "127.0.0.2 SBL",
            url: None,
        };
        assert_eq!(out, [listing]);
    }
}
