//! The indicator set under load: 1 M random IPv4 prefixes and 100 k IPv6 with provenance.
//!
//! Prints build time, resident memory and lookups per second (random and listed addresses),
//! and iprange's `contains` on the same prefixes and addresses in the same run. Run with
//! `cargo bench --bench intel`; each lookup figure is the median of five rounds.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use flowalert::config::Networks;
use flowalert::intel::build::build_at;
use flowalert::intel::set::{IndicatorSet, SetBuilder};
use flowalert::intel::{Indicator, Indicators, Source};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

const V4_PREFIXES: usize = 1_000_000;
const V6_PREFIXES: usize = 100_000;
const PROBES: usize = 4_000_000;
const ROUNDS: usize = 5;

/// xorshift64*: the same prefixes and addresses on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// 60 % /32, 25 % /24, 15 % /20 to /23: roughly what blocklists hold.
fn v4_net(rng: &mut Rng) -> Ipv4Net {
    let len = match rng.next() % 100 {
        0..=59 => 32,
        60..=84 => 24,
        n => 20 + (n % 4) as u8,
    };
    Ipv4Net::new(Ipv4Addr::from(rng.next() as u32), len)
        .unwrap()
        .trunc()
}

/// 40 % /128, 30 % /64, 20 % /48, 10 % /32, all inside 2000::/3.
fn v6_net(rng: &mut Rng) -> Ipv6Net {
    let len = [128, 128, 128, 128, 64, 64, 64, 48, 48, 32][(rng.next() % 10) as usize];
    let bits = (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | 1 << 125;
    Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc()
}

fn nets() -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut rng = Rng(0x1f10_a1e7_0000_0001);
    let v4 = (0..V4_PREFIXES).map(|_| v4_net(&mut rng)).collect();
    let v6 = (0..V6_PREFIXES).map(|_| v6_net(&mut rng)).collect();
    (v4, v6)
}

/// Four sources, each entry with its text and one of a thousand comments.
fn sources(v4: &[Ipv4Net], v6: &[Ipv6Net]) -> Vec<Source> {
    let mut sources: Vec<Source> = ["drop", "firehol", "otx", "tor"]
        .iter()
        .map(|name| Source {
            name: (*name).into(),
            ref_url: Some(format!("https://lists.example/{name}")),
            ..Source::default()
        })
        .collect();
    let all = v4
        .iter()
        .map(|&n| IpNet::V4(n))
        .chain(v6.iter().map(|&n| IpNet::V6(n)));
    for (i, net) in all.enumerate() {
        sources[i % 4].indicators.push(Indicator {
            net,
            entry: net.to_string().into(),
            comment: format!("SBL{}", 100_000 + i % 1000).into(),
            url: None,
        });
    }
    sources
}

/// The set straight from the nets, without `Source` values around it, so its resident size
/// can be read on its own.
fn set_only(v4: &[Ipv4Net], v6: &[Ipv6Net]) -> IndicatorSet {
    // Room for the entries and about 16 bytes of text each.
    let mut builder = SetBuilder::with_capacity(v4.len() + v6.len(), (v4.len() + v6.len()) * 16);
    let ids: Vec<_> = ["drop", "firehol", "otx", "tor"]
        .iter()
        .map(|name| {
            builder
                .add_source(name, Some("https://lists.example/"))
                .unwrap()
        })
        .collect();
    let all = v4
        .iter()
        .map(|&n| IpNet::V4(n))
        .chain(v6.iter().map(|&n| IpNet::V6(n)));
    let mut text = String::new();
    let mut comment = String::new();
    for (i, net) in all.enumerate() {
        use std::fmt::Write;
        text.clear();
        comment.clear();
        let _ = write!(text, "{net}");
        let _ = write!(comment, "SBL{}", 100_000 + i % 1000);
        let id = builder
            .add_entry(ids[i % 4], &text, &comment, None)
            .unwrap();
        builder.cover_net(id, net);
    }
    builder.finish()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This thread's time on a CPU in ns (`/proc/thread-self/schedstat`), so that other
/// processes sharing the machine do not count against the set.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .unwrap_or(0)
}

/// A stopwatch over both wall time and this thread's CPU time, in seconds.
struct Watch {
    wall: Instant,
    cpu: u64,
}

impl Watch {
    fn start() -> Watch {
        Watch {
            wall: Instant::now(),
            cpu: cpu_ns(),
        }
    }

    fn seconds(&self) -> (f64, f64) {
        let cpu = cpu_ns().saturating_sub(self.cpu) as f64 / 1e9;
        (self.wall.elapsed().as_secs_f64(), cpu)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Lookups per second over `probes` by wall clock and per CPU second, medians of `ROUNDS`.
fn rate(probes: &[IpAddr], mut lookup: impl FnMut(IpAddr) -> usize) -> (Rate, usize) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut hits = 0;
    for _ in 0..ROUNDS {
        let watch = Watch::start();
        hits = probes.iter().map(|&a| lookup(black_box(a))).sum();
        let (w, c) = watch.seconds();
        wall.push(probes.len() as f64 / w);
        cpu.push(probes.len() as f64 / c);
    }
    (Rate(median(wall), median(cpu)), hits)
}

/// Millions per second: by the wall clock, and per second of this thread on a CPU.
#[derive(Debug, Clone, Copy)]
struct Rate(f64, f64);

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} M/s wall, {:.1} M/s per CPU second",
            self.0 / 1e6,
            self.1 / 1e6
        )
    }
}

fn random_probes(rng: &mut Rng) -> Vec<IpAddr> {
    (0..PROBES)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32)))
        .collect()
}

/// Addresses inside random entries, nine IPv4 for every IPv6.
fn listed_probes(rng: &mut Rng, v4: &[Ipv4Net], v6: &[Ipv6Net]) -> Vec<IpAddr> {
    (0..PROBES)
        .map(|i| {
            if i % 10 == 9 {
                let net = v6[(rng.next() % v6.len() as u64) as usize];
                let host = (u128::from(rng.next()) << 64 | u128::from(rng.next()))
                    & u128::from(net.hostmask());
                IpAddr::V6(Ipv6Addr::from(u128::from(net.network()) | host))
            } else {
                let net = v4[(rng.next() % v4.len() as u64) as usize];
                let host = rng.next() as u32 & u32::from(net.hostmask());
                IpAddr::V4(Ipv4Addr::from(u32::from(net.network()) | host))
            }
        })
        .collect()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let (v4, v6) = nets();
    println!("intel set: {V4_PREFIXES} IPv4 + {V6_PREFIXES} IPv6 random prefixes, 4 sources");

    // The set alone: resident memory before and after.
    let before = rss_kib();
    let watch = Watch::start();
    let set = set_only(&v4, &v6);
    let (direct_wall, direct_cpu) = watch.seconds();
    let after = rss_kib();
    let (seg4, seg6) = set.segments();
    println!(
        "set: {} entries, {seg4} IPv4 + {seg6} IPv6 segments, heap {:.1} MiB",
        set.entries(),
        set.heap_bytes() as f64 / 1048576.0
    );
    println!(
        "set resident: {:.1} MiB (VmRSS {:.1} -> {:.1} MiB); SetBuilder {:.0} ms ({:.0} ms CPU)",
        mib(after.saturating_sub(before)),
        mib(before),
        mib(after),
        direct_wall * 1e3,
        direct_cpu * 1e3
    );

    // The whole build path: sources deduplicated, carved around bogons, flattened.
    let networks = Networks {
        home: Vec::new(),
        exclude: Vec::new(),
        exclude_bogons: true,
    };
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let input = sources(&v4, &v6);
        let watch = Watch::start();
        let built = build_at(input, &networks, 0);
        let (w, c) = watch.seconds();
        wall.push(w * 1e3);
        cpu.push(c * 1e3);
        black_box(&built.set);
    }
    println!(
        "build() from sources, bogons carved: {:.0} ms wall, {:.0} ms CPU (medians of 3)",
        median(wall),
        median(cpu)
    );

    let mut rng = Rng(0xadd7_e55e_5000_0002);
    let random = random_probes(&mut rng);
    let listed = listed_probes(&mut rng, &v4, &v6);
    let mut out = Vec::with_capacity(64);
    let mut listings = |addr: IpAddr| {
        out.clear();
        set.listings(addr, &mut out);
        out.len()
    };
    let (fast_random, hits) = rate(&random, |a| usize::from(set.is_listed(a)));
    println!("is_listed, random IPv4: {fast_random} ({hits} of {PROBES} listed)");
    let (full_random, _) = rate(&random, &mut listings);
    println!("listings, random IPv4:  {full_random}");
    let (fast_listed, hits) = rate(&listed, |a| usize::from(set.is_listed(a)));
    println!("is_listed, listed:      {fast_listed} ({hits} of {PROBES} listed)");
    let (full_listed, found) = rate(&listed, &mut listings);
    println!("listings, listed:       {full_listed} ({found} listings)");
    // Real hits repeat (one C2 address in many flows): 1000 listed addresses, in cache.
    let hot: Vec<IpAddr> = (0..PROBES).map(|i| listed[i % 1000]).collect();
    let (hot_listed, _) = rate(&hot, &mut listings);
    println!("listings, 1000 hot listed addresses: {hot_listed}");
    drop(set);

    iprange_figures(&v4, &random, fast_random);
}

/// iprange 0.6 on the same IPv4 prefixes: resident memory and `contains` rate.
fn iprange_figures(v4: &[Ipv4Net], random: &[IpAddr], ours: Rate) {
    let before = rss_kib();
    let start = Instant::now();
    let mut range = iprange::IpRange::<Ipv4Net>::new();
    for &net in v4 {
        range.add(net);
    }
    range.simplify();
    let build_ms = start.elapsed().as_secs_f64() * 1000.0;
    let after = rss_kib();
    println!(
        "iprange: built in {build_ms:.0} ms, resident {:.1} MiB (IPv4 only, no provenance)",
        mib(after.saturating_sub(before))
    );

    // iprange is slow, so a quarter of the addresses is enough for a stable figure.
    let probes: Vec<Ipv4Addr> = random
        .iter()
        .take(PROBES / 4)
        .filter_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
        .collect();
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let watch = Watch::start();
        let hits = probes
            .iter()
            .filter(|a| range.contains(black_box(*a)))
            .count();
        black_box(hits);
        let (w, c) = watch.seconds();
        wall.push(probes.len() as f64 / w);
        cpu.push(probes.len() as f64 / c);
    }
    let theirs = Rate(median(wall), median(cpu));
    println!("iprange contains, random IPv4: {theirs}");
    println!(
        "is_listed / iprange contains, random IPv4: {:.1}x wall, {:.1}x CPU",
        ours.0 / theirs.0,
        ours.1 / theirs.1
    );
}
