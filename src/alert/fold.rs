//! The alerter: looks flows up, writes the first hit of each pair at once and folds the rest.
//!
//! A pair is (listed address, other address, dir). Its window opens with its first hit and
//! lasts `repeat-window`; when it closes, a `repeat` record sums every flow of the window
//! (the first included) if there was more than one. A listed address that meets more than
//! `max-peers` new peers in its own window folds the further peers into one sweep `repeat`
//! with `peers=N`. The table holds at most `table_cap` pairs: a new pair beyond it closes the
//! oldest window early (its repeat record is written then), so no count is lost.

use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};
use ipnet::IpNet;

use super::deadlines::{Deadline, Deadlines};
use super::direction::{direction, Dir};
use super::record::{hit_message, repeat_message, Hit, Provenance, Side, Summary};
use super::{Event, Kind, Severity};
use crate::config::Alerts;
use crate::flow::{canonical, FlowRecord};
use crate::intel::{Indicators, Listing};

/// Pairs the folding table holds by default (each a few hundred bytes).
pub const TABLE_CAP: usize = 100_000;

/// What the alerter did, since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertCounters {
    /// Listed ends of flows: one flow with both ends listed is two hits.
    pub hits: u64,
    /// Hit records written.
    pub hit_records: u64,
    /// Hits counted into a pair's or a sweep's window instead of written.
    pub repeats_folded: u64,
    /// Repeat records written.
    pub repeat_records: u64,
    /// Hit and repeat records over `max-records-per-second`, counted and not written.
    pub records_capped: u64,
    /// Windows closed early because the table was full.
    pub pairs_evicted: u64,
}

impl AlertCounters {
    /// Every counter with its stats-line name.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("hits", self.hits),
            ("hit-records", self.hit_records),
            ("repeats-folded", self.repeats_folded),
            ("repeat-records", self.repeat_records),
            ("records-capped", self.records_capped),
            ("pairs-evicted", self.pairs_evicted),
        ]
        .into_iter()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PairKey {
    listed: IpAddr,
    other: Option<IpAddr>,
    dir: Dir,
}

struct Pair {
    deadline: Deadline,
    /// `None` for a peer folded into its listed address's sweep.
    summary: Option<Box<Summary>>,
    /// The `Alerter::set_generation` whose sources the summary names.
    generation: u64,
}

struct Listed {
    deadline: Deadline,
    /// New peers met in this window, swept ones included.
    peers: usize,
    sweep: Option<Box<Summary>>,
}

/// Turns flows into hit and repeat records; see the module documentation.
pub struct Alerter {
    window_us: i64,
    /// 0: no cap.
    max_peers: usize,
    /// 0: no cap.
    max_per_second: u32,
    table_cap: usize,
    home: Vec<IpNet>,
    /// Keyed by addresses from the network, so hashed with a seed of this process's own.
    pairs: HashMap<PairKey, Pair>,
    /// Kept only when `max_peers` is set.
    listed: HashMap<IpAddr, Listed>,
    pair_deadlines: Deadlines<PairKey>,
    listed_deadlines: Deadlines<IpAddr>,
    sequence: u64,
    /// Counts `new_set` calls: a window opened under an older set checks, at its next flow,
    /// whether the sources it names are still the ones that list its address.
    set_generation: u64,
    /// The earliest deadline, `i64::MAX` when none: checked on every flow.
    next_due: i64,
    rate_second: i64,
    rate_count: u32,
    counters: AlertCounters,
}

impl Alerter {
    pub fn new(settings: &Alerts, home: &[IpNet]) -> Alerter {
        let window = i64::try_from(settings.repeat_window.as_micros()).unwrap_or(i64::MAX);
        Alerter {
            window_us: window,
            max_peers: settings.max_peers,
            max_per_second: settings.max_records_per_second,
            table_cap: TABLE_CAP,
            home: home.to_vec(),
            pairs: HashMap::new(),
            listed: HashMap::new(),
            pair_deadlines: Deadlines::new(),
            listed_deadlines: Deadlines::new(),
            sequence: 0,
            set_generation: 0,
            next_due: i64::MAX,
            rate_second: i64::MIN,
            rate_count: 0,
            counters: AlertCounters::default(),
        }
    }

    /// The same alerter with a smaller or larger table (at least one pair).
    pub fn with_table_cap(mut self, cap: usize) -> Alerter {
        self.table_cap = cap.max(1);
        self
    }

    /// Looks up src, dst and any NAT addresses; writes hit records (and repeat records that
    /// a closed window or a full table forces) to `out`. `now_us` is the record time.
    pub fn on_flow(
        &mut self,
        flow: &FlowRecord,
        set: &dyn Indicators,
        now_us: i64,
        out: &mut Vec<Event>,
    ) {
        if now_us >= self.next_due {
            self.tick(now_us, out);
        }

        let ends = [
            (Side::Src, flow.src, flow.nat_src),
            (Side::Dst, flow.dst, flow.nat_dst),
        ];
        for (side, address, nat) in ends {
            let mut listings = Vec::new();
            let Some(listed) = lookup(set, address, nat, &mut listings) else {
                continue;
            };
            self.counters.hits += 1;
            let hit = Hit {
                flow,
                side,
                listed,
                dir: direction(flow, &self.home),
                time_ms: flow.start.unwrap_or(now_us.div_euclid(1000)),
            };
            self.on_hit(&hit, &listings, now_us, out);
        }
    }

    /// The indicator set was replaced (a reload that kept the alert settings). Open windows
    /// stay open; the next flow of one whose address the new set names differently (other
    /// lists, links or names: what its records would say) closes it and is written as a
    /// new hit that says so. A sweep keeps what it started with until its window ends.
    pub fn new_set(&mut self) {
        self.set_generation += 1;
    }

    /// Closes windows that ended by `now_us`, writing their repeat records.
    pub fn tick(&mut self, now_us: i64, out: &mut Vec<Event>) {
        self.close_until(now_us, now_us, out);
    }

    /// Closes every open window (at shutdown, or at the end of a replay).
    pub fn flush(&mut self, now_us: i64, out: &mut Vec<Event>) {
        self.close_until(i64::MAX, now_us, out);
    }

    pub fn next_deadline(&self) -> Option<i64> {
        (self.next_due != i64::MAX).then_some(self.next_due)
    }

    pub fn counters(&self) -> &AlertCounters {
        &self.counters
    }

    /// Pairs in the folding table, swept peers included.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    fn on_hit(
        &mut self,
        hit: &Hit<'_>,
        listings: &[Listing<'_>],
        now_us: i64,
        out: &mut Vec<Event>,
    ) {
        let key = pair_key(hit);
        let mut reopened = false;
        if let Some(pair) = self.pairs.get_mut(&key) {
            if !sources_changed(pair, self.set_generation, listings) {
                self.counters.repeats_folded += 1;
                match pair.summary.as_mut() {
                    Some(summary) => summary.add(hit),
                    None => {
                        let listed = self.listed.get_mut(&key.listed);
                        if let Some(sweep) = listed.and_then(|l| l.sweep.as_mut()) {
                            sweep.add(hit);
                        }
                    }
                }
                return;
            }
            // The old window's flows are summed; this flow opens a new one below. Its end
            // stays queued and is passed over when it falls due.
            if let Some(pair) = self.pairs.remove(&key) {
                if let Some(summary) = pair.summary.filter(|s| s.flows > 1) {
                    self.write_repeat(&summary, now_us, out);
                }
            }
            reopened = true;
        }

        self.make_room(now_us, out);
        let deadline = self.new_deadline(now_us.saturating_add(self.window_us));
        // A reopened window's peer was counted when it first opened.
        if !reopened && self.count_new_peer(hit.listed, deadline) {
            self.sweep(key, hit, listings);
        } else {
            let provenance = Provenance::from_listings(listings);
            self.write_hit(hit, &provenance, now_us, out);
            let summary = Some(Box::new(Summary::start(hit, provenance)));
            let generation = self.set_generation;
            self.pairs.insert(
                key,
                Pair {
                    deadline,
                    summary,
                    generation,
                },
            );
            self.pair_deadlines.insert(deadline, key);
        }
        self.next_due = self.next_due.min(deadline.0);
    }

    /// Counts a new peer of `listed`, opening its window (ending at `deadline`) if none is
    /// open; true when the peer is past `max-peers` and belongs to the sweep. Without
    /// `max-peers` nothing is counted.
    fn count_new_peer(&mut self, listed: IpAddr, deadline: Deadline) -> bool {
        if self.max_peers == 0 {
            return false;
        }
        let state = self.listed.entry(listed).or_insert_with(|| Listed {
            deadline,
            peers: 0,
            sweep: None,
        });
        if state.peers == 0 {
            self.listed_deadlines.insert(deadline, listed);
        }
        state.peers += 1;
        state.peers > self.max_peers
    }

    /// A new peer of a listed address past `max-peers`: counted into the sweep, which ends
    /// with the listed address's window.
    fn sweep(&mut self, key: PairKey, hit: &Hit<'_>, listings: &[Listing<'_>]) {
        self.counters.repeats_folded += 1;
        let Some(listed) = self.listed.get_mut(&hit.listed) else {
            return;
        };
        match listed.sweep.as_mut() {
            Some(sweep) => {
                sweep.peers += 1;
                sweep.add(hit);
            }
            None => {
                let provenance = Provenance::from_listings(listings);
                listed.sweep = Some(Box::new(Summary::start(hit, provenance)));
            }
        }
        let end = listed.deadline.0;
        let deadline = self.new_deadline(end);
        self.pairs.insert(
            key,
            Pair {
                deadline,
                summary: None,
                generation: self.set_generation,
            },
        );
        self.pair_deadlines.insert(deadline, key);
    }

    fn write_hit(&mut self, hit: &Hit<'_>, p: &Provenance, now_us: i64, out: &mut Vec<Event>) {
        if !self.admit(now_us) {
            return;
        }
        let severity: Severity = if hit.dir == Dir::Out { 4 } else { 5 };
        out.push(Event {
            time_us: now_us,
            kind: Kind::Hit,
            severity,
            message: hit_message(hit, p),
        });
        self.counters.hit_records += 1;
    }

    fn write_repeat(&mut self, summary: &Summary, now_us: i64, out: &mut Vec<Event>) {
        if !self.admit(now_us) {
            return;
        }
        out.push(Event {
            time_us: now_us,
            kind: Kind::Repeat,
            severity: 6,
            message: repeat_message(summary),
        });
        self.counters.repeat_records += 1;
    }

    /// Whether one more record fits in this second's `max-records-per-second`.
    fn admit(&mut self, now_us: i64) -> bool {
        let second = now_us.div_euclid(1_000_000);
        if second != self.rate_second {
            self.rate_second = second;
            self.rate_count = 0;
        }
        if self.max_per_second != 0 && self.rate_count >= self.max_per_second {
            self.counters.records_capped += 1;
            return false;
        }
        self.rate_count += 1;
        true
    }

    /// Closes the windows ending by `limit`, pairs before their listed addresses' sweeps.
    fn close_until(&mut self, limit: i64, now_us: i64, out: &mut Vec<Event>) {
        while let Some((deadline, key)) = self.pair_deadlines.first() {
            if deadline.0 > limit {
                break;
            }
            self.close_pair(key, deadline, now_us, out);
        }
        while let Some((deadline, listed)) = self.listed_deadlines.first() {
            if deadline.0 > limit {
                break;
            }
            self.close_listed(listed, deadline, now_us, out);
        }
        self.update_next_due();
    }

    /// Closes the window of `key` that ends at `deadline`, the first of `pair_deadlines`;
    /// false when that window was closed before (its pair gone, or a new window open).
    fn close_pair(
        &mut self,
        key: PairKey,
        deadline: Deadline,
        now: i64,
        out: &mut Vec<Event>,
    ) -> bool {
        self.pair_deadlines.remove_first(deadline);
        if !self.pairs.get(&key).is_some_and(|p| p.deadline == deadline) {
            return false;
        }
        let Some(pair) = self.pairs.remove(&key) else {
            return false;
        };
        if let Some(summary) = pair.summary.filter(|s| s.flows > 1) {
            self.write_repeat(&summary, now, out);
        }
        true
    }

    /// Closes the window of `listed` that ends at `deadline`, the first of
    /// `listed_deadlines`.
    fn close_listed(&mut self, listed: IpAddr, deadline: Deadline, now: i64, out: &mut Vec<Event>) {
        self.listed_deadlines.remove_first(deadline);
        if !self
            .listed
            .get(&listed)
            .is_some_and(|l| l.deadline == deadline)
        {
            return;
        }
        let Some(state) = self.listed.remove(&listed) else {
            return;
        };
        if let Some(sweep) = state.sweep {
            self.write_repeat(&sweep, now, out);
        }
    }

    /// Closes the oldest windows until a new pair fits.
    fn make_room(&mut self, now_us: i64, out: &mut Vec<Event>) {
        while self.pairs.len() >= self.table_cap {
            let Some((deadline, key)) = self.pair_deadlines.first() else {
                return;
            };
            if self.close_pair(key, deadline, now_us, out) {
                self.counters.pairs_evicted += 1;
            }
        }
    }

    fn new_deadline(&mut self, end: i64) -> Deadline {
        self.sequence += 1;
        (end, self.sequence)
    }

    fn update_next_due(&mut self) {
        let pair = self.pair_deadlines.first().map(|(d, _)| d.0);
        let listed = self.listed_deadlines.first().map(|(d, _)| d.0);
        self.next_due = pair.into_iter().chain(listed).min().unwrap_or(i64::MAX);
    }
}

/// Whether `pair`'s window was opened under an older set than `generation` and its records
/// would say other things (lists, links, names) than `listings`, the current set's. A
/// window found unchanged is marked as checked, so each is compared once a set.
fn sources_changed(pair: &mut Pair, generation: u64, listings: &[Listing<'_>]) -> bool {
    if pair.generation == generation {
        return false;
    }
    pair.generation = generation;
    pair.summary
        .as_ref()
        .is_some_and(|summary| summary.provenance != Provenance::from_listings(listings))
}

/// (listed address, the other end's address, dir): replies fold into their requests.
fn pair_key(hit: &Hit<'_>) -> PairKey {
    let flow = hit.flow;
    let other = match hit.side {
        Side::Src => flow.dst.or(flow.nat_dst),
        Side::Dst => flow.src.or(flow.nat_src),
    };
    PairKey {
        listed: hit.listed,
        other: other.map(canonical),
        dir: hit.dir,
    }
}

/// The listed address of one end: the address as exported, else its post-NAT one.
fn lookup<'a>(
    set: &'a dyn Indicators,
    address: Option<IpAddr>,
    nat: Option<IpAddr>,
    listings: &mut Vec<Listing<'a>>,
) -> Option<IpAddr> {
    let address = address.map(canonical);
    let nat = nat.map(canonical).filter(|n| Some(*n) != address);
    [address, nat]
        .into_iter()
        .flatten()
        .find(|&candidate| set.listings(candidate, listings))
}
