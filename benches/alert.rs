//! Alerter cost per flow, the lookup excluded: flows that hit nothing, flows that fold into
//! an open pair, and a sweep of new peers (each a new pair). Prints flows per second.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use flowalert::alert::{Alerter, Event};
use flowalert::config::Alerts;
use flowalert::flow::FlowRecord;
use flowalert::intel::{Indicators, Listing};

/// Lists 203.0.113.0/24 and nothing else, as cheaply as a lookup can be.
struct OneNet;

impl Indicators for OneNet {
    fn listings<'a>(&'a self, addr: IpAddr, out: &mut Vec<Listing<'a>>) -> bool {
        let listed = matches!(addr, IpAddr::V4(v4) if v4.octets()[..3] == [203, 0, 113]);
        if listed {
            out.push(Listing {
                source: "drop",
                entry: "203.0.113.0/24".into(),
                comment: "SBL900001",
                url: None,
            });
        }
        listed
    }
}

fn flow(src: Ipv4Addr, dst: Ipv4Addr) -> FlowRecord {
    let mut flow = FlowRecord::new("192.0.2.241".parse().unwrap(), 9, 0);
    flow.src = Some(src.into());
    flow.dst = Some(dst.into());
    flow.protocol = 6;
    flow.src_port = 44444;
    flow.dst_port = 22;
    flow.tcp_flags = 2;
    flow.packets = 3;
    flow.octets = 180;
    flow.start = Some(1_796_327_200_120);
    flow
}

fn run(name: &str, flows: &[FlowRecord], max_peers: usize) {
    let settings = Alerts {
        repeat_window: Duration::from_secs(600),
        max_peers,
        max_records_per_second: 0,
    };
    let mut alerter = Alerter::new(&settings, &["10.0.0.0/8".parse().unwrap()]);
    let mut out: Vec<Event> = Vec::new();
    let started = Instant::now();
    for (index, flow) in flows.iter().enumerate() {
        alerter.on_flow(
            flow,
            &OneNet,
            1_796_327_229_517_513 + index as i64,
            &mut out,
        );
        out.clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    black_box(alerter.counters());
    let rate = flows.len() as f64 / elapsed;
    println!(
        "{name:<28} {:>10} flows  {:>12.0} flows/s",
        flows.len(),
        rate
    );
}

fn main() {
    let count = 10_000_000u32;
    let misses: Vec<FlowRecord> = (0..count)
        .map(|i| {
            flow(
                Ipv4Addr::from(0x0a00_0000 | i),
                Ipv4Addr::new(198, 51, 100, 1),
            )
        })
        .collect();
    run("no hit", &misses, 100);

    let repeats: Vec<FlowRecord> = (0..count)
        .map(|_| flow(Ipv4Addr::new(203, 0, 113, 9), Ipv4Addr::new(10, 1, 2, 3)))
        .collect();
    run("hit folded into one pair", &repeats, 100);

    let sweep: Vec<FlowRecord> = (0..1_000_000u32)
        .map(|i| {
            flow(
                Ipv4Addr::new(203, 0, 113, 9),
                Ipv4Addr::from(0x0a00_0000 | i),
            )
        })
        .collect();
    run("sweep, new peer each flow", &sweep, 100);
    run("new pair each flow (hits)", &sweep[..100_000], 0);
}
