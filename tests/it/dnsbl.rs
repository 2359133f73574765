//! DNSBL lookups against a small DNS server on 127.0.0.1, scripted per query name.
//!
//! The `Dnsbl` runs in a mio loop of the test's own on a virtual clock: time moves only
//! when the test says so, and the loop waits until the server has handled every query
//! sent, so timeouts and retries happen exactly where the test puts them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use flowalert::alert::Event;
use flowalert::config::{Config, Report};
use flowalert::dnsbl::wire::query_name;
use flowalert::dnsbl::{Dnsbl, DnsblCounters, DnsblHit};
use flowalert::flow::FlowRecord;
use flowalert::intel::{Indicators, Listing};
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Noon UTC, so a test that moves a few hours stays within one day.
const T0: i64 = 1_764_849_600_000_000;
const SECOND: i64 = 1_000_000;
const TIMEOUT: i64 = SECOND;

// ---------------------------------------------------------------------------------------
// The server

#[derive(Debug, Clone)]
enum Behaviour {
    /// A records with these codes and TTL (TXT queries get a URL).
    Listed(Vec<[u8; 4]>, u32),
    /// NXDOMAIN with an SOA whose minimum is this.
    NxDomain(u32),
    Rcode(ResponseCode),
    /// Held until `release`: an answer that comes after the timeout.
    Slow,
    /// A listed answer under another id.
    WrongId,
    /// A listed answer to another name.
    WrongQuestion,
    /// A listed answer cut three bytes short.
    Cut,
    /// An empty answer with the TC bit.
    Truncated,
}

#[derive(Default)]
struct Shared {
    script: Mutex<HashMap<String, Behaviour>>,
    asked: Mutex<Vec<(String, RecordType)>>,
    held: Mutex<Vec<(Vec<u8>, SocketAddr)>>,
    handled: AtomicUsize,
}

struct Server {
    address: SocketAddr,
    socket: UdpSocket,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (socket, shared, stop) =
                (socket.try_clone().unwrap(), shared.clone(), stop.clone());
            std::thread::spawn(move || serve(&socket, &shared, &stop))
        };
        Server {
            address: socket.local_addr().unwrap(),
            socket,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    fn script(&self, address: &str, zone: &str, behaviour: Behaviour) {
        let name = query_name(address.parse().unwrap(), zone);
        let mut script = self.shared.script.lock().unwrap();
        script.insert(name.trim_end_matches('.').to_owned(), behaviour);
    }

    /// Queries received for `address` in `zone`, by type.
    fn asked(&self, address: &str, zone: &str, qtype: RecordType) -> usize {
        let name = query_name(address.parse().unwrap(), zone);
        let name = name.trim_end_matches('.');
        let asked = self.shared.asked.lock().unwrap();
        asked
            .iter()
            .filter(|(n, t)| n == name && *t == qtype)
            .count()
    }

    fn handled(&self) -> usize {
        self.shared.handled.load(Ordering::SeqCst)
    }

    /// Sends the oldest `count` held answers now: late, after the client gave up on them.
    fn release(&self, count: usize) -> usize {
        let mut held = self.shared.held.lock().unwrap();
        let count = count.min(held.len());
        let held: Vec<_> = held.drain(..count).collect();
        for (bytes, peer) in &held {
            self.socket.send_to(bytes, peer).unwrap();
        }
        held.len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(socket: &UdpSocket, shared: &Shared, stop: &AtomicBool) {
    let mut buffer = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        if let Some((bytes, hold)) = answer(&buffer[..len], shared) {
            if hold {
                shared.held.lock().unwrap().push((bytes, peer));
            } else {
                socket.send_to(&bytes, peer).unwrap();
            }
        }
        shared.handled.fetch_add(1, Ordering::SeqCst);
    }
}

/// The reply bytes for one query, and whether to hold them.
fn answer(bytes: &[u8], shared: &Shared) -> Option<(Vec<u8>, bool)> {
    let request = Message::from_vec(bytes).ok()?;
    let query = request.queries.first()?.clone();
    let name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let qtype = query.query_type();
    shared.asked.lock().unwrap().push((name.clone(), qtype));
    let behaviour = shared.script.lock().unwrap().get(&name).cloned();
    let behaviour = behaviour.unwrap_or(Behaviour::NxDomain(600));

    let id = request.metadata.id;
    let mut reply = Message::response(id, OpCode::Query);
    reply.metadata.recursion_desired = true;
    reply.metadata.recursion_available = true;
    reply.add_query(query.clone());
    let owner = query.name().clone();
    let listed = |reply: &mut Message| add_listing(reply, &owner, qtype, &[[127, 0, 0, 2]], 300);
    let mut hold = false;
    let mut cut = false;
    match behaviour {
        Behaviour::Listed(codes, ttl) => add_listing(&mut reply, &owner, qtype, &codes, ttl),
        Behaviour::NxDomain(minimum) => add_nxdomain(&mut reply, minimum),
        Behaviour::Rcode(code) => reply.metadata.response_code = code,
        Behaviour::Slow => {
            add_nxdomain(&mut reply, 600);
            hold = true;
        }
        Behaviour::WrongId => {
            listed(&mut reply);
            reply.metadata.id = id ^ 0x5a5a;
        }
        Behaviour::WrongQuestion => {
            let mut other = query.clone();
            other.set_name(Name::from_ascii(format!("x.{name}.")).unwrap());
            reply.queries = vec![other];
            listed(&mut reply);
        }
        Behaviour::Cut => {
            listed(&mut reply);
            cut = true;
        }
        Behaviour::Truncated => reply.metadata.truncation = true,
    }
    let mut bytes = reply.to_vec().ok()?;
    if cut {
        bytes.truncate(bytes.len() - 3);
    }
    Some((bytes, hold))
}

fn add_listing(reply: &mut Message, owner: &Name, qtype: RecordType, codes: &[[u8; 4]], ttl: u32) {
    if qtype == RecordType::TXT {
        let text = format!("Listed, see https://bl.test/lookup?q={}", owner.to_ascii());
        let data = RData::TXT(TXT::new(vec![text]));
        reply.add_answer(Record::from_rdata(owner.clone(), ttl, data));
        return;
    }
    for &code in codes {
        let data = RData::A(A(std::net::Ipv4Addr::from(code)));
        reply.add_answer(Record::from_rdata(owner.clone(), ttl, data));
    }
}

fn add_nxdomain(reply: &mut Message, minimum: u32) {
    reply.metadata.response_code = ResponseCode::NXDomain;
    let zone = Name::from_ascii("test.").unwrap();
    let soa = SOA::new(
        Name::from_ascii("ns.test.").unwrap(),
        Name::from_ascii("hostmaster.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        minimum,
    );
    reply.add_authority(Record::from_rdata(zone, 3600, RData::SOA(soa)));
}

// ---------------------------------------------------------------------------------------
// The loop

struct Harness {
    poll: mio::Poll,
    events: mio::Events,
    dnsbl: Dnsbl,
    server: Server,
    now_us: i64,
    hits: Vec<DnsblHit>,
    status: Vec<Event>,
}

const ZONE: &str = "bl.test";

fn zone_toml(name: &str, zone: &str, txt: bool) -> String {
    format!(
        "[[dnsbl.zone]]\nname = \"{name}\"\nzone = \"{zone}\"\ntxt = {txt}\nlisted = [\n\
         {{ range = \"127.0.0.2-127.0.0.3\", label = \"SBL\" }},\n\
         {{ range = \"127.0.0.4-127.0.0.7\", label = \"XBL\" }},\n]\n\
         ignore = [{{ range = \"127.0.0.10-127.0.0.11\", label = \"PBL\" }}]\n"
    )
}

impl Harness {
    /// A server scripted by `script` (self-tests of `zones` pass unless it says otherwise),
    /// and a `Dnsbl` started at T0 with `keys` added to `[dnsbl]`.
    fn start(keys: &str, zones: &[(&str, &str, bool)], script: impl Fn(&Server)) -> Harness {
        let server = Server::start();
        for (_, zone, _) in zones {
            server.script(
                "127.0.0.2",
                zone,
                Behaviour::Listed(vec![[127, 0, 0, 2]], 60),
            );
        }
        script(&server);

        let mut text = format!(
            "[dnsbl]\nenabled = true\nresolver = \"{}\"\ntimeout = \"1s\"\n\
             error-ttl = \"5m\"\nnegative-ttl = \"5m\"\nmax-ttl = \"1h\"\n\
             self-test-every = \"1h\"\npause = \"10m\"\n{keys}\n",
            server.address
        );
        for (name, zone, txt) in zones {
            text.push_str(&zone_toml(name, zone, *txt));
        }
        let mut report = Report::default();
        let config = Config::parse(&text, std::path::Path::new("t.toml"), &mut report).unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);

        let poll = mio::Poll::new().unwrap();
        let mut dnsbl = Dnsbl::new(&config.dnsbl, T0).unwrap();
        dnsbl.register(poll.registry(), mio::Token(7)).unwrap();
        let mut harness = Harness {
            poll,
            events: mio::Events::with_capacity(16),
            dnsbl,
            server,
            now_us: T0,
            hits: Vec::new(),
            status: Vec::new(),
        };
        assert_eq!(
            harness.dnsbl.next_deadline(),
            Some(T0),
            "the self-tests are due"
        );
        harness.at(T0);
        harness
    }

    /// Reads every answer due at the current time, then moves the clock to `now_us`, runs
    /// `tick` and answers whatever it sent.
    fn at(&mut self, now_us: i64) {
        self.settle();
        self.now_us = now_us;
        self.dnsbl.tick(now_us, &mut self.hits, &mut self.status);
        self.settle();
    }

    fn consider(&mut self, address: &str, sport: u16) {
        let flow = flow(address, sport);
        let address = address.parse().unwrap();
        self.dnsbl
            .consider(address, &flow, self.now_us, &mut self.hits);
    }

    /// Polls until the server has handled every query sent and every answer is read.
    fn settle(&mut self) {
        let mut quiet = 0;
        for _ in 0..500 {
            let timeout = Some(Duration::from_millis(20));
            self.poll.poll(&mut self.events, timeout).unwrap();
            if !self.events.is_empty() {
                quiet = 0;
                self.dnsbl
                    .on_readable(self.now_us, &mut self.hits, &mut self.status);
                continue;
            }
            let sent = self.dnsbl.counters().queries_sent as usize;
            if self.server.handled() >= sent {
                // One more quiet poll: an answer sent just before `handled` moved is read.
                quiet += 1;
                if quiet == 2 {
                    return;
                }
            }
        }
        panic!("the test server did not handle every query");
    }

    fn counters(&self) -> DnsblCounters {
        self.dnsbl.counters().clone()
    }

    fn statuses(&self) -> Vec<&str> {
        self.status.iter().map(|e| e.message.as_str()).collect()
    }
}

fn flow(src: &str, sport: u16) -> FlowRecord {
    let mut flow = FlowRecord::new(IpAddr::from([192, 0, 2, 241]), 10, 0);
    flow.src = Some(src.parse().unwrap());
    flow.dst = Some(IpAddr::from([198, 51, 100, 7]));
    flow.src_port = sport;
    flow.dst_port = 22;
    flow.protocol = 6;
    flow.packets = 3;
    flow.octets = 180;
    flow
}

/// The counters after a passed start-up self-test of `zones` zones.
fn started(zones: u64) -> DnsblCounters {
    DnsblCounters {
        queries_sent: 2 * zones,
        self_tests_passed: zones,
        ..DnsblCounters::default()
    }
}

fn listing(hit: &DnsblHit) -> Vec<Listing<'_>> {
    let mut out = Vec::new();
    hit.listings(hit.address, &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn a_listed_address_gives_a_hit_with_labels_and_the_txt_url() {
    let mut h = Harness::start("", &[("bl", ZONE, true)], |s| {
        s.script(
            "192.0.2.1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 2]], 300),
        );
    });
    h.consider("192.0.2.1", 40001);
    h.settle();

    assert_eq!(h.hits.len(), 1);
    let hit = &h.hits[0];
    assert_eq!(hit.flow, flow("192.0.2.1", 40001));
    assert_eq!(hit.address, "192.0.2.1".parse::<IpAddr>().unwrap());
    let url = "https://bl.test/lookup?q=1.2.0.192.bl.test.";
    let expected = Listing {
        source: "bl",
        entry: "192.0.2.1".into(),
        comment: "127.0.0.2 SBL",
        url: Some(url),
    };
    assert_eq!(listing(hit), [expected]);
    let mut none = Vec::new();
    assert!(!hit.listings(IpAddr::from([198, 51, 100, 7]), &mut none));
    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::A), 1);
    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::TXT), 1);
    let expected = DnsblCounters {
        lookups: 1,
        queries_sent: 4,
        txt_queries: 1,
        answers_listed: 1,
        hits: 1,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn a_cached_listing_gives_hits_without_a_second_query() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script(
            "192.0.2.1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 3]], 300),
        );
    });
    h.consider("192.0.2.1", 1);
    h.settle();
    h.at(T0 + 299 * SECOND);
    h.consider("192.0.2.1", 2);
    h.settle();

    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::A), 1);
    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::TXT), 0);
    let ports: Vec<u16> = h.hits.iter().map(|hit| hit.flow.src_port).collect();
    assert_eq!(ports, [1, 2]);
    assert_eq!(h.hits[1].names, "127.0.0.3 SBL");
    assert_eq!(h.hits[1].refs, None);

    // At the TTL the entry has expired: asked again.
    h.at(T0 + 300 * SECOND);
    h.consider("192.0.2.1", 3);
    h.settle();
    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::A), 2);
    let expected = DnsblCounters {
        lookups: 3,
        cache_listed: 1,
        queries_sent: 4,
        answers_listed: 2,
        hits: 3,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn two_flows_share_one_pending_query() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script(
            "192.0.2.1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 2]], 300),
        );
    });
    h.consider("192.0.2.1", 1);
    h.consider("192.0.2.1", 2);
    assert!(h.hits.is_empty(), "no hit before the answer");
    h.settle();

    assert_eq!(h.server.asked("192.0.2.1", ZONE, RecordType::A), 1);
    let ports: Vec<u16> = h.hits.iter().map(|hit| hit.flow.src_port).collect();
    assert_eq!(ports, [1, 2]);
    let expected = DnsblCounters {
        lookups: 2,
        joined: 1,
        queries_sent: 3,
        answers_listed: 1,
        hits: 2,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn not_listed_is_kept_for_the_soa_minimum_capped_at_negative_ttl() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script("192.0.2.2", ZONE, Behaviour::NxDomain(60));
        s.script("192.0.2.22", ZONE, Behaviour::NxDomain(86400));
    });
    h.consider("192.0.2.2", 1);
    h.consider("192.0.2.22", 1);
    h.settle();
    h.at(T0 + 59 * SECOND);
    h.consider("192.0.2.2", 2);
    h.consider("192.0.2.22", 2);
    h.at(T0 + 60 * SECOND);
    h.consider("192.0.2.2", 3);
    h.at(T0 + 299 * SECOND);
    h.consider("192.0.2.22", 3);
    h.at(T0 + 300 * SECOND);
    h.consider("192.0.2.22", 4);
    h.settle();

    assert_eq!(h.server.asked("192.0.2.2", ZONE, RecordType::A), 2);
    assert_eq!(h.server.asked("192.0.2.22", ZONE, RecordType::A), 2);
    assert!(h.hits.is_empty());
    let expected = DnsblCounters {
        lookups: 7,
        cache_not_listed: 3,
        queries_sent: 6,
        answers_not_listed: 4,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn a_slow_answer_is_retried_once_then_the_failure_is_kept_for_error_ttl() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script("192.0.2.3", ZONE, Behaviour::Slow);
    });
    h.consider("192.0.2.3", 1);
    h.settle();
    assert_eq!(h.dnsbl.next_deadline(), Some(T0 + TIMEOUT));

    h.at(T0 + TIMEOUT);
    assert_eq!(
        h.server.asked("192.0.2.3", ZONE, RecordType::A),
        2,
        "one retry"
    );
    assert_eq!(h.server.release(1), 1, "the first answer comes late");
    h.settle();
    assert_eq!(h.counters().replies_unknown_id, 1);

    h.at(T0 + 2 * TIMEOUT);
    assert_eq!(h.server.release(1), 1);
    h.settle();
    h.consider("192.0.2.3", 2);
    h.at(T0 + 2 * TIMEOUT + 299 * SECOND);
    h.consider("192.0.2.3", 3);
    assert_eq!(h.server.asked("192.0.2.3", ZONE, RecordType::A), 2);
    h.at(T0 + 2 * TIMEOUT + 300 * SECOND);
    h.consider("192.0.2.3", 4);
    h.settle();
    assert_eq!(h.server.asked("192.0.2.3", ZONE, RecordType::A), 3);

    let expected = DnsblCounters {
        lookups: 4,
        cache_failed: 2,
        queries_sent: 5,
        timeouts: 2,
        retries: 1,
        queries_failed: 1,
        replies_unknown_id: 2,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
    assert!(h.hits.is_empty());
}

#[test]
fn servfail_and_refused_are_failures_kept_briefly() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script("192.0.2.4", ZONE, Behaviour::Rcode(ResponseCode::ServFail));
        s.script("192.0.2.5", ZONE, Behaviour::Rcode(ResponseCode::Refused));
    });
    h.consider("192.0.2.4", 1);
    h.consider("192.0.2.5", 1);
    h.settle();
    h.consider("192.0.2.4", 2);
    h.consider("192.0.2.5", 2);

    let expected = DnsblCounters {
        lookups: 4,
        cache_failed: 2,
        queries_sent: 4,
        answers_failed: 2,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
    assert!(h.hits.is_empty() && h.status.is_empty());
}

#[test]
fn forged_and_broken_replies_are_dropped_and_counted() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script("192.0.2.6", ZONE, Behaviour::WrongId);
        s.script("192.0.2.7", ZONE, Behaviour::WrongQuestion);
        s.script("192.0.2.8", ZONE, Behaviour::Cut);
        s.script("192.0.2.13", ZONE, Behaviour::Truncated);
    });
    for address in ["192.0.2.6", "192.0.2.7", "192.0.2.8", "192.0.2.13"] {
        h.consider(address, 1);
    }
    h.settle();
    let first = DnsblCounters {
        lookups: 4,
        queries_sent: 6,
        queries_failed: 1,
        replies_malformed: 1,
        replies_unknown_id: 1,
        replies_wrong_question: 1,
        replies_truncated: 1,
        ..started(1)
    };
    assert_eq!(h.counters(), first);

    // Each dropped reply leaves its query pending: retried, dropped again, failed.
    h.at(T0 + TIMEOUT);
    h.at(T0 + 2 * TIMEOUT);
    let expected = DnsblCounters {
        queries_sent: 9,
        timeouts: 6,
        retries: 3,
        queries_failed: 4,
        replies_malformed: 2,
        replies_unknown_id: 2,
        replies_wrong_question: 2,
        ..first
    };
    assert_eq!(h.counters(), expected);
    assert!(h.hits.is_empty());
    assert_eq!(
        h.dnsbl.sizes(),
        (4, 0),
        "four failures cached, nothing pending"
    );
}

#[test]
fn a_refusal_answer_pauses_the_zone_once_and_a_self_test_resumes_it() {
    let zone = "secretkey.bl.dq.spamhaus.net";
    let mut h = Harness::start("", &[("dqs", zone, false)], |s| {
        s.script(
            "192.0.2.9",
            zone,
            Behaviour::Listed(vec![[127, 255, 255, 254]], 60),
        );
        s.script(
            "192.0.2.10",
            zone,
            Behaviour::Listed(vec![[10, 0, 0, 1]], 60),
        );
        s.script(
            "192.0.2.11",
            zone,
            Behaviour::Listed(vec![[127, 0, 0, 10]], 60),
        );
        s.script(
            "192.0.2.12",
            zone,
            Behaviour::Listed(vec![[127, 0, 0, 4]], 60),
        );
    });
    h.consider("192.0.2.9", 1);
    h.settle();
    h.consider("192.0.2.10", 1);
    h.consider("192.0.2.11", 1);
    assert_eq!(
        h.server.asked("192.0.2.10", zone, RecordType::A),
        0,
        "paused"
    );
    let paused = "kind=dnsbl-paused subject=****.bl.dq.spamhaus.net detail=\"answer \
                  127.255.255.254: the resolver was refused (a public resolver or an exceeded \
                  quota); paused for 10m\"";
    assert_eq!(h.statuses(), [paused]);
    assert_eq!(h.dnsbl.next_deadline(), Some(T0 + 600 * SECOND));

    // After the pause the self-test passes: asked again. An answer outside 127/8 pauses
    // it a second time; an ignored code and an unlisted one alert on nothing.
    h.at(T0 + 600 * SECOND);
    h.consider("192.0.2.11", 2);
    h.consider("192.0.2.12", 2);
    h.consider("192.0.2.10", 2);
    h.settle();
    assert_eq!(h.status.len(), 2);
    assert!(h.status[1].message.contains("detail=\"answer 10.0.0.1: "));
    assert!(h.status.iter().all(|e| !e.message.contains("secretkey")));
    assert_eq!(h.hits.len(), 1);
    assert_eq!(h.hits[0].names, "127.0.0.4 XBL");

    let expected = DnsblCounters {
        lookups: 6,
        skipped_zone_down: 2,
        queries_sent: 8,
        answers_listed: 1,
        answers_ignored: 1,
        answers_refused: 2,
        hits: 1,
        self_tests_passed: 2,
        zones_paused: 2,
        ..started(0)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn the_start_self_test_disables_a_failing_zone_until_a_later_one_passes() {
    let zones = [("bl", ZONE, false), ("broken", "broken.test", false)];
    let mut h = Harness::start("", &zones, |s| {
        s.script("127.0.0.2", "broken.test", Behaviour::NxDomain(60));
        s.script(
            "192.0.2.1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 2]], 300),
        );
        s.script(
            "192.0.2.1",
            "broken.test",
            Behaviour::Listed(vec![[127, 0, 0, 2]], 300),
        );
    });
    let failed = "kind=dnsbl-self-test-failed subject=broken.test detail=\"self-test failed \
                  (127.0.0.2 is not listed); not asked until one passes\"";
    assert_eq!(h.statuses(), [failed]);
    h.consider("192.0.2.1", 1);
    h.settle();
    let lists: Vec<&str> = h.hits.iter().map(|hit| hit.list.as_str()).collect();
    assert_eq!(lists, ["bl"]);

    // The zone is fixed; the next self-test, an hour later, brings it back.
    let listed = Behaviour::Listed(vec![[127, 0, 0, 2]], 60);
    h.server.script("127.0.0.2", "broken.test", listed);
    h.at(T0 + 3600 * SECOND);
    h.consider("192.0.2.1", 2);
    h.settle();
    let lists: Vec<&str> = h.hits.iter().map(|hit| hit.list.as_str()).collect();
    assert_eq!(lists, ["bl", "bl", "broken"], "now both zones are asked");
    assert_eq!(h.status.len(), 1, "passing again writes no status record");

    let expected = DnsblCounters {
        lookups: 4,
        skipped_zone_down: 1,
        queries_sent: 11,
        answers_listed: 3,
        hits: 3,
        self_tests_passed: 3,
        self_tests_failed: 1,
        ..DnsblCounters::default()
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn a_self_test_that_gets_no_answer_fails() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script("127.0.0.1", ZONE, Behaviour::Slow);
    });
    h.at(T0 + TIMEOUT);
    h.at(T0 + 2 * TIMEOUT);
    let failed = "kind=dnsbl-self-test-failed subject=bl.test detail=\"self-test failed \
                  (127.0.0.1: no answer); not asked until one passes\"";
    assert_eq!(h.statuses(), [failed]);
    let expected = DnsblCounters {
        queries_sent: 3,
        timeouts: 2,
        retries: 1,
        queries_failed: 1,
        self_tests_failed: 1,
        ..DnsblCounters::default()
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn the_rate_and_the_daily_cap_skip_lookups() {
    // The start-up self-test uses 2 of the day's 6 queries.
    let mut h = Harness::start("qps = 3\ndaily-cap = 6", &[("bl", ZONE, false)], |_| {});
    for last in 30..35 {
        h.consider(&format!("192.0.2.{last}"), 1);
    }
    h.settle();
    h.at(T0 + SECOND);
    for last in 40..43 {
        h.consider(&format!("192.0.2.{last}"), 1);
    }
    h.settle();

    let expected = DnsblCounters {
        lookups: 8,
        skipped_rate: 2,
        skipped_daily_cap: 2,
        queries_sent: 6,
        answers_not_listed: 4,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
}

#[test]
fn a_full_pending_table_skips_lookups_and_bounds_flows_per_query() {
    let mut h = Harness::start("max-pending = 2", &[("bl", ZONE, false)], |s| {
        for address in ["192.0.2.3", "192.0.2.20", "192.0.2.21"] {
            s.script(address, ZONE, Behaviour::Slow);
        }
    });
    h.consider("192.0.2.3", 0);
    h.consider("192.0.2.20", 0);
    h.consider("192.0.2.21", 0);
    for sport in 1..=40 {
        h.consider("192.0.2.3", sport);
    }
    h.settle();

    let max = flowalert::dnsbl::MAX_FLOWS_PER_QUERY as u64;
    let expected = DnsblCounters {
        lookups: 43,
        joined: max - 1,
        join_dropped: 40 - (max - 1),
        skipped_pending_full: 1,
        queries_sent: 4,
        ..started(1)
    };
    assert_eq!(h.counters(), expected);
    assert_eq!(h.dnsbl.sizes(), (0, 2));
}

#[test]
fn an_ipv6_address_is_asked_by_reversed_nibbles() {
    let mut h = Harness::start("", &[("bl", ZONE, false)], |s| {
        s.script(
            "2001:db8::1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 2], [127, 0, 0, 4]], 60),
        );
        s.script(
            "192.0.2.1",
            ZONE,
            Behaviour::Listed(vec![[127, 0, 0, 2]], 60),
        );
    });
    h.consider("2001:db8::1", 1);
    h.consider("::ffff:192.0.2.1", 2);
    h.settle();

    assert_eq!(h.server.asked("2001:db8::1", ZONE, RecordType::A), 1);
    assert_eq!(
        h.server.asked("192.0.2.1", ZONE, RecordType::A),
        1,
        "mapped asked as IPv4"
    );
    let names: Vec<&str> = h.hits.iter().map(|hit| hit.names.as_str()).collect();
    assert_eq!(names, ["127.0.0.2 SBL | 127.0.0.4 XBL", "127.0.0.2 SBL"]);
    assert_eq!(h.hits[1].address, "192.0.2.1".parse::<IpAddr>().unwrap());
}

#[test]
fn a_dqs_key_is_masked_in_the_refs_the_zone_sends_back() {
    let zone = "secretkey.zen.dq.spamhaus.net";
    let mut h = Harness::start("", &[("zen", zone, true)], |s| {
        s.script(
            "192.0.2.1",
            zone,
            Behaviour::Listed(vec![[127, 0, 0, 2]], 300),
        );
    });
    h.consider("192.0.2.1", 1);
    h.settle();

    // The test server's TXT repeats the query name, key included.
    assert_eq!(h.server.asked("192.0.2.1", zone, RecordType::TXT), 1);
    let refs = h.hits[0].refs.as_deref();
    let masked = "https://bl.test/lookup?q=1.2.0.192.****.zen.dq.spamhaus.net.";
    assert_eq!(refs, Some(masked));
    let printed = format!("{:?}", h.hits);
    assert!(!printed.contains("secretkey"), "{printed}");
}

#[test]
fn with_no_resolver_listening_the_start_self_test_fails_after_the_retry() {
    // A port nobody listens on: the kernel answers with ICMP port unreachable.
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        "[dnsbl]\nenabled = true\nresolver = \"{closed}\"\ntimeout = \"1s\"\n{}",
        zone_toml("bl", ZONE, false)
    );
    let mut report = Report::default();
    let config = Config::parse(&text, std::path::Path::new("t.toml"), &mut report).unwrap();
    let mut poll = mio::Poll::new().unwrap();
    let mut events = mio::Events::with_capacity(8);
    let mut dnsbl = Dnsbl::new(&config.dnsbl, T0).unwrap();
    dnsbl.register(poll.registry(), mio::Token(1)).unwrap();
    let (mut hits, mut status) = (Vec::new(), Vec::new());

    for now in [T0, T0 + TIMEOUT, T0 + 2 * TIMEOUT] {
        dnsbl.tick(now, &mut hits, &mut status);
        for _ in 0..3 {
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
            dnsbl.on_readable(now, &mut hits, &mut status);
        }
    }

    let failed = "kind=dnsbl-self-test-failed subject=bl.test detail=\"self-test failed \
                  (127.0.0.2: no answer; 127.0.0.1: no answer); not asked until one passes\"";
    let messages: Vec<&str> = status.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, [failed]);
    let c = dnsbl.counters();
    // How many refusals the kernel reports, and on which call, is its business; the rest
    // is exact.
    assert_eq!(c.queries_sent + c.send_errors, 4);
    assert_eq!((c.timeouts, c.retries, c.queries_failed), (4, 2, 2));
    assert_eq!((c.self_tests_passed, c.self_tests_failed), (0, 1));
    assert_eq!(dnsbl.sizes(), (0, 0));
}

/// The running service asks the zone about a remote address no list names, and writes the
/// ordinary hit record, from the original flow, when the answer arrives.
#[test]
fn the_service_writes_a_hit_when_a_zone_lists_a_remote_address() {
    use crate::harness::{exporter, mask, stat, v5_datagram, Daemon, TempDir, V5Flow, PATIENCE};

    let server = Server::start();
    let listed = Behaviour::Listed(vec![[127, 0, 0, 2]], 60);
    server.script("127.0.0.2", "bl.test", listed);
    let listed = Behaviour::Listed(vec![[127, 0, 0, 4]], 60);
    server.script("198.51.100.99", "bl.test", listed);

    let dir = TempDir::new("dnsbl-service");
    dir.write("static.txt", "203.0.113.1\n");
    let text = format!(
        "[input]\nlisten = [\"127.0.0.1:0\"]\n[networks]\nhome = [\"192.0.2.0/24\"]\n\
         [state]\ndir = \"state\"\n\
         [[list]]\nname = \"static\"\npath = \"static.txt\"\nformat = \"plain\"\n\
         [output]\nhostname = \"test\"\nfile = \"alerts.log\"\n\
         [dnsbl]\nenabled = true\nresolver = \"{}\"\ntimeout = \"1s\"\n{}",
        server.address,
        zone_toml("testbl", "bl.test", false)
    );
    let config = dir.write("flowalert.toml", &text);
    let daemon = Daemon::start(&config);

    let flow = V5Flow {
        src: [192, 0, 2, 12],
        dst: [198, 51, 100, 99],
        sport: 40000,
        dport: 443,
        proto: 6,
        flags: 0x02,
        packets: 1,
        octets: 60,
        first: 590_000,
        last: 590_000,
    };
    let socket = exporter();
    let log = dir.path.join("alerts.log");
    let deadline = std::time::Instant::now() + PATIENCE;
    // Lookups wait for the zone's start self-test; send until the answer has come.
    let mut sequence = 0;
    let line = loop {
        let datagram = v5_datagram(600_000, 1_764_787_200, sequence, &[flow]);
        socket.send_to(&datagram, daemon.flow_address).unwrap();
        sequence += 1;
        std::thread::sleep(Duration::from_millis(50));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            break line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no DNSBL hit was written"
        );
    };
    assert_eq!(
        mask(&line),
        "TIME test flowalert[PID]: hit src=192.0.2.12 sport=40000 dst=198.51.100.99 \
         dport=443 proto=TCP dir=out match=dst listed=198.51.100.99 lists=testbl refs=- \
         start=2025-12-03T18:39:50.000Z exporter=127.0.0.1 sampling=1 packets=1 bytes=60 \
         names=\"127.0.0.4 XBL\""
    );
    assert_eq!(server.asked("198.51.100.99", "bl.test", RecordType::A), 1);
    let (code, stats) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(stat(&stats, "dnsbl-answers-listed"), 1, "{stats}");
}
