//! IP fragment reassembly for replay (IPv4 and the IPv6 fragment header).
//!
//! Bounded: at most `max_pending` datagrams in progress and `max_bytes` of fragment data held;
//! the oldest reassembly is dropped to make room, one older than `timeout_us` of capture time
//! is dropped when the next fragment arrives, and whatever is left at the end of the file is
//! dropped. Every dropped fragment and reassembly is counted. Overlapping fragments drop the
//! whole datagram (RFC 5722); an exact duplicate is dropped on its own.

use super::packet::{Fragment, FragmentKey};
use super::CaptureCounters;

/// No IP datagram (without jumbograms) is longer than this.
const MAX_DATAGRAM: usize = 65_535;

/// How much reassembly may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Datagrams being reassembled at once.
    pub max_pending: usize,
    /// Fragment bytes held over all of them.
    pub max_bytes: usize,
    /// Capture time after the first fragment when an incomplete datagram is given up.
    pub timeout_us: i64,
}

impl Default for Limits {
    /// 256 datagrams, 8 MiB, 30 s (the IPv4 reassembly timeout Linux uses).
    fn default() -> Limits {
        Limits {
            max_pending: 256,
            max_bytes: 8 << 20,
            timeout_us: 30_000_000,
        }
    }
}

/// One datagram in progress.
struct Pending {
    key: FragmentKey,
    first_us: i64,
    /// (offset, bytes), sorted by offset, never overlapping.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Known once the last fragment (no "more" flag) arrived.
    total: Option<usize>,
    bytes: usize,
}

/// The fragments of every datagram still incomplete.
pub struct Reassembler {
    limits: Limits,
    /// Oldest first; small enough (`max_pending`) for a linear search.
    pending: Vec<Pending>,
    bytes: usize,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler {
            limits,
            pending: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one fragment seen at `now_us`; returns the IP payload when it completes one.
    pub fn insert(
        &mut self,
        fragment: &Fragment<'_>,
        now_us: i64,
        counters: &mut CaptureCounters,
    ) -> Option<(FragmentKey, Vec<u8>)> {
        self.expire(now_us, counters);
        let len = fragment.data.len();
        let end = fragment.offset.saturating_add(len);
        let misaligned = fragment.more && (len == 0 || len % 8 != 0);
        if end > MAX_DATAGRAM || misaligned || len > self.limits.max_bytes {
            counters.fragments_dropped += 1;
            return None;
        }

        let index = self.slot_for(fragment.key, len, now_us, counters)?;
        match add_piece(&mut self.pending[index], fragment, end) {
            Added::Piece => self.bytes += len,
            Added::Duplicate => {
                counters.fragments_dropped += 1;
                return None;
            }
            Added::Inconsistent => {
                counters.fragments_dropped += 1;
                self.drop_at(index, counters);
                return None;
            }
        }

        self.take_if_complete(index, counters)
    }

    /// Drops every reassembly still incomplete (end of the capture).
    pub fn flush(&mut self, counters: &mut CaptureCounters) {
        while !self.pending.is_empty() {
            self.drop_at(0, counters);
        }
    }

    fn expire(&mut self, now_us: i64, counters: &mut CaptureCounters) {
        let timeout = self.limits.timeout_us;
        while let Some(index) = self
            .pending
            .iter()
            .position(|p| now_us.saturating_sub(p.first_us).abs() > timeout)
        {
            self.drop_at(index, counters);
        }
    }

    /// The index of the reassembly for `key`, made (and room made for `len` more bytes) as
    /// needed; `None` when the fragment cannot be held.
    fn slot_for(
        &mut self,
        key: FragmentKey,
        len: usize,
        now_us: i64,
        counters: &mut CaptureCounters,
    ) -> Option<usize> {
        let existing = self.pending.iter().position(|p| p.key == key);
        if existing.is_none() {
            while self.pending.len() >= self.limits.max_pending.max(1) {
                self.drop_at(0, counters);
            }
        }

        // Make room by dropping the oldest other reassemblies first.
        let mut keep = existing;
        while self.bytes + len > self.limits.max_bytes {
            match (0..self.pending.len()).find(|&i| Some(i) != keep) {
                Some(victim) => {
                    self.drop_at(victim, counters);
                    keep = keep.map(|k| if victim < k { k - 1 } else { k });
                }
                None => break,
            }
        }
        if self.bytes + len > self.limits.max_bytes {
            counters.fragments_dropped += 1;
            if let Some(k) = keep {
                self.drop_at(k, counters);
            }
            return None;
        }

        match keep {
            Some(index) => Some(index),
            None => {
                self.pending.push(Pending {
                    key,
                    first_us: now_us,
                    pieces: Vec::new(),
                    total: None,
                    bytes: 0,
                });
                Some(self.pending.len() - 1)
            }
        }
    }

    fn take_if_complete(
        &mut self,
        index: usize,
        counters: &mut CaptureCounters,
    ) -> Option<(FragmentKey, Vec<u8>)> {
        let total = self.pending[index].total?;
        if !covers(&self.pending[index].pieces, total) {
            return None;
        }

        let done = self.pending.remove(index);
        self.bytes -= done.bytes;
        let mut payload = Vec::with_capacity(total);
        for (_, bytes) in &done.pieces {
            payload.extend_from_slice(bytes);
        }
        counters.reassembled += 1;
        Some((done.key, payload))
    }

    fn drop_at(&mut self, index: usize, counters: &mut CaptureCounters) {
        let gone = self.pending.remove(index);
        self.bytes -= gone.bytes;
        counters.fragments_dropped += gone.pieces.len() as u64;
        counters.reassemblies_dropped += 1;
    }
}

enum Added {
    Piece,
    Duplicate,
    /// Overlapping data or a second, different end: the datagram cannot be trusted.
    Inconsistent,
}

fn add_piece(pending: &mut Pending, fragment: &Fragment<'_>, end: usize) -> Added {
    let offset = fragment.offset;
    if let Some(total) = pending.total {
        if end > total || (!fragment.more && end != total) {
            return Added::Inconsistent;
        }
    }
    if !fragment.more && pending.pieces.iter().any(|(o, b)| o + b.len() > end) {
        return Added::Inconsistent;
    }

    let at = pending.pieces.partition_point(|(o, _)| *o < offset);
    if let Some((o, b)) = pending.pieces.get(at) {
        if *o == offset && b.as_slice() == fragment.data {
            return Added::Duplicate;
        }
        if *o < end {
            return Added::Inconsistent;
        }
    }
    if let Some((o, b)) = at.checked_sub(1).and_then(|i| pending.pieces.get(i)) {
        if o + b.len() > offset {
            return Added::Inconsistent;
        }
    }

    if !fragment.more {
        pending.total = Some(end);
    }
    pending.pieces.insert(at, (offset, fragment.data.to_vec()));
    pending.bytes += fragment.data.len();
    Added::Piece
}

/// True when the sorted, non-overlapping pieces fill `0..total` without a hole.
fn covers(pieces: &[(usize, Vec<u8>)], total: usize) -> bool {
    let mut next = 0;
    for (offset, bytes) in pieces {
        if *offset != next {
            return false;
        }
        next += bytes.len();
    }
    next == total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(id: u32) -> FragmentKey {
        FragmentKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            id,
            next_header: 17,
        }
    }

    fn frag(id: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            data,
        }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut r = Reassembler::new(Limits::default());
        let mut c = CaptureCounters::default();
        assert_eq!(r.insert(&frag(7, 8, false, b"tail"), 0, &mut c), None);
        let done = r.insert(&frag(7, 0, true, b"01234567"), 1, &mut c);
        assert_eq!(done, Some((key(7), b"01234567tail".to_vec())));
        assert_eq!((c.reassembled, c.fragments_dropped), (1, 0));
        assert!(r.pending.is_empty());
        assert_eq!(r.bytes, 0);
    }

    #[test]
    fn duplicate_is_dropped_alone_and_overlap_drops_the_datagram() {
        let mut r = Reassembler::new(Limits::default());
        let mut c = CaptureCounters::default();
        r.insert(&frag(1, 0, true, b"AAAAAAAA"), 0, &mut c);
        r.insert(&frag(1, 0, true, b"AAAAAAAA"), 0, &mut c);
        assert_eq!((c.fragments_dropped, c.reassemblies_dropped), (1, 0));
        // Starts inside the first piece with different bytes.
        r.insert(&frag(1, 0, true, b"BBBBBBBBBBBBBBBB"), 0, &mut c);
        assert_eq!((c.fragments_dropped, c.reassemblies_dropped), (3, 1));
        assert!(r.pending.is_empty());
    }

    #[test]
    fn misaligned_middle_fragment_is_dropped() {
        let mut r = Reassembler::new(Limits::default());
        let mut c = CaptureCounters::default();
        assert_eq!(r.insert(&frag(1, 0, true, b"abc"), 0, &mut c), None);
        assert_eq!(c.fragments_dropped, 1);
        assert!(r.pending.is_empty());
    }

    #[test]
    fn pending_cap_drops_the_oldest() {
        let limits = Limits {
            max_pending: 2,
            ..Limits::default()
        };
        let mut r = Reassembler::new(limits);
        let mut c = CaptureCounters::default();
        for id in 0..3 {
            r.insert(&frag(id, 0, true, b"12345678"), 0, &mut c);
        }
        assert_eq!(r.pending.len(), 2);
        assert_eq!(r.pending[0].key.id, 1);
        assert_eq!((c.reassemblies_dropped, c.fragments_dropped), (1, 1));
        // Completing id 0 is no longer possible: its first half is gone.
        assert_eq!(r.insert(&frag(0, 8, false, b"x"), 0, &mut c), None);
    }

    #[test]
    fn byte_cap_drops_others_then_refuses() {
        let limits = Limits {
            max_bytes: 16,
            ..Limits::default()
        };
        let mut r = Reassembler::new(limits);
        let mut c = CaptureCounters::default();
        r.insert(&frag(1, 0, true, b"11111111"), 0, &mut c);
        r.insert(&frag(2, 0, true, b"22222222"), 0, &mut c);
        r.insert(&frag(3, 0, true, b"33333333"), 0, &mut c);
        assert_eq!(
            r.pending.iter().map(|p| p.key.id).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(r.bytes, 16);
        // 24 bytes can never fit in 16.
        r.insert(&frag(2, 8, true, &[0; 24]), 0, &mut c);
        assert_eq!(
            r.pending.iter().map(|p| p.key.id).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!((c.reassemblies_dropped, c.fragments_dropped), (1, 2));
    }

    #[test]
    fn timeout_and_flush_count_incomplete_datagrams() {
        let mut r = Reassembler::new(Limits::default());
        let mut c = CaptureCounters::default();
        r.insert(&frag(1, 0, true, b"11111111"), 0, &mut c);
        r.insert(&frag(2, 0, true, b"22222222"), 29_000_000, &mut c);
        r.insert(&frag(3, 0, true, b"33333333"), 31_000_000, &mut c);
        assert_eq!(r.pending.len(), 2);
        assert_eq!(c.reassemblies_dropped, 1);
        r.flush(&mut c);
        assert_eq!((c.reassemblies_dropped, c.fragments_dropped), (3, 3));
        assert_eq!(r.bytes, 0);
    }
}
