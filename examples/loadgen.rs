//! flowalert's load generator: NetFlow v5 datagrams at a set rate from many exporters, sent
//! with sendmmsg, or written to a pcap file for `replay` benchmarks; and random prefix lists.
//!
//! Each exporter is its own source address (127.0.0.2, 127.0.0.3, ...) with its own v5
//! sequence numbers, so the collector can count what it lost. Addresses in the flows are
//! drawn from a seeded generator: the same arguments give the same traffic.
//!
//! ```text
//! cargo run --release --example loadgen -- send --target 127.0.0.1:2055 --rate 50000 --seconds 10
//! cargo run --release --example loadgen -- pcap --out /tmp/bench.pcap --records 10000000
//! cargo run --release --example loadgen -- list --out /tmp/1m.txt --prefixes 1000000
//! ```

use std::fs::File;
use std::io::{BufWriter, IoSlice, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

#[derive(Parser)]
#[command(about = "NetFlow v5 load for flowalert benchmarks")]
struct Args {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Send datagrams over UDP.
    Send {
        #[arg(long, default_value = "127.0.0.1:2055")]
        target: SocketAddr,
        /// Distinct exporters, each from its own loopback address.
        #[arg(long, default_value_t = 4)]
        exporters: u32,
        /// Datagrams per second in all; 0 sends as fast as the socket takes them.
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 30)]
        records: usize,
        /// One flow in this many goes to this address (0: none).
        #[arg(long, default_value_t = 0)]
        listed_every: u64,
        #[arg(long, default_value = "203.0.113.66")]
        listed: Ipv4Addr,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a pcap of export traffic with at least `records` flow records.
    Pcap {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000_000)]
        records: u64,
        #[arg(long, default_value_t = 4)]
        exporters: u32,
        /// Simulated datagrams per second, for the capture's timestamps.
        #[arg(long, default_value_t = 50_000)]
        rate: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a plain list of random IPv4 prefixes (/24 to /32) and IPv6 prefixes.
    List {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        prefixes: u64,
        #[arg(long, default_value_t = 0)]
        ipv6: u64,
        #[arg(long, default_value_t = 2)]
        seed: u64,
    },
}

fn main() -> std::io::Result<()> {
    match Args::parse().command {
        Mode::Send {
            target,
            exporters,
            rate,
            seconds,
            records,
            listed_every,
            listed,
            seed,
        } => {
            let traffic = Traffic::new(seed, records, listed_every, listed);
            send(target, exporters, rate, seconds, traffic)
        }
        Mode::Pcap {
            out,
            records,
            exporters,
            rate,
            seed,
        } => write_pcap(
            &out,
            records,
            exporters,
            rate,
            Traffic::new(seed, 30, 0, listed0()),
        ),
        Mode::List {
            out,
            prefixes,
            ipv6,
            seed,
        } => write_list(&out, prefixes, ipv6, seed),
    }
}

fn listed0() -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, 66)
}

/// xorshift64*: fast, seeded, good enough to spread addresses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Makes datagrams: random public-looking addresses, a listed address now and then.
struct Traffic {
    rng: Rng,
    records: usize,
    listed_every: u64,
    listed: Ipv4Addr,
    flows: u64,
}

impl Traffic {
    fn new(seed: u64, records: usize, listed_every: u64, listed: Ipv4Addr) -> Traffic {
        Traffic {
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            records: records.clamp(1, 30),
            listed_every,
            listed,
            flows: 0,
        }
    }

    /// One v5 datagram from an exporter at `sequence`, `unix_secs`.
    fn datagram(&mut self, buffer: &mut Vec<u8>, sequence: u32, unix_secs: u32) {
        buffer.clear();
        let uptime: u32 = 3_600_000;
        buffer.extend_from_slice(&5u16.to_be_bytes());
        buffer.extend_from_slice(&(self.records as u16).to_be_bytes());
        buffer.extend_from_slice(&uptime.to_be_bytes());
        buffer.extend_from_slice(&unix_secs.to_be_bytes());
        buffer.extend_from_slice(&0u32.to_be_bytes());
        buffer.extend_from_slice(&sequence.to_be_bytes());
        buffer.extend_from_slice(&[0; 4]);
        for _ in 0..self.records {
            self.record(buffer, uptime);
        }
    }

    fn record(&mut self, buffer: &mut Vec<u8>, uptime: u32) {
        let random = self.rng.next();
        self.flows += 1;
        let src = Ipv4Addr::from(0xC000_0200 | (random as u32 & 0xff));
        let listed = self.listed_every > 0 && self.flows % self.listed_every == 0;
        let dst = if listed {
            self.listed
        } else {
            Ipv4Addr::from((random >> 32) as u32 | 0x0100_0000)
        };
        buffer.extend_from_slice(&src.octets());
        buffer.extend_from_slice(&dst.octets());
        buffer.extend_from_slice(&[0; 4]);
        buffer.extend_from_slice(&[0, 1, 0, 2]);
        buffer.extend_from_slice(&3u32.to_be_bytes());
        buffer.extend_from_slice(&180u32.to_be_bytes());
        buffer.extend_from_slice(&(uptime - 2_000).to_be_bytes());
        buffer.extend_from_slice(&(uptime - 1_000).to_be_bytes());
        buffer.extend_from_slice(&((random >> 8) as u16 | 1024).to_be_bytes());
        buffer.extend_from_slice(&443u16.to_be_bytes());
        buffer.extend_from_slice(&[0, 0x1b, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
    }
}

fn now_secs() -> u32 {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    elapsed.map_or(0, |d| d.as_secs() as u32)
}

/// Datagrams handed to the kernel per sendmmsg call.
const BATCH: usize = 32;

fn send(
    target: SocketAddr,
    exporters: u32,
    rate: u64,
    seconds: f64,
    mut traffic: Traffic,
) -> std::io::Result<()> {
    let sockets = exporter_sockets(target, exporters)?;
    let mut sequences = vec![0u32; sockets.len()];
    let mut buffers: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1500)).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let started = Instant::now();
    let stop = started + Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    let mut turn = 0usize;

    while Instant::now() < stop {
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                std::thread::sleep((due - elapsed).min(Duration::from_millis(5)));
                continue;
            }
        }
        let index = turn % sockets.len();
        turn += 1;
        for buffer in &mut buffers {
            traffic.datagram(buffer, sequences[index], now_secs());
            sequences[index] = sequences[index].wrapping_add(traffic.records as u32);
        }
        let slices: Vec<[IoSlice<'_>; 1]> = buffers.iter().map(|b| [IoSlice::new(b)]).collect();
        let addresses: Vec<Option<SockaddrStorage>> = vec![None; BATCH];
        let fd = sockets[index].as_raw_fd();
        match sendmmsg(fd, &mut headers, &slices, addresses, [], MsgFlags::empty()) {
            Ok(results) => sent += results.count() as u64,
            Err(nix::errno::Errno::ECONNREFUSED) => {}
            Err(err) => return Err(err.into()),
        }
    }

    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sent {sent} datagrams ({} records) from {} exporters in {elapsed:.2} s: {:.0}/s",
        sent * traffic.records as u64,
        sockets.len(),
        sent as f64 / elapsed
    );
    Ok(())
}

/// One connected socket per exporter, bound to 127.0.0.2, 127.0.0.3, ...
fn exporter_sockets(target: SocketAddr, exporters: u32) -> std::io::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::new();
    for index in 0..exporters.max(1) {
        let source = Ipv4Addr::from(0x7f00_0002 + index);
        let socket = UdpSocket::bind((source, 0))?;
        socket.connect(target)?;
        sockets.push(socket);
    }
    Ok(sockets)
}

fn write_pcap(
    path: &PathBuf,
    records: u64,
    exporters: u32,
    rate: u64,
    mut traffic: Traffic,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&[2, 0, 4, 0])?;
    out.write_all(&[0; 8])?;
    out.write_all(&65_535u32.to_le_bytes())?;
    out.write_all(&101u32.to_le_bytes())?; // LINKTYPE_RAW: IPv4 without a link header

    let exporters = exporters.max(1);
    let mut sequences = vec![0u32; exporters as usize];
    let mut datagram = Vec::with_capacity(1500);
    let per_datagram = traffic.records as u64;
    let start_us: u64 = 1_764_787_200 * 1_000_000;
    let step_us = 1_000_000 / rate.max(1);
    let datagrams = records.div_ceil(per_datagram);

    for index in 0..datagrams {
        let exporter = (index % u64::from(exporters)) as usize;
        let time_us = start_us + index * step_us;
        traffic.datagram(
            &mut datagram,
            sequences[exporter],
            (time_us / 1_000_000) as u32,
        );
        sequences[exporter] = sequences[exporter].wrapping_add(per_datagram as u32);
        let source = Ipv4Addr::from(0x7f00_0002 + exporter as u32);
        write_frame(&mut out, time_us, source, &datagram)?;
    }
    out.flush()?;
    println!(
        "wrote {datagrams} datagrams, {} records",
        datagrams * per_datagram
    );
    Ok(())
}

fn write_frame(
    out: &mut impl Write,
    time_us: u64,
    src: Ipv4Addr,
    payload: &[u8],
) -> std::io::Result<()> {
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    out.write_all(&((time_us / 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&((time_us % 1_000_000) as u32).to_le_bytes())?;
    out.write_all(&(ip_len as u32).to_le_bytes())?;
    out.write_all(&(ip_len as u32).to_le_bytes())?;
    out.write_all(&[0x45, 0])?;
    out.write_all(&(ip_len as u16).to_be_bytes())?;
    out.write_all(&[0, 0, 0x40, 0, 64, 17, 0, 0])?;
    out.write_all(&src.octets())?;
    out.write_all(&[127, 0, 0, 1])?;
    out.write_all(&50_000u16.to_be_bytes())?;
    out.write_all(&2055u16.to_be_bytes())?;
    out.write_all(&(udp_len as u16).to_be_bytes())?;
    out.write_all(&[0, 0])?;
    out.write_all(payload)
}

fn write_list(path: &PathBuf, prefixes: u64, ipv6: u64, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "# {prefixes} random IPv4 and {ipv6} IPv6 prefixes (seed {seed})"
    )?;
    for _ in 0..prefixes {
        let random = rng.next();
        let length = 24 + (random >> 40) % 9;
        let address = (random as u32 | 0x0100_0000) & (u32::MAX << (32 - length));
        writeln!(out, "{}/{length}", Ipv4Addr::from(address))?;
    }
    for _ in 0..ipv6 {
        // Global unicast (2000::/3), /32 to /64.
        let high = (rng.next() & 0x1fff_ffff_ffff_ffff) | 0x2000_0000_0000_0000;
        let length = 32 + high % 33;
        let address = (u128::from(high) << 64) & (u128::MAX << (128 - length));
        writeln!(out, "{}/{length}", std::net::Ipv6Addr::from(address))?;
    }
    out.flush()?;
    Ok(())
}
