//! Lookups per second the DNSBL code sustains in a mio loop, against a DNS server on
//! 127.0.0.1 run by this bench (one thread, answers built with hickory-proto).
//!
//! cold: every lookup is a new address, so each is a query and an answer (the loop keeps
//! the pending table below its cap, so nothing is skipped); warm: the same addresses again,
//! all answered from the cache. Medians of several runs. `cargo bench --bench dnsbl`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowalert::config::{Config, Report};
use flowalert::dnsbl::{Dnsbl, DnsblHit};
use flowalert::flow::FlowRecord;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record};

const RUNS: usize = 5;
const COLD_LOOKUPS: u32 = 20_000;
const WARM_LOOKUPS: u32 = 2_000_000;
/// In flight at once. Far more overflows the default socket buffers of the loopback
/// server (each datagram costs about 1 KiB of buffer), which shows up as timeouts.
const MAX_PENDING: usize = 64;

fn main() {
    let stop = Arc::new(AtomicBool::new(false));
    let (server, thread) = start_server(stop.clone());

    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for run in 0..RUNS {
        let mut bench = Bench::new(server);
        // Each run asks its own addresses, so the server's answers are never reused.
        let base = 0x0b00_0000 + (run as u32) * COLD_LOOKUPS;
        cold.push(bench.cold(base));
        warm.push(bench.warm(base));
        bench.report(run, cold[run], warm[run]);
    }
    println!(
        "dnsbl cold (query and answer per lookup): {:>10.0} lookups/s",
        median(cold)
    );
    println!(
        "dnsbl warm (answered from the cache):     {:>10.0} lookups/s",
        median(warm)
    );

    stop.store(true, Ordering::SeqCst);
    let _ = thread.join();
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Bench {
    poll: mio::Poll,
    events: mio::Events,
    dnsbl: Dnsbl,
    flow: FlowRecord,
    hits: Vec<DnsblHit>,
    status: Vec<flowalert::alert::Event>,
}

impl Bench {
    fn new(server: SocketAddr) -> Bench {
        let text = format!(
            "[dnsbl]\nenabled = true\nresolver = \"{server}\"\nqps = 100000\n\
             daily-cap = 100000000\nmax-pending = {MAX_PENDING}\ncache-size = 1000000\n\
             [[dnsbl.zone]]\nname = \"bench\"\nzone = \"bl.test\"\n\
             listed = [{{ range = \"127.0.0.2\", label = \"SBL\" }}]\n"
        );
        let mut report = Report::default();
        let config = Config::parse(&text, std::path::Path::new("bench.toml"), &mut report);
        let config = config.expect("bench configuration");
        assert!(report.errors.is_empty(), "{:?}", report.errors);

        let poll = mio::Poll::new().expect("poll");
        let mut dnsbl = Dnsbl::new(&config.dnsbl, now_us()).expect("socket");
        dnsbl
            .register(poll.registry(), mio::Token(0))
            .expect("register");
        let mut bench = Bench {
            poll,
            events: mio::Events::with_capacity(256),
            dnsbl,
            flow: FlowRecord::new(IpAddr::from([192, 0, 2, 241]), 10, 0),
            hits: Vec::new(),
            status: Vec::new(),
        };
        bench.wait_for_self_test();
        bench
    }

    fn wait_for_self_test(&mut self) {
        self.dnsbl.tick(now_us(), &mut self.hits, &mut self.status);
        while self.dnsbl.counters().self_tests_passed == 0 {
            self.turn(Some(Duration::from_millis(100)));
        }
    }

    /// One loop iteration: poll, drain, tick.
    fn turn(&mut self, timeout: Option<Duration>) {
        let _ = self.poll.poll(&mut self.events, timeout);
        let now = now_us();
        if !self.events.is_empty() {
            self.dnsbl
                .on_readable(now, &mut self.hits, &mut self.status);
        }
        self.dnsbl.tick(now, &mut self.hits, &mut self.status);
    }

    fn cold(&mut self, base: u32) -> f64 {
        let started = Instant::now();
        let mut next = 0;
        while next < COLD_LOOKUPS || self.dnsbl.sizes().1 > 0 {
            while next < COLD_LOOKUPS && self.dnsbl.sizes().1 < MAX_PENDING {
                let address = IpAddr::V4(Ipv4Addr::from(base + next));
                self.dnsbl
                    .consider(address, &self.flow, now_us(), &mut self.hits);
                next += 1;
            }
            self.turn(Some(Duration::from_millis(5)));
        }
        f64::from(COLD_LOOKUPS) / started.elapsed().as_secs_f64()
    }

    fn warm(&mut self, base: u32) -> f64 {
        let before = self.dnsbl.counters().queries_sent;
        let started = Instant::now();
        let now = now_us();
        for n in 0..WARM_LOOKUPS {
            let address = IpAddr::V4(Ipv4Addr::from(base + n % COLD_LOOKUPS));
            self.dnsbl
                .consider(address, &self.flow, now, &mut self.hits);
            self.hits.clear();
        }
        let rate = f64::from(WARM_LOOKUPS) / started.elapsed().as_secs_f64();
        assert_eq!(
            self.dnsbl.counters().queries_sent,
            before,
            "warm means no query"
        );
        rate
    }

    fn report(&self, run: usize, cold: f64, warm: f64) {
        let c = self.dnsbl.counters();
        println!(
            "run {run}: cold {cold:.0}/s warm {warm:.0}/s; queries {} answers listed {} \
             not listed {} timeouts {} skipped {} cache hits {}",
            c.queries_sent,
            c.answers_listed,
            c.answers_not_listed,
            c.timeouts,
            c.skipped_pending_full + c.skipped_rate + c.skipped_daily_cap,
            c.cache_listed + c.cache_not_listed,
        );
    }
}

fn now_us() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
}

/// Answers every query: 127.0.0.2 for addresses ending in 7 and the self-test's 127.0.0.2,
/// NXDOMAIN with an SOA for the rest.
fn start_server(stop: Arc<AtomicBool>) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let address = socket.local_addr().expect("address");
    let thread = std::thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        while !stop.load(Ordering::SeqCst) {
            let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
                continue;
            };
            if let Some(reply) = reply_to(&buffer[..len]) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    (address, thread)
}

fn reply_to(bytes: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let query = request.queries.first()?.clone();
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.recursion_available = true;
    reply.add_query(query.clone());
    // The first label is the last octet: "2" for the self-test, ending in 7 about one in ten.
    let label = query.name().iter().next()?;
    if label == b"2" || label.last() == Some(&b'7') {
        let data = RData::A(A(Ipv4Addr::new(127, 0, 0, 2)));
        reply.add_answer(Record::from_rdata(query.name().clone(), 3600, data));
    } else {
        reply.metadata.response_code = ResponseCode::NXDomain;
        let soa = SOA::new(Name::root(), Name::root(), 1, 3600, 600, 86400, 3600);
        let zone = Name::from_ascii("test.").ok()?;
        reply.add_authority(Record::from_rdata(zone, 3600, RData::SOA(soa)));
    }
    reply.to_vec().ok()
}
