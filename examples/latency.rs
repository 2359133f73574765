//! Datagram-to-record latency of a running flowalert: sends one NetFlow v5 datagram with one
//! flow to a listed address, waits for the RFC 5424 record on a UDP syslog listener of its
//! own, and times the two; prints p50, p99 and max over all samples.
//!
//! Every flow has its own source address (10.0.0.1 + offset, and up), so no two flows
//! share a folding pair. The service needs `max-peers = 0` and `max-records-per-second = 0`
//! so that no record is folded or capped, and `[output] syslog` naming `--listen`.
//! Loopback only; the run ends after `--samples` datagrams, each waited for at most 1 s.
//!
//! ```text
//! cargo run --release --example latency -- --target 127.0.0.1:2055 --listen 127.0.0.1:5514
//! ```

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
#[command(about = "Datagram-to-record latency of a running flowalert")]
struct Args {
    /// Where flowalert receives flows.
    #[arg(long, default_value = "127.0.0.1:2055")]
    target: SocketAddr,
    /// The UDP syslog address flowalert sends its records to; bound here.
    #[arg(long, default_value = "127.0.0.1:5514")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 10_000)]
    samples: u32,
    /// The listed address every flow goes to.
    #[arg(long, default_value = "203.0.113.66")]
    listed: Ipv4Addr,
    /// The first flow's source is 10.0.0.1 plus this; runs against one service need
    /// different offsets, since a pair already seen folds.
    #[arg(long, default_value_t = 0)]
    offset: u32,
    /// Pause between one record's arrival and the next datagram.
    #[arg(long, default_value_t = 200)]
    gap_us: u64,
}

/// How long one record is waited for before the sample counts as lost.
const WAIT: Duration = Duration::from_secs(1);
/// Sources are 10.0.0.1 and up: the home side of each flow, one per sample.
const FIRST_SOURCE: u32 = 0x0a00_0001;

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let exporter = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))?;
    exporter.connect(args.target)?;
    let syslog = UdpSocket::bind(args.listen)?;
    syslog.set_read_timeout(Some(Duration::from_millis(50)))?;

    let mut latencies = Vec::with_capacity(args.samples as usize);
    let mut lost = 0u32;
    let mut datagram = Vec::with_capacity(72);
    for sample in 0..args.samples {
        let source = Ipv4Addr::from(FIRST_SOURCE + args.offset + sample);
        v5_datagram(&mut datagram, sample, source, args.listed);
        let sent = Instant::now();
        exporter.send(&datagram)?;
        match wait_for(&syslog, source, sent)? {
            Some(latency) => latencies.push(latency),
            None => lost += 1,
        }
        std::thread::sleep(Duration::from_micros(args.gap_us));
    }

    report(&mut latencies, lost);
    Ok(())
}

/// Receives records until the one naming `source` arrives; its arrival time less `sent`.
fn wait_for(
    syslog: &UdpSocket,
    source: Ipv4Addr,
    sent: Instant,
) -> std::io::Result<Option<Duration>> {
    let wanted = format!(" src={source} ");
    let mut buffer = [0u8; 2048];
    while sent.elapsed() < WAIT {
        let length = match syslog.recv(&mut buffer) {
            Ok(length) => length,
            Err(err) if would_block(&err) => continue,
            Err(err) => return Err(err),
        };
        let arrived = sent.elapsed();
        let text = String::from_utf8_lossy(&buffer[..length]);
        if text.contains(" hit ") && text.contains(&wanted) {
            return Ok(Some(arrived));
        }
    }
    Ok(None)
}

fn would_block(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn report(latencies: &mut [Duration], lost: u32) {
    latencies.sort_unstable();
    let at = |fraction: f64| -> String {
        if latencies.is_empty() {
            return "-".into();
        }
        let index = ((latencies.len() as f64 * fraction).ceil() as usize).clamp(1, latencies.len());
        format!("{}", latencies[index - 1].as_micros())
    };
    println!(
        "samples={} lost={lost} p50-us={} p99-us={} max-us={}",
        latencies.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

/// One v5 datagram (24-byte header, one 48-byte record): `source`:40000 to `listed`:443 TCP.
fn v5_datagram(buffer: &mut Vec<u8>, sequence: u32, source: Ipv4Addr, listed: Ipv4Addr) {
    let uptime: u32 = 3_600_000;
    let unix_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    buffer.clear();
    buffer.extend_from_slice(&5u16.to_be_bytes());
    buffer.extend_from_slice(&1u16.to_be_bytes());
    buffer.extend_from_slice(&uptime.to_be_bytes());
    buffer.extend_from_slice(&unix_secs.to_be_bytes());
    buffer.extend_from_slice(&0u32.to_be_bytes());
    buffer.extend_from_slice(&sequence.to_be_bytes());
    buffer.extend_from_slice(&[0; 4]);

    buffer.extend_from_slice(&source.octets());
    buffer.extend_from_slice(&listed.octets());
    buffer.extend_from_slice(&[0; 4]); // next hop
    buffer.extend_from_slice(&[0, 1, 0, 2]); // input, output interface
    buffer.extend_from_slice(&3u32.to_be_bytes()); // packets
    buffer.extend_from_slice(&180u32.to_be_bytes()); // bytes
    buffer.extend_from_slice(&(uptime - 2_000).to_be_bytes()); // first
    buffer.extend_from_slice(&(uptime - 1_000).to_be_bytes()); // last
    buffer.extend_from_slice(&40_000u16.to_be_bytes());
    buffer.extend_from_slice(&443u16.to_be_bytes());
    // pad, TCP flags SYN+ACK+PSH+FIN, TCP, tos, src/dst AS, masks, pad
    buffer.extend_from_slice(&[0, 0x1b, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0]);
}
