//! Decoding speed on the real captures of the shared test data, per export version.
//!
//! Every v5, v9 and IPFIX capture is read once with `CaptureReader` into memory; then each
//! round decodes every capture's datagrams in file order. "cold": a fresh `Decoder` per
//! capture and round, so each round learns the capture's templates again, as `replay`
//! does. "warm": one decoder per capture kept from the first round, templates known (the
//! steady state of a collector). Prints records/s on one core, the median of several runs.
//! Run: `cargo bench --bench decode_captures`.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowalert::capture::CaptureReader;
use flowalert::flow::{Decoder, FlowRecord, Limits};

/// Runs per group; the median is reported.
const RUNS: usize = 9;
/// Each run repeats rounds until it has taken at least this long.
const RUN_TIME: Duration = Duration::from_millis(300);

/// One capture's datagrams: (exporter, payload, capture time in ms).
struct Capture {
    datagrams: Vec<(IpAddr, Vec<u8>, i64)>,
}

fn testdata_dir() -> PathBuf {
    match std::env::var_os("FLOWALERT_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
    }
}

fn load(path: &Path) -> Capture {
    let mut reader =
        CaptureReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut datagrams = Vec::new();
    while let Some(d) = reader
        .next_datagram()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    {
        datagrams.push((d.src.ip(), d.payload, d.time_us / 1000));
    }
    Capture { datagrams }
}

/// The export version of a capture: that of its first datagram.
fn version(c: &Capture) -> u16 {
    c.datagrams
        .first()
        .and_then(|(_, p, _)| p.get(..2))
        .map_or(0, |v| u16::from_be_bytes([v[0], v[1]]))
}

/// Decodes every capture once with `decoders[i]` for capture `i`; returns the records
/// decoded.
fn round(captures: &[&Capture], decoders: &mut [Decoder], out: &mut Vec<FlowRecord>) -> u64 {
    let mut records = 0;
    for (c, decoder) in captures.iter().zip(decoders.iter_mut()) {
        for (exporter, payload, now_ms) in &c.datagrams {
            decoder.decode(*exporter, payload, *now_ms, out);
            records += out.len() as u64;
            black_box(out.as_slice());
            out.clear();
        }
    }
    records
}

fn fresh(n: usize) -> Vec<Decoder> {
    (0..n).map(|_| Decoder::new(Limits::default())).collect()
}

/// Records per second of one run: rounds until `RUN_TIME` has passed.
fn run(captures: &[&Capture], warm: Option<&mut [Decoder]>) -> f64 {
    let mut out = Vec::with_capacity(1024);
    let started = Instant::now();
    let mut records = 0u64;
    match warm {
        Some(decoders) => {
            while started.elapsed() < RUN_TIME {
                records += round(captures, decoders, &mut out);
            }
        }
        None => {
            while started.elapsed() < RUN_TIME {
                records += round(captures, &mut fresh(captures.len()), &mut out);
            }
        }
    }
    records as f64 / started.elapsed().as_secs_f64()
}

/// The median, min and max of `RUNS` runs, in M records/s.
fn measure(mut one_run: impl FnMut() -> f64) -> (f64, f64, f64) {
    one_run();
    let mut rates: Vec<f64> = (0..RUNS).map(|_| one_run() / 1e6).collect();
    rates.sort_by(f64::total_cmp);
    (rates[RUNS / 2], rates[0], rates[RUNS - 1])
}

fn main() {
    let root = testdata_dir().join("captures");
    let pattern = format!("{}/**/*.pcap", root.display());
    let mut paths: Vec<PathBuf> = glob::glob(&pattern)
        .expect("glob pattern")
        .filter_map(Result::ok)
        .filter(|p| {
            let name = p.to_string_lossy();
            !name.contains("sflow")
                && !name.contains("_v1_")
                && !name.ends_with("input_traffic.pcap")
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no captures under {} (set FLOWALERT_TESTDATA)",
        root.display()
    );
    let captures: Vec<Capture> = paths.iter().map(|p| load(p)).collect();

    println!(
        "decode_captures: {} captures from {}",
        captures.len(),
        root.display()
    );
    println!("group  captures datagrams records/round templates   cold M rec/s   warm M rec/s");
    for (name, v) in [("v5", 5), ("v9", 9), ("IPFIX", 10)] {
        let group: Vec<&Capture> = captures.iter().filter(|c| version(c) == v).collect();
        let datagrams: usize = group.iter().map(|c| c.datagrams.len()).sum();
        let mut decoders = fresh(group.len());
        let records = round(&group, &mut decoders, &mut Vec::new());
        let templates: usize = decoders.iter().map(Decoder::templates_known).sum();

        let cold = measure(|| run(&group, None));
        let warm = measure(|| run(&group, Some(&mut decoders)));
        let rate =
            |(median, min, max): (f64, f64, f64)| format!("{median:>5.2} ({min:.2}..{max:.2})");
        println!(
            "{name:<6} {:>8} {datagrams:>9} {records:>13} {templates:>9}   {}   {}",
            group.len(),
            rate(cold),
            rate(warm),
        );
    }
    println!(
        "(median of {RUNS} runs of >= {} ms each; min..max in brackets)",
        RUN_TIME.as_millis()
    );
}
