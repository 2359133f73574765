//! Datagrams the kernel dropped because a socket's receive buffer was full.
//!
//! Read from `/proc/self/net/udp` and `udp6` (the `drops` column of the rows whose local
//! port is one we listen on), which needs no privileges and no per-datagram work. A port
//! shared with another process would be counted with it; that is rare for flow ports.

use std::fs;

/// Sum of the kernel's drop counters for UDP sockets bound to any of `ports`.
pub fn udp_drops(ports: &[u16]) -> Option<u64> {
    let mut total = 0;
    let mut found = false;
    for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for (port, drops) in text.lines().skip(1).filter_map(parse_row) {
            if ports.contains(&port) {
                total += drops;
                found = true;
            }
        }
    }
    found.then_some(total)
}

/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops`
fn parse_row(line: &str) -> Option<(u16, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let (_, port_hex) = local.rsplit_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let drops = fields.last()?.parse().ok()?;
    Some((port, drops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_port_and_drops_from_a_proc_row() {
        let row = "  812: 00000000:0807 00000000:0000 07 00000000:00000000 00:00000000 \
                   00000000   998        0 31337 2 0000000000000000 42";
        assert_eq!(parse_row(row), Some((2055, 42)));
        let v6 = "  99: 00000000000000000000000000000000:1283 \
                  00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 \
                  00000000     0        0 4242 2 0000000000000000 0";
        assert_eq!(parse_row(v6), Some((4739, 0)));
        assert_eq!(parse_row("garbage"), None);
    }
}
