//! DNSBL lookups (RFC 5782) from the event loop, for remote addresses no static list matched.
//!
//! One non-blocking UDP socket, connected to the configured resolver, in the loop's `Poll`.
//! Nothing here waits: a lookup is answered from the cache, joins a pending query, is sent,
//! or is skipped and counted (zone down, pending table full, rate or daily cap spent).
//! Timeouts, the one retry and the self-tests run from `tick`, at `next_deadline`. Memory
//! is bounded by `cache-size`, `max-pending` and `MAX_FLOWS_PER_QUERY`. A zone's DQS key is
//! only ever sent to the resolver: logs and records show the masked zone.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_proto::rr::RecordType;
use mio::net::UdpSocket;

use crate::alert::Event;
use crate::flow::{canonical, FlowRecord};

mod budget;
mod cache;
mod counters;
mod hit;
mod pending;
mod random;
mod selftest;
mod status;
pub mod wire;
mod zone;

pub use counters::DnsblCounters;
pub use hit::DnsblHit;

use budget::{Budget, Refusal};
use cache::{Cache, Key};
use pending::{Pending, Purpose, Query};
use random::Rng;
use selftest::{test_address, test_outcome};
use wire::{Answer, Question};
use zone::{Outcome, Reading, Zone, ZoneState};

/// Flows kept per pending query; more for the same address are counted and dropped.
pub const MAX_FLOWS_PER_QUERY: usize = 32;
/// Receive errors in a row after which a readable event stops draining.
const MAX_RECEIVE_ERRORS: usize = 16;
/// Larger than any answer to a query without EDNS (512 bytes).
const RECEIVE_BUFFER: usize = 4096;

/// What the cache remembers per (zone, address).
#[derive(Debug, Clone)]
enum Cached {
    Listed { names: String, refs: Option<String> },
    NotListed,
    Failed,
}

/// The configured durations, in microseconds.
struct Limits {
    max_pending: usize,
    max_ttl_us: i64,
    negative_ttl_us: i64,
    error_ttl_us: i64,
    timeout_us: i64,
    self_test_every_us: i64,
    pause_us: i64,
}

pub struct Dnsbl {
    socket: UdpSocket,
    zones: Vec<Zone>,
    limits: Limits,
    cache: Cache<Cached>,
    budget: Budget,
    pending: Pending,
    rng: Rng,
    counters: DnsblCounters,
    buffer: Vec<u8>,
    /// The UTC day the daily cap was last reported, so it is logged once a day.
    cap_reported_day: i64,
}

impl Dnsbl {
    /// Binds a non-blocking UDP socket connected to the resolver (so the kernel drops
    /// datagrams from anyone else) on a port the kernel picks at random.
    pub fn new(config: &crate::config::Dnsbl, now_us: i64) -> io::Result<Dnsbl> {
        let local: SocketAddr = match config.resolver {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(config.resolver)?;

        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let limits = Limits {
            max_pending: config.max_pending.max(1),
            max_ttl_us: micros(config.max_ttl),
            negative_ttl_us: micros(config.negative_ttl),
            error_ttl_us: micros(config.error_ttl),
            timeout_us: micros(config.timeout).max(1),
            self_test_every_us: micros(config.self_test_every).max(1),
            pause_us: micros(config.pause).max(1),
        };
        Ok(Dnsbl {
            socket,
            zones: config.zones.iter().map(|z| Zone::new(z, now_us)).collect(),
            limits,
            cache: Cache::new(config.cache_size),
            budget: Budget::new(config.qps, config.daily_cap, now_us),
            pending: Pending::default(),
            rng: Rng::seeded(now_us),
            counters: DnsblCounters::default(),
            buffer: vec![0; RECEIVE_BUFFER],
            cap_reported_day: i64::MIN,
        })
    }

    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        registry.register(&mut self.socket, token, mio::Interest::READABLE)
    }

    /// The local address queries leave from (tests and diagnostics).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn counters(&self) -> &DnsblCounters {
        &self.counters
    }

    /// Entries in the answer cache, and queries in flight (self-tests included).
    pub fn sizes(&self) -> (usize, usize) {
        (self.cache.len(), self.pending.len())
    }

    /// A remote address no static list matched, seen in `flow`. Cached answers give hits at
    /// once; else a query is sent (or joined, if one is pending for this address), or the
    /// lookup is skipped and counted when the budget, daily cap or pending table is full.
    pub fn consider(
        &mut self,
        address: IpAddr,
        flow: &FlowRecord,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
    ) {
        let address = canonical(address);
        for zone in 0..self.zones.len() {
            self.consider_zone((zone, address), flow, now_us, out);
        }
    }

    /// The socket is readable: drain to WouldBlock, match answers to pending queries.
    pub fn on_readable(&mut self, now_us: i64, out: &mut Vec<DnsblHit>, status: &mut Vec<Event>) {
        let mut errors = 0;
        let mut buffer = std::mem::take(&mut self.buffer);
        loop {
            match self.socket.recv(&mut buffer) {
                Ok(len) => {
                    errors = 0;
                    let datagram = buffer.get(..len).unwrap_or_default();
                    self.on_datagram(datagram, now_us, out, status);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.counters.receive_errors += 1;
                    errors += 1;
                    if errors >= MAX_RECEIVE_ERRORS {
                        break;
                    }
                }
            }
        }
        self.buffer = buffer;
        self.pending.trim();
    }

    /// Timeouts (one retry, then an error cached briefly), self-tests, budget refill.
    pub fn tick(&mut self, now_us: i64, out: &mut Vec<DnsblHit>, status: &mut Vec<Event>) {
        while let Some(query) = self.pending.pop_expired(now_us) {
            self.on_timeout(query, now_us, out, status);
        }

        for zone in 0..self.zones.len() {
            let due = self.zones[zone].next_test_us <= now_us;
            if due && self.zones[zone].test.is_none() {
                self.start_self_test(zone, now_us);
            }
        }
    }

    /// When `tick` next has work: a query's deadline or a self-test due. The budget refills
    /// by itself (nothing waits for it).
    pub fn next_deadline(&self) -> Option<i64> {
        let tests = self
            .zones
            .iter()
            .filter(|zone| zone.test.is_none())
            .map(|zone| zone.next_test_us);
        tests.chain(self.pending.next_deadline()).min()
    }

    fn consider_zone(&mut self, key: Key, flow: &FlowRecord, now_us: i64, out: &mut Vec<DnsblHit>) {
        self.counters.lookups += 1;
        if self.zones[key.0].state != ZoneState::Active {
            self.counters.skipped_zone_down += 1;
            return;
        }
        if self.answer_from_cache(key, flow, now_us, out) {
            return;
        }
        if let Some(query) = self.pending.for_key(key) {
            if query.flows.len() < MAX_FLOWS_PER_QUERY {
                query.flows.push(flow.clone());
                self.counters.joined += 1;
            } else {
                self.counters.join_dropped += 1;
            }
            return;
        }

        if self.pending.lookups() >= self.limits.max_pending {
            self.counters.skipped_pending_full += 1;
            return;
        }
        if let Err(refusal) = self.budget.take(now_us) {
            self.count_refusal(refusal, now_us);
            return;
        }
        self.send_lookup(key, flow, now_us);
    }

    /// True when the cache decided the lookup (a hit, not listed, or failed recently).
    fn answer_from_cache(
        &mut self,
        key: Key,
        flow: &FlowRecord,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
    ) -> bool {
        let Some(cached) = self.cache.get(key, now_us) else {
            return false;
        };
        match cached {
            Cached::Listed { names, refs } => {
                let hit = make_hit(&self.zones[key.0], key.1, flow, names, refs);
                out.push(hit);
                self.counters.cache_listed += 1;
                self.counters.hits += 1;
            }
            Cached::NotListed => self.counters.cache_not_listed += 1,
            Cached::Failed => self.counters.cache_failed += 1,
        }
        true
    }

    fn count_refusal(&mut self, refusal: Refusal, now_us: i64) {
        match refusal {
            Refusal::Rate => self.counters.skipped_rate += 1,
            Refusal::DailyCap => {
                self.counters.skipped_daily_cap += 1;
                let day = now_us.div_euclid(86_400_000_000);
                if day != self.cap_reported_day {
                    self.cap_reported_day = day;
                    let used = self.budget.used_today();
                    crate::warn!("dnsbl: daily cap of {used} queries reached; lookups skipped");
                }
            }
        }
    }

    fn send_lookup(&mut self, key: Key, flow: &FlowRecord, now_us: i64) {
        let name = wire::query_name(key.1, &self.zones[key.0].zone);
        let Some(question) = Question::new(&name, RecordType::A) else {
            // The zone was checked at load, so this is a name hickory refuses: count it.
            self.counters.queries_failed += 1;
            return;
        };
        let query = Query {
            zone: key.0,
            address: key.1,
            purpose: Purpose::Lookup,
            question,
            deadline_us: 0,
            retried: false,
            flows: vec![flow.clone()],
        };
        self.send(query, now_us);
    }

    /// Sends `query` under a fresh id and keeps it pending. A failed send stays pending:
    /// its timeout retries it like a lost datagram.
    fn send(&mut self, mut query: Query, now_us: i64) {
        let id = self.fresh_id();
        query.deadline_us = now_us.saturating_add(self.limits.timeout_us);
        let sent = query
            .question
            .encode(id)
            .map(|bytes| self.socket.send(&bytes));
        match sent {
            Some(Ok(_)) => self.counters.queries_sent += 1,
            _ => self.counters.send_errors += 1,
        }
        self.pending.insert(id, query);
    }

    /// A random id no pending query has. The table holds far fewer than 65536 queries
    /// (`max-pending` is at most 30000), so a free id always exists.
    fn fresh_id(&mut self) -> u16 {
        let mut id = self.rng.next_u16();
        for _ in 0..16 {
            if !self.pending.contains(id) {
                return id;
            }
            id = self.rng.next_u16();
        }
        while self.pending.contains(id) {
            id = id.wrapping_add(1);
        }
        id
    }

    fn on_datagram(
        &mut self,
        bytes: &[u8],
        now_us: i64,
        out: &mut Vec<DnsblHit>,
        status: &mut Vec<Event>,
    ) {
        let Ok(reply) = wire::decode_reply(bytes) else {
            self.counters.replies_malformed += 1;
            return;
        };
        let Some(matches) = self
            .pending
            .get(reply.id)
            .map(|q| reply.answers(&q.question))
        else {
            self.counters.replies_unknown_id += 1;
            return;
        };
        if !matches {
            self.counters.replies_wrong_question += 1;
            return;
        }
        let Some(query) = self.pending.remove(reply.id) else {
            return;
        };

        let answer = reply.answer(query.question.qtype);
        if answer == Answer::Truncated {
            self.counters.replies_truncated += 1;
            self.on_failure(query, "truncated answer", now_us, out, status);
            return;
        }
        match query.purpose {
            Purpose::Lookup => self.on_lookup_answer(query, answer, now_us, out, status),
            Purpose::Txt { .. } => self.on_txt_answer(query, answer, now_us, out),
            Purpose::SelfTest { expect_listed } => {
                let outcome = test_outcome(expect_listed, &answer);
                self.record_test(query.zone, expect_listed, outcome, now_us, status);
            }
        }
    }

    fn on_lookup_answer(
        &mut self,
        query: Query,
        answer: Answer,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
        status: &mut Vec<Event>,
    ) {
        let key = (query.zone, query.address);
        let ttl_us = |ttl: u32, cap: i64| (i64::from(ttl) * 1_000_000).min(cap);
        match answer {
            Answer::Codes { codes, ttl } => match self.zones[query.zone].read(&codes) {
                Reading::Refused(code) => {
                    self.counters.answers_refused += 1;
                    self.remember(key, Cached::Failed, self.limits.error_ttl_us, now_us);
                    self.pause(query.zone, code, now_us, status);
                }
                Reading::Listed(names) => {
                    self.counters.answers_listed += 1;
                    let ttl_us = ttl_us(ttl, self.limits.max_ttl_us);
                    self.on_listed(query, names, ttl_us, now_us, out);
                }
                Reading::Ignored => {
                    self.counters.answers_ignored += 1;
                    let ttl_us = ttl_us(ttl, self.limits.max_ttl_us);
                    self.remember(key, Cached::NotListed, ttl_us, now_us);
                }
                Reading::Unknown => {
                    self.counters.answers_unknown_code += 1;
                    let ttl_us = ttl_us(ttl, self.limits.max_ttl_us);
                    self.remember(key, Cached::NotListed, ttl_us, now_us);
                }
            },
            Answer::NotListed { negative_ttl } => {
                self.counters.answers_not_listed += 1;
                let cap = self.limits.negative_ttl_us;
                // Without an SOA there is no negative TTL to honour: keep it briefly.
                let ttl_us =
                    negative_ttl.map_or(self.limits.error_ttl_us.min(cap), |ttl| ttl_us(ttl, cap));
                self.remember(key, Cached::NotListed, ttl_us, now_us);
            }
            Answer::Failure(_) | Answer::Text { .. } | Answer::Truncated => {
                self.counters.answers_failed += 1;
                self.remember(key, Cached::Failed, self.limits.error_ttl_us, now_us);
            }
        }
    }

    /// A listing: ask TXT for its URL when the zone wants one, else hand out the hits.
    fn on_listed(
        &mut self,
        mut query: Query,
        names: String,
        ttl_us: i64,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
    ) {
        let txt = self.zones[query.zone].txt;
        let question = Question::new(&query.question.name.to_ascii(), RecordType::TXT);
        let (true, Some(question)) = (txt, question) else {
            self.deliver(query, names, None, ttl_us, now_us, out);
            return;
        };
        // The follow-up counts against the day, not the rate: a hit must not wait.
        if self.budget.charge_day(now_us).is_err() {
            self.counters.txt_failed += 1;
            self.deliver(query, names, None, ttl_us, now_us, out);
            return;
        }
        query.question = question;
        query.purpose = Purpose::Txt { names, ttl_us };
        query.retried = false;
        self.counters.txt_queries += 1;
        self.send(query, now_us);
    }

    fn on_txt_answer(
        &mut self,
        query: Query,
        answer: Answer,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
    ) {
        let Purpose::Txt { names, ttl_us } = query.purpose.clone() else {
            return;
        };
        let url = match answer {
            Answer::Text { url: Some(url) } => Some(self.zones[query.zone].scrub(url)),
            _ => None,
        };
        if url.is_none() {
            self.counters.txt_failed += 1;
        }
        self.deliver(query, names, url, ttl_us, now_us, out);
    }

    /// Caches the listing and gives every waiting flow its hit.
    fn deliver(
        &mut self,
        query: Query,
        names: String,
        refs: Option<String>,
        ttl_us: i64,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
    ) {
        let zone = &self.zones[query.zone];
        for flow in &query.flows {
            out.push(make_hit(zone, query.address, flow, &names, &refs));
        }
        self.counters.hits += query.flows.len() as u64;
        let cached = Cached::Listed { names, refs };
        self.remember((query.zone, query.address), cached, ttl_us, now_us);
    }

    fn remember(&mut self, key: Key, cached: Cached, ttl_us: i64, now_us: i64) {
        let expires_us = now_us.saturating_add(ttl_us.max(0));
        self.counters.cache_evictions += self.cache.insert(key, cached, expires_us);
    }

    fn on_timeout(
        &mut self,
        mut query: Query,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
        status: &mut Vec<Event>,
    ) {
        self.counters.timeouts += 1;
        let may_retry = !query.retried && self.budget.charge_day(now_us).is_ok();
        if may_retry {
            query.retried = true;
            self.counters.retries += 1;
            self.send(query, now_us);
            return;
        }
        self.on_failure(query, "no answer", now_us, out, status);
    }

    /// A query that got no usable answer: the lookup's error is cached, a TXT follow-up
    /// still gives its hits (without refs), a self-test half fails.
    fn on_failure(
        &mut self,
        query: Query,
        why: &str,
        now_us: i64,
        out: &mut Vec<DnsblHit>,
        status: &mut Vec<Event>,
    ) {
        self.counters.queries_failed += 1;
        match query.purpose.clone() {
            Purpose::Lookup => {
                let key = (query.zone, query.address);
                self.remember(key, Cached::Failed, self.limits.error_ttl_us, now_us);
            }
            Purpose::Txt { names, ttl_us } => {
                self.counters.txt_failed += 1;
                self.deliver(query, names, None, ttl_us, now_us, out);
            }
            Purpose::SelfTest { expect_listed } => {
                let outcome = Outcome::Fail(format!("{}: {why}", test_address(expect_listed)));
                self.record_test(query.zone, expect_listed, outcome, now_us, status);
            }
        }
    }
}

fn make_hit(
    zone: &Zone,
    address: IpAddr,
    flow: &FlowRecord,
    names: &str,
    refs: &Option<String>,
) -> DnsblHit {
    DnsblHit {
        flow: flow.clone(),
        address,
        list: zone.name.clone(),
        entry: address.to_string(),
        names: names.to_owned(),
        refs: refs.clone(),
    }
}
