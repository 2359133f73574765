//! Flow decoding: NetFlow v5, NetFlow v9 and IPFIX datagrams into `FlowRecord`s.
//!
//! `Decoder` owns every exporter's state (templates, held data, counters). It never panics
//! on input: every bad datagram, set, template or record is a typed error that is counted,
//! and decoding keeps the records already found.

mod cache;
pub mod counters;
pub mod error;
mod fields;
pub mod ipfix;
mod persist;
pub mod record;
mod sets;
mod template;
pub mod v5;
pub mod v9;

#[cfg(test)]
mod testutil;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

pub use counters::Counters;
pub use record::{canonical, FlowRecord, UnixMillis};

use cache::{Exporter, Run};

/// Bounds on the state kept per exporter and in total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Templates (data and options, all domains) per exporter.
    pub max_per_exporter: usize,
    /// Exporters tracked; datagrams from further exporters are dropped and counted.
    pub max_exporters: usize,
    /// An exporter silent this long is forgotten by `expire`.
    pub idle_expiry_ms: i64,
    /// Bytes of data sets held per exporter while their template is unknown.
    pub hold_bytes: usize,
    /// How long a held data set waits for its template.
    pub hold_time_ms: i64,
    /// Restored templates learnt longer ago than this are not restored.
    pub max_restored_age_ms: i64,
}

impl Limits {
    pub fn from_config(t: &crate::config::Templates) -> Limits {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Limits {
            max_per_exporter: t.max_per_exporter,
            max_exporters: t.max_exporters,
            idle_expiry_ms: ms(t.idle_expiry),
            hold_bytes: t.hold_bytes,
            hold_time_ms: ms(t.hold_time),
            max_restored_age_ms: ms(t.max_restored_age),
        }
    }
}

impl Default for Limits {
    /// The defaults of the `[templates]` config section.
    fn default() -> Limits {
        Limits {
            max_per_exporter: 1024,
            max_exporters: 4096,
            idle_expiry_ms: 86_400_000,
            hold_bytes: 4 * 1024 * 1024,
            hold_time_ms: 300_000,
            max_restored_age_ms: 86_400_000,
        }
    }
}

/// Every exporter's templates, held data and counters.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    exporters: HashMap<IpAddr, Exporter>,
    totals: Counters,
    /// Bytes held (data before its template) over all exporters: `hold_bytes` bounds this
    /// total, so spoofed exporters cannot multiply it. Recounted at every `expire`.
    held_total: usize,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            exporters: HashMap::new(),
            totals: Counters::default(),
            held_total: 0,
        }
    }

    /// Decodes one UDP payload from `exporter` received at `now_ms`. Appends every data
    /// record decoded (including held records a template in this datagram released) to
    /// `out`; options records update sampling / init-time state and are not emitted.
    pub fn decode(
        &mut self,
        exporter: IpAddr,
        datagram: &[u8],
        now_ms: i64,
        out: &mut Vec<FlowRecord>,
    ) {
        let exporter = canonical(exporter);
        let mut c = Counters {
            datagrams: 1,
            ..Counters::default()
        };
        let Some(ex) = exporter_state(&mut self.exporters, &self.limits, exporter) else {
            c.exporter_limit += 1;
            self.totals.add(&c);
            return;
        };

        ex.last_seen = now_ms;
        let mut run = Run {
            now_ms,
            limits: &self.limits,
            out,
            c: &mut c,
            held_total: &mut self.held_total,
        };
        match sets::be16_at(datagram, 0) {
            Some(5) => v5::decode(ex, exporter, datagram, &mut run),
            Some(9) => v9::decode(ex, exporter, datagram, &mut run),
            Some(10) => ipfix::decode(ex, exporter, datagram, &mut run),
            Some(_) => run.c.unsupported_version += 1,
            None => run.c.malformed_header += 1,
        }

        ex.counters.add(&c);
        self.totals.add(&c);
    }

    /// Drops idle exporters and expired held data (counted).
    pub fn expire(&mut self, now_ms: i64) {
        let limits = self.limits.clone();
        let mut c = Counters::default();
        for ex in self.exporters.values_mut() {
            let mut mine = Counters::default();
            ex.expire_held(now_ms, &limits, &mut mine);
            ex.counters.add(&mine);
            c.add(&mine);
        }
        self.totals.add(&c);
        self.exporters
            .retain(|_, ex| now_ms.saturating_sub(ex.last_seen) <= limits.idle_expiry_ms);
        self.held_total = self.exporters.values().map(|ex| ex.held_bytes).sum();
    }

    /// Totals over all exporters (including exporters since expired).
    pub fn counters(&self) -> &Counters {
        &self.totals
    }

    /// Each tracked exporter with its own counters.
    pub fn exporters(&self) -> impl Iterator<Item = (IpAddr, &Counters)> {
        self.exporters.iter().map(|(a, ex)| (*a, &ex.counters))
    }

    /// Templates known over all exporters.
    pub fn templates_known(&self) -> usize {
        self.exporters.values().map(|ex| ex.templates.len()).sum()
    }

    /// Writes every exporter's templates and domain state to `path` atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        persist::save(&self.exporters, path)
    }

    /// Restores templates saved by `save`, skipping those older than `max_restored_age_ms`;
    /// returns how many (0 when there is no file yet). An unreadable file is an `Err` with
    /// the warning to log; the cache is then left as it was.
    pub fn restore(&mut self, path: &Path, now_ms: i64) -> Result<usize, String> {
        let limits = self.limits.clone();
        persist::restore(&mut self.exporters, &limits, path, now_ms)
    }
}

/// The state of `exporter`, created while there is room.
fn exporter_state<'a>(
    exporters: &'a mut HashMap<IpAddr, Exporter>,
    limits: &Limits,
    exporter: IpAddr,
) -> Option<&'a mut Exporter> {
    let full = exporters.len() >= limits.max_exporters;
    if full && !exporters.contains_key(&exporter) {
        return None;
    }
    Some(exporters.entry(exporter).or_default())
}

/// The units missing between the expected sequence number and `seq`, then the expectation
/// for the next message. The first message is no gap; going backwards resets.
fn sequence_gap(next: &mut Option<u32>, seq: u32, units: usize) -> u64 {
    let gap = match *next {
        Some(expected) => {
            let ahead = seq.wrapping_sub(expected);
            if ahead < 1 << 31 {
                u64::from(ahead)
            } else {
                0
            }
        }
        None => 0,
    };
    *next = Some(seq.wrapping_add(units as u32));
    gap
}

#[cfg(test)]
mod tests {
    use super::testutil::{counters, exporter, feed, ip, ipfix, set, template, v9, NOW};
    use super::*;

    /// Template 256 (IE 8, IE 12) and one record of it, as IPFIX sets.
    fn t256() -> Vec<u8> {
        set(2, &template(256, &[(8, 4), (12, 4)]))
    }

    fn d256() -> Vec<u8> {
        set(256, &[10, 0, 0, 1, 192, 0, 2, 1]) // IE 8, IE 12
    }

    #[test]
    fn other_versions_are_counted_as_unsupported() {
        let v1 = vec![0, 1, 0, 0, 0, 0, 0, 0];
        let sflow = vec![0, 0, 0, 5, 0, 0, 0, 1]; // sFlow v5: a 32-bit version
        let mut d = Decoder::new(Limits::default());
        let out = feed(&mut d, &[v1, sflow, vec![7]]);
        assert!(out.is_empty());
        let want = counters(3, |c| {
            c.unsupported_version = 2;
            c.malformed_header = 1;
        });
        assert_eq!(d.counters(), &want);
        assert_eq!(d.exporters().next(), Some((exporter(), &want)));
    }

    #[test]
    fn ipv4_mapped_exporters_are_made_canonical() {
        let mut d = Decoder::new(Limits::default());
        let mut out = Vec::new();
        let mapped: IpAddr = "::ffff:192.0.2.241".parse().unwrap();
        d.decode(mapped, &ipfix(0, 0, 1, &[t256(), d256()]), NOW, &mut out);
        assert_eq!(out[0].exporter, exporter());
        assert_eq!(
            d.exporters().map(|e| e.0).collect::<Vec<_>>(),
            vec![exporter()]
        );
    }

    #[test]
    fn exporters_beyond_the_limit_are_dropped_and_counted() {
        let mut d = Decoder::new(Limits {
            max_exporters: 1,
            ..Limits::default()
        });
        let mut out = Vec::new();
        let g = ipfix(0, 0, 1, &[t256(), d256()]);
        d.decode(exporter(), &g, NOW, &mut out);
        d.decode("192.0.2.99".parse().unwrap(), &g, NOW, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(d.counters().exporter_limit, 1);
        assert_eq!(d.counters().datagrams, 2);
    }

    #[test]
    fn idle_exporters_are_forgotten_but_totals_stay() {
        let mut d = Decoder::new(Limits::default());
        feed(&mut d, &[ipfix(0, 0, 1, &[t256()])]);
        d.expire(NOW + Limits::default().idle_expiry_ms);
        assert_eq!(d.templates_known(), 1);
        d.expire(NOW + Limits::default().idle_expiry_ms + 1);
        assert_eq!(d.templates_known(), 0);
        assert_eq!(d.counters().templates_defined, 1);
    }

    #[test]
    fn held_sets_are_dropped_oldest_first_for_space() {
        // Each held set costs its 8 bytes + 64: room for two in 150 bytes.
        let mut d = Decoder::new(Limits {
            hold_bytes: 150,
            ..Limits::default()
        });
        let data = |last: u8| ipfix(0, 0, 1, &[set(256, &[10, 0, 0, last, 192, 0, 2, 1])]);
        let mut out = feed(&mut d, &[data(1), data(2), data(3)]);
        out.extend(feed(&mut d, &[ipfix(0, 0, 1, &[t256()])]));
        let srcs: Vec<_> = out.iter().map(|r| r.src).collect();
        assert_eq!(srcs, vec![ip("10.0.0.2"), ip("10.0.0.3")]);
        let c = d.counters();
        assert_eq!((c.sets_no_template, c.held_sets_dropped_space), (3, 1));
        assert_eq!((c.held_records_decoded, c.records_ipfix), (2, 2));
    }

    #[test]
    fn held_sets_older_than_hold_time_expire_and_are_not_decoded() {
        let mut d = Decoder::new(Limits::default());
        let mut out = Vec::new();
        d.decode(exporter(), &ipfix(0, 0, 1, &[d256()]), NOW, &mut out);
        let late = NOW + Limits::default().hold_time_ms + 1;
        d.decode(exporter(), &ipfix(0, 0, 1, &[t256()]), late, &mut out);
        assert!(out.is_empty());
        assert_eq!(d.counters().held_sets_expired, 1);
    }

    #[test]
    fn templates_are_kept_apart_by_domain_and_exporter() {
        let mut d = Decoder::new(Limits::default());
        let mut out = Vec::new();
        d.decode(exporter(), &ipfix(0, 0, 1, &[t256()]), NOW, &mut out);
        d.decode(exporter(), &ipfix(0, 0, 2, &[d256()]), NOW, &mut out);
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        d.decode(other, &ipfix(0, 0, 1, &[d256()]), NOW, &mut out);
        assert!(out.is_empty());
        assert_eq!(d.counters().sets_no_template, 2);
        d.decode(exporter(), &ipfix(0, 0, 1, &[d256()]), NOW, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn v9_uptime_relative_times_use_the_header() {
        let t = set(0, &template(256, &[(8, 4), (22, 4)]));
        let data = set(256, &[10, 0, 0, 1, 0, 0, 0x03, 0xe8]); // start uptime 1000
        let mut d = Decoder::new(Limits::default());
        let out = feed(&mut d, &[v9(5000, 100, 0, &[t, data])]);
        assert_eq!(out[0].start, Some(100_000 - 5000 + 1000));
    }

    #[test]
    fn limits_from_config_convert_durations_to_ms() {
        let t = crate::config::Templates {
            max_per_exporter: 3,
            max_exporters: 4,
            idle_expiry: std::time::Duration::from_secs(60),
            hold_bytes: 5,
            hold_time: std::time::Duration::from_millis(1500),
            max_restored_age: std::time::Duration::from_secs(2),
        };
        let l = Limits::from_config(&t);
        assert_eq!(
            (l.max_per_exporter, l.max_exporters, l.hold_bytes),
            (3, 4, 5)
        );
        assert_eq!(
            (l.idle_expiry_ms, l.hold_time_ms, l.max_restored_age_ms),
            (60_000, 1500, 2000)
        );
    }
}
