//! Decoding speed: records per second on one core for v5, v9 and IPFIX datagrams of 30
//! records each (templates known), generated here. Prints the median of several runs.
//! Time is the thread's CPU time (Linux `/proc/thread-self/schedstat`), so other load on a
//! shared machine does not count; wall-clock rates are printed beside it.
//!
//! Run with `cargo bench --bench decode`.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use flowalert::flow::{Decoder, FlowRecord, Limits};

mod pcap_udp;

const RECORDS: usize = 30;
const RUNS: usize = 7;
const DATAGRAMS_PER_RUN: usize = 200_000;

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn v5_datagram() -> Vec<u8> {
    let mut b = Vec::new();
    for v in [5u16, RECORDS as u16] {
        put16(&mut b, v);
    }
    for v in [360_000u32, 1_796_325_242, 0, 1000] {
        put32(&mut b, v);
    }
    b.extend_from_slice(&[0, 0, 0, 0]); // engine type, id, sampling
    for i in 0..RECORDS as u32 {
        put32(&mut b, 0xc000_0200 | i); // 192.0.2.i
        put32(&mut b, 0xc633_6400 | i); // 198.51.100.i
        put32(&mut b, 0);
        for v in [1u16, 2] {
            put16(&mut b, v);
        }
        for v in [10 + i, 1500 * i, 300_000, 359_000] {
            put32(&mut b, v);
        }
        for v in [40_000u16 + i as u16, 443] {
            put16(&mut b, v);
        }
        b.extend_from_slice(&[0, 0x1a, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
    }
    b
}

/// (IE, length) of the benchmark template: a typical IPv4 router record.
const FIELDS: [(u16, u16); 13] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (6, 1),
    (1, 8),
    (2, 8),
    (10, 4),
    (14, 4),
    (61, 1),
    (22, 4),
    (21, 4),
];

fn record(b: &mut Vec<u8>, i: u32, times: &[u32; 2]) {
    put32(b, 0xc000_0200 | i);
    put32(b, 0xc633_6400 | i);
    put16(b, 40_000 + i as u16);
    put16(b, 443);
    b.extend_from_slice(&[6, 0x1a]);
    b.extend_from_slice(&u64::from(1500 * i).to_be_bytes());
    b.extend_from_slice(&u64::from(10 + i).to_be_bytes());
    for v in [1u32, 2] {
        put32(b, v);
    }
    b.push(0);
    for v in times {
        put32(b, *v);
    }
}

fn template_set(b: &mut Vec<u8>, set_id: u16) {
    put16(b, set_id);
    put16(b, (8 + 4 * FIELDS.len()) as u16);
    put16(b, 256);
    put16(b, FIELDS.len() as u16);
    for (ie, len) in FIELDS {
        put16(b, ie);
        put16(b, len);
    }
}

fn data_set(b: &mut Vec<u8>) {
    let len: usize = FIELDS.iter().map(|f| usize::from(f.1)).sum();
    put16(b, 256);
    put16(b, (4 + RECORDS * len) as u16);
    for i in 0..RECORDS as u32 {
        record(b, i, &[300_000, 359_000]);
    }
}

fn v9_datagram(template: bool) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [9u16, RECORDS as u16] {
        put16(&mut b, v);
    }
    for v in [360_000u32, 1_796_325_242, 1, 0] {
        put32(&mut b, v);
    }
    if template {
        template_set(&mut b, 0);
    } else {
        data_set(&mut b);
    }
    b
}

fn ipfix_datagram(template: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, 10);
    put16(&mut b, 0);
    for v in [1_796_325_242u32, 0, 0] {
        put32(&mut b, v);
    }
    if template {
        template_set(&mut b, 2);
    } else {
        data_set(&mut b);
    }
    let len = (b.len() as u16).to_be_bytes();
    b[2..4].copy_from_slice(&len);
    b
}

/// This thread's CPU time in seconds, if the kernel tells.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Records per second (CPU time, wall time) of one run decoding `data` over and over.
fn run(decoder: &mut Decoder, data: &[u8], out: &mut Vec<FlowRecord>) -> (f64, f64) {
    let exporter: IpAddr = "192.0.2.241".parse().unwrap();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..DATAGRAMS_PER_RUN {
        out.clear();
        decoder.decode(exporter, black_box(data), 1_796_325_242_000, out);
        n += out.len();
        black_box(&out);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_secs()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    (n as f64 / cpu, n as f64 / wall)
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn bench(name: &str, template: Option<Vec<u8>>, data: Vec<u8>) {
    let mut decoder = Decoder::new(Limits::default());
    let mut out = Vec::with_capacity(RECORDS);
    if let Some(t) = template {
        decoder.decode("192.0.2.241".parse().unwrap(), &t, 0, &mut out);
    }
    out.clear();
    decoder.decode("192.0.2.241".parse().unwrap(), &data, 0, &mut out);
    assert_eq!(out.len(), RECORDS, "{name}: benchmark datagram must decode");

    let runs: Vec<(f64, f64)> = (0..RUNS)
        .map(|_| run(&mut decoder, &data, &mut out))
        .collect();
    let (cpu, lo, hi) = median(runs.iter().map(|r| r.0).collect());
    let (wall, _, _) = median(runs.iter().map(|r| r.1).collect());
    println!(
        "{name:>6}: median {:6.2} M records/s per core (CPU time; min {:.2}, max {:.2}; \
         wall-clock median {:.2}); {RUNS} runs of {} records, templates known {}",
        cpu / 1e6,
        lo / 1e6,
        hi / 1e6,
        wall / 1e6,
        DATAGRAMS_PER_RUN * RECORDS,
        decoder.templates_known()
    );
}

/// Records per CPU second decoding a whole capture again and again, templates included
/// (each pass starts with a fresh decoder, as a collector that just started).
fn bench_capture(path: &std::path::Path) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let datagrams = pcap_udp::udp_datagrams(&bytes);
    let mut out = Vec::new();
    let mut records = 0;
    let passes = 200;
    let cpu0 = cpu_secs().unwrap_or(0.0);
    let start = Instant::now();
    for _ in 0..passes {
        let mut decoder = Decoder::new(Limits::default());
        for d in &datagrams {
            out.clear();
            decoder.decode(d.src, black_box(&d.payload), d.time_ms, &mut out);
            records += out.len();
        }
    }
    let cpu = match cpu_secs() {
        Some(c) if c > cpu0 => c - cpu0,
        _ => start.elapsed().as_secs_f64(),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    println!(
        "  {name}: {:.2} M records/s per core ({} records in {} datagrams per pass)",
        records as f64 / cpu / 1e6,
        records / passes,
        datagrams.len()
    );
}

fn testdata() -> std::path::PathBuf {
    match std::env::var_os("FLOWALERT_TESTDATA") {
        Some(dir) => dir.into(),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
    }
}

fn main() {
    bench("v5", None, v5_datagram());
    bench("v9", Some(v9_datagram(true)), v9_datagram(false));
    bench("ipfix", Some(ipfix_datagram(true)), ipfix_datagram(false));

    let own = testdata().join("captures/own");
    println!("real captures ({}), fresh decoder per pass:", own.display());
    let Ok(dir) = std::fs::read_dir(&own) else {
        println!("  not found: set FLOWALERT_TESTDATA");
        return;
    };
    let mut paths: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.to_string_lossy();
        if name.ends_with(".pcap") && !name.contains("input_traffic") && !name.contains("sflow") {
            bench_capture(&p);
        }
    }
}
