//! The frozen indicator set: every entry's address ranges flattened into disjoint segments.
//!
//! Invariant: in each family `starts` is strictly increasing and begins at 0, so every address
//! falls in exactly one segment; the segment names one interned group of entry ids (or none),
//! and that group holds every entry that covers the whole segment. `SetBuilder` makes the set
//! once; nothing changes it afterwards. Provenance strings live in one arena.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Indicators, Listing};

/// The group of a segment no entry covers.
const NONE: u32 = u32::MAX;

/// Entry ids are tagged with this bit in the sweep to mark where an entry stops.
const END: u32 = 1 << 31;

/// An address as a sortable integer: `u32` for IPv4, `u128` for IPv6.
trait Key: Copy + Ord + std::hash::Hash + Default {
    const MAX: Self;
    /// The top 16 bits, which pick the first-level index slot.
    fn top16(self) -> usize;
    /// The lowest key whose top 16 bits are `slot`.
    fn slot_start(slot: usize) -> Self;
    fn next(self) -> Self;
}

impl Key for u32 {
    const MAX: u32 = u32::MAX;
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    fn slot_start(slot: usize) -> u32 {
        (slot as u32) << 16
    }
    fn next(self) -> u32 {
        self.wrapping_add(1)
    }
}

impl Key for u128 {
    const MAX: u128 = u128::MAX;
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
    fn slot_start(slot: usize) -> u128 {
        (slot as u128) << 112
    }
    fn next(self) -> u128 {
        self.wrapping_add(1)
    }
}

/// One family's segments with a 16-bit first-level index into them.
#[derive(Debug, Clone)]
struct Segments<K> {
    starts: Vec<K>,
    groups: Vec<u32>,
    /// `index[s]` is the segment holding `K::slot_start(s)`; `index[65536]` the last one.
    index: Vec<u32>,
}

impl<K: Key> Segments<K> {
    fn empty() -> Segments<K> {
        Segments::from_parts(vec![K::default()], vec![NONE])
    }

    fn from_parts(starts: Vec<K>, groups: Vec<u32>) -> Segments<K> {
        let mut index = Vec::with_capacity(65537);
        let mut segment = 0usize;
        for slot in 0..65536 {
            let at = K::slot_start(slot);
            while segment + 1 < starts.len() && starts[segment + 1] <= at {
                segment += 1;
            }
            index.push(segment as u32);
        }
        index.push((starts.len() - 1) as u32);
        Segments {
            starts,
            groups,
            index,
        }
    }

    /// The group of the segment holding `key`.
    #[inline]
    fn group(&self, key: K) -> u32 {
        let slot = key.top16();
        let low = self.index[slot] as usize;
        let high = self.index[slot + 1] as usize;
        // starts[low] <= key always holds, so the partition point is at least 1.
        let within = self.starts[low..=high].partition_point(|&start| start <= key);
        self.groups[low + within - 1]
    }

    fn bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<K>()
            + self.groups.capacity() * 4
            + self.index.capacity() * 4
    }
}

/// One bit per IPv4 /24: set when some segment inside it has a group. Most lookups of a
/// big set are misses, and this 2 MiB map answers them from cache; only a set bit costs
/// the search through `Segments`, whose arrays are far larger than any cache.
#[derive(Debug, Clone)]
struct Coarse {
    words: Vec<u64>,
}

impl Coarse {
    const WORDS: usize = (1 << 24) / 64;

    fn build(segments: &Segments<u32>) -> Coarse {
        let mut words = vec![0u64; Coarse::WORDS];
        let ends = segments.starts.iter().skip(1).map(|&start| start - 1);
        let ends = ends.chain(std::iter::once(u32::MAX));
        let spans = segments.starts.iter().zip(ends).zip(&segments.groups);
        for ((&first, last), &group) in spans {
            if group == NONE {
                continue;
            }
            for block in (first >> 8)..=(last >> 8) {
                words[(block >> 6) as usize] |= 1 << (block & 63);
            }
        }
        Coarse { words }
    }

    #[inline]
    fn may_hold(&self, key: u32) -> bool {
        let block = key >> 8;
        let word = self
            .words
            .get((block >> 6) as usize)
            .copied()
            .unwrap_or(u64::MAX);
        word & (1 << (block & 63)) != 0
    }
}

/// Where one entry's strings are: text in the arena, comment and url as string ids.
#[derive(Debug, Clone, Copy)]
struct Entry {
    text: u32,
    comment: u32,
    /// The entry's own url, else its source's `ref`; 0 when neither.
    url: u32,
    source: u16,
    text_len: u16,
}

/// A source as the set knows it, returned by `SetBuilder::add_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceId(u16);

/// An entry as the set knows it, returned by `SetBuilder::add_entry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryId(u32);

/// The frozen set. Look up with `is_listed` or `Indicators::listings`.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    v4: Segments<u32>,
    v4_coarse: Coarse,
    v6: Segments<u128>,
    /// `group_members[group_starts[g]..group_starts[g + 1]]` are group g's entry ids.
    group_starts: Vec<u32>,
    group_members: Vec<u32>,
    entries: Vec<Entry>,
    /// String id -> (offset, length) in `arena`; id 0 is "".
    strings: Vec<(u32, u32)>,
    /// Source id -> string id of its name.
    sources: Vec<u32>,
    arena: String,
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
        self.entries.len()
    }

    /// Disjoint segments in the flattened IPv4 and IPv6 spaces, unlisted gaps included.
    pub fn segments(&self) -> (usize, usize) {
        (self.v4.starts.len(), self.v6.starts.len())
    }

    /// The heap the set holds, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.v4.bytes()
            + self.v4_coarse.words.capacity() * 8
            + self.v6.bytes()
            + (self.group_starts.capacity() + self.group_members.capacity()) * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.strings.capacity() * 8
            + self.sources.capacity() * 4
            + self.arena.capacity()
    }

    /// Whether any entry covers `addr`: the fast path, with no provenance.
    #[inline]
    pub fn is_listed(&self, addr: IpAddr) -> bool {
        self.group_of(addr) != NONE
    }

    #[inline]
    fn group_of(&self, addr: IpAddr) -> u32 {
        match crate::flow::canonical(addr) {
            IpAddr::V4(v4) => {
                let key = u32::from(v4);
                if self.v4_coarse.may_hold(key) {
                    self.v4.group(key)
                } else {
                    NONE
                }
            }
            IpAddr::V6(v6) => self.v6.group(u128::from(v6)),
        }
    }

    fn members(&self, group: u32) -> &[u32] {
        let group = group as usize;
        let start = self.group_starts.get(group).copied().unwrap_or(0) as usize;
        let end = self.group_starts.get(group + 1).copied().unwrap_or(0) as usize;
        self.group_members.get(start..end).unwrap_or(&[])
    }

    fn string(&self, id: u32) -> &str {
        let Some(&(offset, len)) = self.strings.get(id as usize) else {
            return "";
        };
        let (offset, len) = (offset as usize, len as usize);
        self.arena.get(offset..offset + len).unwrap_or("")
    }

    fn listing(&self, id: u32) -> Option<Listing<'_>> {
        let entry = self.entries.get(id as usize)?;
        let text = entry.text as usize;
        let source = self.sources.get(usize::from(entry.source)).copied()?;
        Some(Listing {
            source: self.string(source),
            entry: self.arena.get(text..text + usize::from(entry.text_len))?,
            comment: self.string(entry.comment),
            url: (entry.url != 0).then(|| self.string(entry.url)),
        })
    }
}

impl Indicators for IndicatorSet {
    fn listings<'a>(&'a self, addr: IpAddr, out: &mut Vec<Listing<'a>>) -> bool {
        let group = self.group_of(addr);
        if group == NONE {
            return false;
        }
        let before = out.len();
        out.extend(
            self.members(group)
                .iter()
                .filter_map(|&id| self.listing(id)),
        );
        out.len() > before
    }
}

/// Collects sources, entries and their address ranges, then flattens them into a set.
#[derive(Debug, Default)]
pub struct SetBuilder {
    arena: String,
    strings: Vec<(u32, u32)>,
    interned: HashMap<Box<str>, u32>,
    /// Per source: name string id, ref string id (0 = none).
    sources: Vec<(u32, u32)>,
    entries: Vec<Entry>,
    v4: Vec<(u32, u32, u32)>,
    v6: Vec<(u128, u128, u32)>,
}

impl SetBuilder {
    pub fn new() -> SetBuilder {
        let mut builder = SetBuilder::default();
        builder.strings.push((0, 0));
        builder.interned.insert("".into(), 0);
        builder
    }

    /// Registers a source; `None` once 65536 sources exist or the arena is full.
    pub fn add_source(&mut self, name: &str, ref_url: Option<&str>) -> Option<SourceId> {
        let id = u16::try_from(self.sources.len()).ok()?;
        let name = self.intern(name)?;
        let ref_url = self.intern(ref_url.unwrap_or(""))?;
        self.sources.push((name, ref_url));
        Some(SourceId(id))
    }

    /// Registers an entry; cover its addresses with `cover`. `None` when the text is longer
    /// than 65535 bytes, the source unknown, or the set full (2^31 entries, 4 GiB of text).
    pub fn add_entry(
        &mut self,
        source: SourceId,
        text: &str,
        comment: &str,
        url: Option<&str>,
    ) -> Option<EntryId> {
        let &(_, ref_url) = self.sources.get(usize::from(source.0))?;
        let id = u32::try_from(self.entries.len())
            .ok()
            .filter(|&id| id < END)?;
        let text_len = u16::try_from(text.len()).ok()?;
        let comment = self.intern(comment)?;
        let url = match url.filter(|url| !url.is_empty()) {
            Some(url) => self.intern(url)?,
            None => ref_url,
        };
        let offset = self.append(text)?;
        self.entries.push(Entry {
            text: offset,
            comment,
            url,
            source: source.0,
            text_len,
        });
        Some(EntryId(id))
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

    /// Says that `entry` covers the IPv6 addresses `first..=last`.
    pub fn cover_v6(&mut self, entry: EntryId, first: u128, last: u128) {
        if first <= last {
            self.v6.push((first, last, entry.0));
        }
    }

    pub fn finish(self) -> IndicatorSet {
        let mut groups = Groups::default();
        let prefixes = self.v4.len() + self.v6.len();
        let v4 = flatten(self.v4, &mut groups);
        let v6 = flatten(self.v6, &mut groups);
        let mut set = IndicatorSet {
            v4_coarse: Coarse::build(&v4),
            v4,
            v6,
            group_starts: groups.starts,
            group_members: groups.members,
            entries: self.entries,
            strings: self.strings,
            sources: self.sources.into_iter().map(|(name, _)| name).collect(),
            arena: self.arena,
            prefixes,
        };
        set.entries.shrink_to_fit();
        set.arena.shrink_to_fit();
        set.strings.shrink_to_fit();
        set
    }

    fn intern(&mut self, text: &str) -> Option<u32> {
        if let Some(&id) = self.interned.get(text) {
            return Some(id);
        }
        let id = u32::try_from(self.strings.len()).ok()?;
        let len = u32::try_from(text.len()).ok()?;
        let offset = self.append(text)?;
        self.strings.push((offset, len));
        self.interned.insert(text.into(), id);
        Some(id)
    }

    fn append(&mut self, text: &str) -> Option<u32> {
        let offset = u32::try_from(self.arena.len()).ok()?;
        u32::try_from(self.arena.len() + text.len()).ok()?;
        self.arena.push_str(text);
        Some(offset)
    }
}

/// Interned sets of entry ids, shared by both families.
#[derive(Debug)]
struct Groups {
    ids: HashMap<Box<[u32]>, u32>,
    starts: Vec<u32>,
    members: Vec<u32>,
}

impl Default for Groups {
    fn default() -> Groups {
        Groups {
            ids: HashMap::new(),
            starts: vec![0],
            members: Vec::new(),
        }
    }
}

impl Groups {
    fn intern(&mut self, active: &[u32]) -> u32 {
        if active.is_empty() {
            return NONE;
        }
        if let Some(&id) = self.ids.get(active) {
            return id;
        }
        let id = (self.starts.len() - 1) as u32;
        self.members.extend_from_slice(active);
        self.starts.push(self.members.len() as u32);
        self.ids.insert(active.into(), id);
        id
    }
}

/// Turns possibly overlapping ranges into disjoint segments, each naming the group of every
/// entry that covers it; neighbours with the same group are merged.
fn flatten<K: Key>(ranges: Vec<(K, K, u32)>, groups: &mut Groups) -> Segments<K> {
    let mut events: Vec<(K, u32)> = Vec::with_capacity(ranges.len() * 2);
    for (first, last, id) in ranges {
        events.push((first, id));
        // Nothing lies past the last address, so a range reaching it never ends.
        if last != K::MAX {
            events.push((last.next(), id | END));
        }
    }
    events.sort_unstable_by_key(|&(at, _)| at);

    let mut starts = vec![K::default()];
    let mut segment_groups = vec![NONE];
    let mut active: Vec<u32> = Vec::new();
    let mut rest = events.as_slice();
    while let Some(&(at, _)) = rest.first() {
        let here = rest.partition_point(|&(pos, _)| pos == at);
        for &(_, tagged) in &rest[..here] {
            apply(&mut active, tagged);
        }
        rest = &rest[here..];

        let group = groups.intern(&active);
        if at == K::default() {
            segment_groups[0] = group;
        } else if segment_groups.last() != Some(&group) {
            starts.push(at);
            segment_groups.push(group);
        }
    }
    starts.shrink_to_fit();
    segment_groups.shrink_to_fit();
    Segments::from_parts(starts, segment_groups)
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

impl<K: Key> Default for Segments<K> {
    fn default() -> Segments<K> {
        Segments::empty()
    }
}

#[cfg(test)]
mod tests;
