//! The frozen indicator set: every entry's address ranges flattened into disjoint segments.
//!
//! Invariant: in each family the segment starts are strictly increasing and the first is 0,
//! so every address falls in exactly one segment; a segment's value is none, one entry, or an
//! interned group of entries, and it names every entry that covers the whole segment.
//! `SetBuilder` makes the set once; nothing changes it afterwards.
//!
//! An entry's note (its source, comment and url) and every string in it are stored once, in
//! tables that stay small when notes repeat (one per OTX pulse, per SBL record); a list with
//! a different comment on every line pays a boxed string per comment. Most entries are an
//! address or prefix written in its usual form: a segment covered by one such entry holds
//! the note and the prefix length itself, and a listing rebuilds the entry from the address
//! looked up, so it reads the segment and the small note table and nothing else; a group
//! of entries covering one segment holds the same for each. Other entries are records: an
//! ASCII header (text length, note) followed by the text, in one string. Records no segment
//! or group needs are not kept.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::{Entry, Indicators, Listing};

/// A segment value's top two bits say what it is: `NONE` (no entry), `RECORD` (one entry,
/// by its record's offset), `INLINE` (one entry rebuilt from its form and note, below), or
/// else a group of entries by its index.
const TAG: u32 = 0b11 << 30;
const NONE: u32 = u32::MAX;
const RECORD: u32 = 0b10 << 30;
const INLINE: u32 = 0b01 << 30;

/// An `INLINE` value: the entry's form in bits 22-29, its note in bits 0-21.
const NOTE_BITS: u32 = 22;
const NOTE_MASK: u32 = (1 << NOTE_BITS) - 1;

/// Forms: an IPv4 prefix length (0-32) or `V4_ADDR` for a bare address; IPv6 the same
/// from `V6_FORMS` on, so that a form also says its family.
const V4_ADDR: u32 = 33;
const V6_FORMS: u32 = 64;
const V6_ADDR: u32 = V6_FORMS + 129;

/// Entry ids are tagged with this bit in the sweep to mark where an entry stops.
const END: u32 = 1 << 31;

/// An address as a sortable integer: `u32` for IPv4, `u128` for IPv6.
trait Key: Copy + Ord + Default {
    const MAX: Self;
    /// Whether `form` (see `V6_FORMS`) is one of this family's.
    fn owns(form: u32) -> bool;
    fn next(self) -> Self;
}

impl Key for u32 {
    const MAX: u32 = u32::MAX;
    fn owns(form: u32) -> bool {
        form < V6_FORMS
    }
    fn next(self) -> u32 {
        self.wrapping_add(1)
    }
}

impl Key for u128 {
    const MAX: u128 = u128::MAX;
    fn owns(form: u32) -> bool {
        form >= V6_FORMS
    }
    fn next(self) -> u128 {
        self.wrapping_add(1)
    }
}

/// IPv4 addresses are indexed by their top `V4_INDEX_BITS` bits (a /18): with a million
/// prefixes about eight segments start in each, one cache line, and the index (1 MiB) stays
/// in cache better than a finer one, which unlisted addresses past the bitmap pay for.
const V4_INDEX_BITS: u32 = 18;

/// IPv4 segments, found through the /18 index, and a bitmap of every /24 that some listed
/// segment touches, so most unlisted addresses cost one memory read.
#[derive(Debug, Clone)]
struct V4Segments {
    /// Per segment: the low 16 bits of its start (the top 16 are the address's), then its
    /// value's low and high halves. Together, so that a lookup touches one place.
    segments: Vec<[u16; 3]>,
    /// Segments starting in /18 `b` are `first[b]..first[b + 1]`; the last element is the
    /// count. Segment 0 starts at 0, so an address before its /18's first start belongs to
    /// the segment just before it.
    first: Vec<u32>,
    listed24: Vec<u64>,
}

impl V4Segments {
    fn new(starts: &[u32], values: Vec<u32>) -> V4Segments {
        let shift = 32 - V4_INDEX_BITS;
        let first = bucket_starts(starts, V4_INDEX_BITS, |&s| u64::from(s >> shift));
        let listed24 = listed_slash24s(starts, &values);
        let segments = starts
            .iter()
            .zip(&values)
            .map(|(&start, &value)| [start as u16, value as u16, (value >> 16) as u16])
            .collect();
        V4Segments {
            segments,
            first,
            listed24,
        }
    }

    /// Whether a listed segment reaches into the /24 of `addr`.
    #[inline(always)]
    fn may_hold(&self, addr: u32) -> bool {
        let slash24 = (addr >> 8) as usize;
        let word = self.listed24.get(slash24 >> 6).copied().unwrap_or(u64::MAX);
        word >> (slash24 & 63) & 1 != 0
    }

    // Always inlined: an unlisted address costs a few instructions, so a call would show.
    #[inline(always)]
    fn value(&self, addr: u32) -> u32 {
        let slash24 = (addr >> 8) as usize;
        if self.listed24[slash24 >> 6] >> (slash24 & 63) & 1 == 0 {
            return NONE;
        }
        let bucket = (addr >> (32 - V4_INDEX_BITS)) as usize;
        let (low, high) = (self.first[bucket] as usize, self.first[bucket + 1] as usize);
        let within = self.segments[low..high].partition_point(|s| s[0] <= addr as u16);
        // Segment 0 starts at 0, so low + within is at least 1.
        let [_, value_low, value_high] = self.segments[low + within - 1];
        u32::from(value_low) | u32::from(value_high) << 16
    }

    fn bytes(&self) -> usize {
        self.segments.capacity() * 6 + self.first.capacity() * 4 + self.listed24.capacity() * 8
    }
}

/// For each of the `1 << bits` buckets, the first of the sorted `starts` at or after it
/// (`bucket_of` says which bucket a start is in), then the count.
fn bucket_starts<K>(starts: &[K], bits: u32, bucket_of: impl Fn(&K) -> u64) -> Vec<u32> {
    let mut first = Vec::with_capacity((1 << bits) + 1);
    let mut segment = 0usize;
    for bucket in 0..=(1u64 << bits) {
        while starts.get(segment).is_some_and(|s| bucket_of(s) < bucket) {
            segment += 1;
        }
        first.push(segment as u32);
    }
    first
}

/// One bit per /24, set when a segment with entries reaches into it.
fn listed_slash24s(starts: &[u32], values: &[u32]) -> Vec<u64> {
    let mut bits = vec![0u64; 1 << 18];
    for (at, (&start, &value)) in starts.iter().zip(values).enumerate() {
        if value == NONE {
            continue;
        }
        let last = starts.get(at + 1).map_or(u32::MAX, |&next| next - 1);
        for slash24 in (start >> 8)..=(last >> 8) {
            bits[(slash24 >> 6) as usize] |= 1 << (slash24 & 63);
        }
    }
    bits
}

/// IPv6 addresses are indexed by their top 16 bits.
const V6_INDEX_BITS: u32 = 16;

/// One IPv6 segment: its start in two halves and its value, side by side.
#[derive(Debug, Clone, Copy)]
struct V6Segment {
    high: u64,
    low: u64,
    value: u32,
}

impl V6Segment {
    fn start(&self) -> u128 {
        u128::from(self.high) << 64 | u128::from(self.low)
    }
}

/// IPv6 segments, found through the index on the top 16 bits, then binary searched.
#[derive(Debug, Clone)]
struct V6Segments {
    segments: Vec<V6Segment>,
    /// As in `V4Segments::first`, by the top `V6_INDEX_BITS` bits.
    first: Vec<u32>,
}

impl V6Segments {
    fn new(starts: &[u128], values: &[u32]) -> V6Segments {
        let shift = 128 - V6_INDEX_BITS;
        let first = bucket_starts(starts, V6_INDEX_BITS, |&s| (s >> shift) as u64);
        let segments = starts
            .iter()
            .zip(values)
            .map(|(&start, &value)| V6Segment {
                high: (start >> 64) as u64,
                low: start as u64,
                value,
            })
            .collect();
        V6Segments { segments, first }
    }

    #[inline(never)]
    fn value(&self, addr: u128) -> u32 {
        let bucket = (addr >> (128 - V6_INDEX_BITS)) as usize;
        let (low, high) = (self.first[bucket] as usize, self.first[bucket + 1] as usize);
        let within = self.segments[low..high].partition_point(|s| s.start() <= addr);
        // Segment 0 starts at 0, so low + within is at least 1.
        self.segments[low + within - 1].value
    }

    fn bytes(&self) -> usize {
        self.segments.capacity() * std::mem::size_of::<V6Segment>() + self.first.capacity() * 4
    }
}

/// Bytes before an entry's text in `IndicatorSet::records`: its text length (2 bytes) and
/// note (4), seven bits to a byte, low first. Every header byte is ASCII, so the records are
/// one `String` and an entry's text is a slice of it, with no check of its bytes at lookup
/// time. A header and its text share a cache line or two.
const HEADER: usize = 6;

/// Record offsets must stay below the tag bits.
const MAX_RECORDS: usize = 1 << 30;

/// Sources, text lengths and notes must fit their header fields.
const MAX_SOURCES: usize = u16::MAX as usize;
const MAX_TEXT: usize = (1 << 14) - 1;
const MAX_NOTES: usize = 1 << 28;

/// Longest comment kept; a longer one is cut at a character boundary.
const MAX_COMMENT: usize = u16::MAX as usize;

/// Appends `value` to `out` as `bytes` ASCII bytes of seven bits each, low first.
fn put_seven(out: &mut String, value: usize, bytes: usize) {
    for at in 0..bytes {
        out.push(char::from((value >> (7 * at)) as u8 & 0x7f));
    }
}

/// Reads a value `put_seven` wrote.
#[inline]
fn seven(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rev()
        .fold(0, |value, &byte| value << 7 | usize::from(byte))
}

/// A string the builder interned, by its index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Text(u32);

/// Everything an entry's listing says beside its text: the source's name, the comment, and
/// the url (the entry's own, else the source's `ref`; empty when neither). Entries of one
/// OTX pulse or one SBL record share theirs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Note {
    source: Text,
    comment: Text,
    url: Text,
}

/// A note with its strings, so that a listing reads one place after its segment. Source
/// names, comments and urls are shared between the notes that use them.
#[derive(Debug, Clone)]
struct NoteText {
    source: Arc<str>,
    comment: Arc<str>,
    /// Empty when neither the entry nor its source has a url.
    url: Arc<str>,
}

/// A source as the set knows it, returned by `SetBuilder::add_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceId(u16);

/// An entry as the set knows it, returned by `SetBuilder::add_entry`: its number, in the
/// order added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryId(u32);

/// The frozen set. Look up with `is_listed` or `Indicators::listings`.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    v4: V4Segments,
    v6: V6Segments,
    /// `group_members[group_starts[g]..group_starts[g + 1]]` are group g's entries, each an
    /// `INLINE` or `RECORD` value as a segment covered by that entry alone would hold.
    group_starts: Vec<u32>,
    group_members: Vec<u32>,
    /// The entries some segment names by record: a `HEADER`, then the text.
    records: String,
    entries: usize,
    notes: Vec<NoteText>,
    /// The bytes the notes' strings hold, each string counted once.
    string_bytes: usize,
    prefixes: usize,
}

impl IndicatorSet {
    pub fn empty() -> IndicatorSet {
        SetBuilder::new().finish()
    }

    /// How many (possibly carved) prefixes and ranges the set was built from.
    pub fn prefixes(&self) -> usize {
        self.prefixes
    }

    /// How many entries (lines of sources) the set holds.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Disjoint segments in the flattened IPv4 and IPv6 spaces, unlisted gaps included.
    pub fn segments(&self) -> (usize, usize) {
        (self.v4.segments.len(), self.v6.segments.len())
    }

    /// The heap the set holds, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.v4.bytes()
            + self.v6.bytes()
            + (self.group_starts.capacity() + self.group_members.capacity()) * 4
            + self.records.capacity()
            + self.notes.capacity() * std::mem::size_of::<NoteText>()
            + self.string_bytes
    }

    /// False when no entry covers `addr`; true when one may. One memory read for IPv4 and no
    /// branch on it, so that many of these can be in flight at once; always true for IPv6.
    #[inline(always)]
    pub fn may_list(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(v4) => self.v4.may_hold(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.v4.may_hold(u32::from(v4)),
                None => true,
            },
        }
    }

    /// Whether any entry covers `addr`: the fast path, with no provenance.
    #[inline]
    pub fn is_listed(&self, addr: IpAddr) -> bool {
        self.value_of(addr) != NONE
    }

    #[inline(always)]
    fn value_of(&self, addr: IpAddr) -> u32 {
        self.find(addr).0
    }

    /// The segment value for `addr` and the address it was looked up as (IPv4 for an
    /// IPv4-mapped address).
    #[inline(always)]
    fn find(&self, addr: IpAddr) -> (u32, IpAddr) {
        match addr {
            IpAddr::V4(v4) => (self.v4.value(u32::from(v4)), addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (self.v4.value(u32::from(v4)), IpAddr::V4(v4)),
                None => (self.v6.value(u128::from(v6)), addr),
            },
        }
    }

    fn members(&self, group: u32) -> &[u32] {
        let group = group as usize;
        let start = self.group_starts.get(group).copied().unwrap_or(0) as usize;
        let end = self.group_starts.get(group + 1).copied().unwrap_or(0) as usize;
        self.group_members.get(start..end).unwrap_or(&[])
    }

    /// A listing from an entry and its note's index.
    #[inline(always)]
    fn noted<'a>(&'a self, entry: Entry<'a>, note: usize) -> Option<Listing<'a>> {
        let note = self.notes.get(note)?;
        Some(Listing {
            source: &note.source,
            entry,
            comment: &note.comment,
            url: Some(&*note.url).filter(|url| !url.is_empty()),
        })
    }

    /// The listing of the record at `at`.
    fn record(&self, at: u32) -> Option<Listing<'_>> {
        let at = at as usize;
        let header = self.records.as_bytes().get(at..at + HEADER)?;
        let (len, note) = (seven(&header[..2]), seven(&header[2..]));
        let text = self.records.get(at + HEADER..at + HEADER + len)?;
        self.noted(Entry::Written(text), note)
    }

    /// The listings a `RECORD` or group value names: out of line, so that the most common
    /// case, one entry inline, stays short. A group's members are values of one entry.
    #[cold]
    #[inline(never)]
    fn recorded<'a>(&'a self, value: u32, addr: IpAddr, out: &mut Vec<Listing<'a>>) {
        let one = |member: u32| match member & TAG {
            INLINE => self.inline(member, addr),
            _ => self.record(member & !TAG),
        };
        match value & TAG {
            RECORD => out.extend(one(value)),
            _ => out.extend(self.members(value).iter().filter_map(|&member| one(member))),
        }
    }

    /// The listing an `INLINE` value holds, for the address `addr` inside its entry.
    #[inline(always)]
    fn inline(&self, value: u32, addr: IpAddr) -> Option<Listing<'_>> {
        let form = (value & !TAG) >> NOTE_BITS;
        let entry = rebuilt(addr, form)?;
        self.noted(entry, (value & NOTE_MASK) as usize)
    }
}

/// The entry of form `form` that covers `addr`.
#[inline(always)]
fn rebuilt(addr: IpAddr, form: u32) -> Option<Entry<'static>> {
    let entry = match addr {
        IpAddr::V4(_) if form == V4_ADDR => Entry::Addr(addr),
        IpAddr::V6(_) if form == V6_ADDR => Entry::Addr(addr),
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - form.min(32)).unwrap_or(0);
            let network = Ipv4Addr::from(u32::from(v4) & mask);
            Entry::Net(IpNet::V4(Ipv4Net::new(network, form as u8).ok()?))
        }
        IpAddr::V6(v6) => {
            let len = form.checked_sub(V6_FORMS)?;
            let mask = u128::MAX.checked_shl(128 - len.min(128)).unwrap_or(0);
            let network = Ipv6Addr::from(u128::from(v6) & mask);
            Entry::Net(IpNet::V6(Ipv6Net::new(network, len as u8).ok()?))
        }
    };
    Some(entry)
}

impl Indicators for IndicatorSet {
    #[inline]
    fn listings<'a>(&'a self, addr: IpAddr, out: &mut Vec<Listing<'a>>) -> bool {
        let (value, addr) = self.find(addr);
        let before = out.len();
        if value & TAG == INLINE {
            out.extend(self.inline(value, addr));
        } else if value != NONE {
            self.recorded(value, addr, out);
        }
        out.len() > before
    }
}

/// The form of an entry whose text is an address or prefix exactly as `Display` writes it,
/// so that `rebuilt` gives the same text back; `None` for any other text (a range, leading
/// zeros, upper-case hex, an IPv4-mapped IPv6 address, which is looked up as IPv4).
fn form_of(text: &str) -> Option<u32> {
    use std::fmt::Write;

    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr.parse::<IpAddr>().ok()?, Some(len.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let form = match (addr, len) {
        (IpAddr::V4(_), None) => V4_ADDR,
        (IpAddr::V6(v6), None) if v6.to_ipv4_mapped().is_none() => V6_ADDR,
        (IpAddr::V4(v4), Some(len)) if Ipv4Net::new(v4, len).ok()?.trunc().addr() == v4 => {
            u32::from(len)
        }
        (IpAddr::V6(v6), Some(len))
            if v6.to_ipv4_mapped().is_none()
                && Ipv6Net::new(v6, len).ok()?.trunc().addr() == v6 =>
        {
            V6_FORMS + u32::from(len)
        }
        _ => return None,
    };

    let mut written = TextBuf::default();
    write!(written, "{}", rebuilt(addr, form)?).ok()?;
    (written.as_bytes() == text.as_bytes()).then_some(form)
}

/// A small text on the stack, for `form_of`'s comparison.
struct TextBuf {
    bytes: [u8; 64],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> TextBuf {
        TextBuf {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl TextBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Write for TextBuf {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A multiply-rotate hash (as in rustc's FxHash) for the build's interning tables: keys are
/// our own strings and id lists, so SipHash's flooding resistance buys nothing here.
#[derive(Debug, Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words straight from the slice; a copy per word cost more than the hash.
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.write_u64(word.try_into().map_or(0, u64::from_le_bytes));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let tail = rest
                .iter()
                .rev()
                .fold(0u64, |tail, &byte| tail << 8 | u64::from(byte));
            self.write_u64(tail);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// Collects sources, entries and their address ranges, then flattens them into a set.
#[derive(Debug, Default)]
pub struct SetBuilder {
    interned: FastMap<Box<str>, Text>,
    sources: Vec<(Text, Text)>,
    /// Every entry's record; `finish` keeps those a segment needs.
    records: String,
    /// Per entry: its record's offset.
    offsets: Vec<u32>,
    /// Per entry: its `INLINE` value, or `NONE` when its text must be kept.
    inline: Vec<u32>,
    notes: Vec<Note>,
    noted: FastMap<Note, u32>,
    v4: Vec<(u32, u32, u32)>,
    v6: Vec<(u128, u128, u32)>,
}

impl SetBuilder {
    pub fn new() -> SetBuilder {
        SetBuilder::default()
    }

    /// A builder with room for `entries` entries holding `text_bytes` of entry text, so
    /// that the big buffers are allocated once.
    pub fn with_capacity(entries: usize, text_bytes: usize) -> SetBuilder {
        let mut builder = SetBuilder::default();
        builder.records.reserve_exact(entries * HEADER + text_bytes);
        builder.offsets.reserve_exact(entries);
        builder.inline.reserve_exact(entries);
        builder.v4.reserve_exact(entries);
        builder
    }

    /// Registers a source; `None` once 65535 sources or 2^32 strings exist.
    pub fn add_source(&mut self, name: &str, ref_url: Option<&str>) -> Option<SourceId> {
        let id = u16::try_from(self.sources.len())
            .ok()
            .filter(|&id| usize::from(id) < MAX_SOURCES)?;
        let name = self.intern(name)?;
        let ref_url = self.intern(ref_url.unwrap_or(""))?;
        self.sources.push((name, ref_url));
        Some(SourceId(id))
    }

    /// Registers an entry; cover its addresses with `cover_*`. `None` when the text is
    /// 16 KiB or longer, the source unknown, or the set full (1 GiB of entries, 2^32
    /// strings, 2^28 different notes). A comment over 64 KiB is cut.
    pub fn add_entry(
        &mut self,
        source: SourceId,
        text: &str,
        comment: &str,
        url: Option<&str>,
    ) -> Option<EntryId> {
        self.sources.get(usize::from(source.0))?;
        let id = u32::try_from(self.offsets.len())
            .ok()
            .filter(|&id| (id as usize) < MAX_RECORDS)?;
        let offset = self.records.len();
        if text.len() > MAX_TEXT || offset + HEADER + text.len() >= MAX_RECORDS {
            return None;
        }
        let note = self.note(source, comment, url)?;

        let inline = match form_of(text) {
            Some(form) if note <= NOTE_MASK => INLINE | form << NOTE_BITS | note,
            _ => NONE,
        };
        put_seven(&mut self.records, text.len(), 2);
        put_seven(&mut self.records, note as usize, 4);
        self.records.push_str(text);
        self.offsets.push(offset as u32);
        self.inline.push(inline);
        Some(EntryId(id))
    }

    /// The note id for an entry of `source` with `comment` and `url`, each note stored once.
    fn note(&mut self, source: SourceId, comment: &str, url: Option<&str>) -> Option<u32> {
        let (name, ref_url) = *self.sources.get(usize::from(source.0))?;
        let url = match url.filter(|url| !url.is_empty()) {
            Some(url) => self.intern(url)?,
            None => ref_url,
        };
        let note = Note {
            source: name,
            comment: self.intern(cut(comment, MAX_COMMENT))?,
            url,
        };
        if let Some(&id) = self.noted.get(&note) {
            return Some(id);
        }
        let id = u32::try_from(self.notes.len())
            .ok()
            .filter(|&id| (id as usize) < MAX_NOTES)?;
        self.notes.push(note);
        self.noted.insert(note, id);
        Some(id)
    }

    /// Says that `entry` covers `net`.
    pub fn cover_net(&mut self, entry: EntryId, net: IpNet) {
        match net {
            IpNet::V4(net) => {
                let (first, last) = (net.network().into(), net.broadcast().into());
                self.cover_v4(entry, first, last);
            }
            IpNet::V6(net) => {
                let (first, last) = (net.network().into(), net.broadcast().into());
                self.cover_v6(entry, first, last);
            }
        }
    }

    /// Says that `entry` covers the IPv4 addresses `first..=last`.
    pub fn cover_v4(&mut self, entry: EntryId, first: u32, last: u32) {
        if first <= last {
            self.v4.push((first, last, entry.0));
        }
    }

    /// Says that `entry` covers the IPv6 addresses `first..=last`. IPv4-mapped addresses
    /// are not looked up here: cover them with `cover_v4`.
    pub fn cover_v6(&mut self, entry: EntryId, first: u128, last: u128) {
        if first <= last {
            self.v6.push((first, last, entry.0));
        }
    }

    pub fn finish(self) -> IndicatorSet {
        let mut groups = Groups::default();
        let mut kept = KeptRecords::new(&self.records, self.offsets.len());
        let prefixes = self.v4.len() + self.v6.len();
        let (starts, mut values) = flatten(self.v4, &self.inline, &mut groups);
        kept.renumber(&mut values, &self.offsets);
        let v4 = V4Segments::new(&starts, values);
        drop(starts);
        let (starts, mut values) = flatten(self.v6, &self.inline, &mut groups);
        kept.renumber(&mut values, &self.offsets);
        let v6 = V6Segments::new(&starts, &values);
        drop((starts, values));
        kept.renumber(&mut groups.members, &self.offsets);

        let records = kept.records;
        let (notes, string_bytes) = note_texts(&self.notes, self.interned);
        let mut set = IndicatorSet {
            v4,
            v6,
            group_starts: groups.starts,
            group_members: groups.members,
            records,
            entries: self.offsets.len(),
            notes,
            string_bytes,
            prefixes,
        };
        set.group_starts.shrink_to_fit();
        set.group_members.shrink_to_fit();
        set.records.shrink_to_fit();
        set
    }

    fn intern(&mut self, text: &str) -> Option<Text> {
        if let Some(&known) = self.interned.get(text) {
            return Some(known);
        }
        let stored = Text(u32::try_from(self.interned.len()).ok()?);
        self.interned.insert(text.into(), stored);
        Some(stored)
    }
}

/// The records some segment names, copied out of the builder's as they are first needed.
struct KeptRecords<'a> {
    all: &'a str,
    records: String,
    /// Per entry: its offset in `records`, or `NONE` while it is not there.
    moved: Vec<u32>,
}

impl KeptRecords<'_> {
    fn new(all: &str, entries: usize) -> KeptRecords<'_> {
        KeptRecords {
            all,
            records: String::new(),
            moved: vec![NONE; entries],
        }
    }

    /// Turns `RECORD` values that name an entry into ones that name its kept record.
    fn renumber(&mut self, values: &mut [u32], offsets: &[u32]) {
        for value in values
            .iter_mut()
            .filter(|v| **v != NONE && **v & TAG == RECORD)
        {
            *value = RECORD | self.offset(*value & !TAG, offsets);
        }
    }

    /// Where entry `id`'s record is kept, copying it there the first time.
    fn offset(&mut self, id: u32, offsets: &[u32]) -> u32 {
        let Some(&moved) = self.moved.get(id as usize) else {
            return NONE;
        };
        if moved != NONE {
            return moved;
        }
        let from = offsets.get(id as usize).map_or(0, |&at| at as usize);
        let len = self.all.as_bytes().get(from..from + 2).map_or(0, seven);
        let at = self.records.len() as u32;
        self.records
            .push_str(self.all.get(from..from + HEADER + len).unwrap_or_default());
        self.moved[id as usize] = at;
        at
    }
}

/// The notes with their strings, and the bytes those strings take.
fn note_texts(notes: &[Note], interned: FastMap<Box<str>, Text>) -> (Vec<NoteText>, usize) {
    let mut strings: Vec<Arc<str>> = vec![Arc::from(""); interned.len()];
    let mut bytes = 0;
    for (text, Text(at)) in interned {
        bytes += text.len() + 2 * std::mem::size_of::<usize>();
        if let Some(slot) = strings.get_mut(at as usize) {
            *slot = Arc::from(text);
        }
    }
    let text = |Text(at): Text| {
        strings
            .get(at as usize)
            .cloned()
            .unwrap_or_else(|| "".into())
    };
    let notes = notes
        .iter()
        .map(|note| NoteText {
            source: text(note.source),
            comment: text(note.comment),
            url: text(note.url),
        })
        .collect();
    (notes, bytes)
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Interned sets of two or more entry ids, shared by both families.
#[derive(Debug)]
struct Groups {
    /// By the family (1 for IPv6) followed by the entry ids.
    ids: FastMap<Box<[u32]>, u32>,
    starts: Vec<u32>,
    /// Each an `INLINE` value or, until `KeptRecords` renumbers it, `RECORD` and an id.
    members: Vec<u32>,
    key: Vec<u32>,
}

impl Default for Groups {
    fn default() -> Groups {
        Groups {
            ids: FastMap::default(),
            starts: vec![0],
            members: Vec::new(),
            key: Vec::new(),
        }
    }
}

impl Groups {
    /// The segment value for the entries in `active` in family `K`, given each entry's
    /// `INLINE` value; one entry is named by its number until `KeptRecords` renumbers it.
    fn value<K: Key>(&mut self, active: &[u32], inline: &[u32]) -> u32 {
        let one = |id: u32| match inline.get(id as usize) {
            Some(&value) if value != NONE && K::owns((value & !TAG) >> NOTE_BITS) => value,
            _ => RECORD | id,
        };
        match active {
            [] => return NONE,
            [single] => return one(*single),
            _ => {}
        }
        // Members are values like a single entry's, so they depend on the family too.
        self.key.clear();
        self.key.push(u32::from(K::owns(V6_FORMS)));
        self.key.extend_from_slice(active);
        if let Some(&id) = self.ids.get(self.key.as_slice()) {
            return id;
        }
        let id = (self.starts.len() - 1) as u32;
        self.members.extend(active.iter().map(|&id| one(id)));
        self.starts.push(self.members.len() as u32);
        self.ids.insert(self.key.as_slice().into(), id);
        id
    }
}

/// Turns possibly overlapping ranges into disjoint segments (starts and values), each
/// naming every entry that covers it; neighbours with the same value are merged. The first
/// segment starts at 0.
fn flatten<K: Key>(
    ranges: Vec<(K, K, u32)>,
    inline: &[u32],
    groups: &mut Groups,
) -> (Vec<K>, Vec<u32>) {
    let mut events: Vec<(K, u32)> = Vec::with_capacity(ranges.len() * 2);
    for (first, last, id) in ranges {
        events.push((first, id));
        // Nothing lies past the last address, so a range reaching it never ends.
        if last != K::MAX {
            events.push((last.next(), id | END));
        }
    }
    events.sort_unstable_by_key(|&(at, _)| at);

    // Sized for the most segments there can be and at least 32 MiB, so that glibc maps them
    // apart from its heap and hands them back when freed: the resident size after a build
    // stays close to the set's heap. Pages never touched cost no memory.
    let room = (events.len() + 1).max((32 << 20) / std::mem::size_of::<K>());
    let mut starts = Vec::with_capacity(room);
    let mut values = Vec::with_capacity(room);
    starts.push(K::default());
    values.push(NONE);
    let mut active: Vec<u32> = Vec::new();
    let mut at = 0;
    while let Some(&(position, _)) = events.get(at) {
        while let Some(&(_, tagged)) = events.get(at).filter(|(p, _)| *p == position) {
            apply(&mut active, tagged);
            at += 1;
        }

        let value = groups.value::<K>(&active, inline);
        if position == K::default() {
            values[0] = value;
        } else if values.last() != Some(&value) {
            starts.push(position);
            values.push(value);
        }
    }
    drop(events);
    starts.shrink_to_fit();
    values.shrink_to_fit();
    (starts, values)
}

/// Adds or removes one entry id in the sorted active list.
fn apply(active: &mut Vec<u32>, tagged: u32) {
    let id = tagged & !END;
    match (tagged & END != 0, active.binary_search(&id)) {
        (false, Ok(at) | Err(at)) => active.insert(at, id),
        (true, Ok(at)) => {
            active.remove(at);
        }
        (true, Err(_)) => {}
    }
}

#[cfg(test)]
mod tests;
