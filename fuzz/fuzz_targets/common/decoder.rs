//! The decoder fuzz targets' one body: the decoder lives across inputs, so templates, held
//! data and sequence state from earlier inputs shape later ones.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};

use flowalert::flow::{Decoder, FlowRecord, Limits};

thread_local! {
    static DECODER: RefCell<Decoder> = RefCell::new(Decoder::new(Limits {
        max_per_exporter: 64,
        max_exporters: 4,
        hold_bytes: 64 * 1024,
        ..Limits::default()
    }));
    static NOW: RefCell<i64> = const { RefCell::new(1_796_325_242_000) };
}

/// One input: the first byte picks one of 4 exporters and how far time moves; the rest is
/// the datagram, its version forced to `version`.
pub fn run(data: &[u8], version: u16) {
    // First byte picks one of 4 exporters; the rest is the datagram with its version set.
    let Some((&who, rest)) = data.split_first() else {
        return;
    };
    let mut datagram = rest.to_vec();
    if datagram.len() >= 2 {
        datagram[..2].copy_from_slice(&version.to_be_bytes());
    }
    let exporter = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (who & 3)));

    let now = NOW.with(|n| {
        let mut n = n.borrow_mut();
        *n += i64::from(who >> 2) * 1000;
        *n
    });
    DECODER.with(|d| {
        let mut d = d.borrow_mut();
        let mut out: Vec<FlowRecord> = Vec::new();
        d.decode(exporter, &datagram, now, &mut out);
        if who & 0x80 != 0 {
            d.expire(now);
        }
        assert!(d.templates_known() <= 4 * 64);
    });
}
