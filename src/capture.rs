//! pcap and pcapng reading for `replay`: the UDP datagrams of a capture, in file order.
//!
//! Streaming: blocks are read through `pcap-parser`'s buffer, so memory stays
//! bounded whatever the file's size (one block of at most `BUFFER_BYTES`, plus bounded
//! fragment reassembly). Nothing in a file makes the reader panic: a frame that is not a
//! whole UDP datagram is counted in `CaptureCounters`, and a file that cannot be read on
//! ends with a `CaptureError` after every datagram before the damage was returned.

mod packet;
mod reassembly;

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;

use pcap_parser::pcapng::{Block, EnhancedPacketBlock, InterfaceDescriptionBlock};
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{
    LegacyPcapBlock, LegacyPcapReader, OptionCode, PcapBlockOwned, PcapError, PcapHeader,
    PcapNGReader,
};

use packet::{Link, Parsed, Skip, Udp};
use reassembly::Reassembler;

/// The read buffer to start with; it grows (by 4) for a longer block.
const INITIAL_BUFFER_BYTES: usize = 64 << 10;
/// The largest block (frame record) the reader accepts.
const BUFFER_BYTES: usize = 1 << 20;
/// Bytes read before choosing pcap or pcapng; a pcapng section header must fit in them.
const PROBE_BYTES: usize = 64 << 10;
/// Interfaces one pcapng section may describe; later ones are ignored (their frames counted).
const MAX_INTERFACES: usize = 4096;

const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAP_MAGICS: [u32; 3] = [0xa1b2_c3d4, 0xa1b2_3c4d, 0xa1b2_cd34];

/// One UDP datagram from the capture, IP fragments already reassembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Capture time, microseconds since the Unix epoch (finer resolutions are truncated).
    pub time_us: i64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// What the reader saw and skipped. Every frame lands in exactly one of `datagrams`,
/// `fragments` (until its datagram completes) or one of the skip reasons.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaptureCounters {
    /// Frame records read (pcap records, pcapng enhanced and simple packet blocks).
    pub frames: u64,
    /// UDP datagrams returned, reassembled ones included.
    pub datagrams: u64,
    /// Frames whose link layer carries neither IPv4 nor IPv6 (ARP, LLDP, ...).
    pub non_ip: u64,
    /// IP packets (or fragments) of another protocol than UDP.
    pub non_udp: u64,
    /// Frames the capture cut (snap length) before the end of their UDP datagram.
    pub truncated: u64,
    /// Frames captured whole whose IP or UDP length fields disagree with their bytes.
    pub bad_length: u64,
    /// IP headers that cannot be right: version, header length, jumbogram, nesting.
    pub malformed: u64,
    /// Frames on a link type replay does not read.
    pub unsupported_link: u64,
    /// pcapng packets naming an interface the section did not describe, or one whose
    /// timestamp resolution is unusable.
    pub bad_interface: u64,
    /// IP fragments of UDP datagrams seen (each also ends reassembled or dropped).
    pub fragments: u64,
    /// Datagrams completed from fragments.
    pub reassembled: u64,
    /// Fragments discarded: duplicates, misaligned, overlapping, or part of a dropped
    /// reassembly.
    pub fragments_dropped: u64,
    /// Incomplete reassemblies given up: caps, timeout, or the end of the capture.
    pub reassemblies_dropped: u64,
    /// pcapng blocks that hold no packet and are not needed (statistics, names, ...).
    pub other_blocks: u64,
}

impl CaptureCounters {
    /// Every counter with its name, for stats lines.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("frames", self.frames),
            ("datagrams", self.datagrams),
            ("non_ip", self.non_ip),
            ("non_udp", self.non_udp),
            ("truncated", self.truncated),
            ("bad_length", self.bad_length),
            ("malformed", self.malformed),
            ("unsupported_link", self.unsupported_link),
            ("bad_interface", self.bad_interface),
            ("fragments", self.fragments),
            ("reassembled", self.reassembled),
            ("fragments_dropped", self.fragments_dropped),
            ("reassemblies_dropped", self.reassemblies_dropped),
            ("other_blocks", self.other_blocks),
        ]
        .into_iter()
    }

    fn skipped(&mut self, why: Skip) {
        match why {
            Skip::NotIp => self.non_ip += 1,
            Skip::NotUdp => self.non_udp += 1,
            Skip::Truncated => self.truncated += 1,
            Skip::BadLength => self.bad_length += 1,
            Skip::Malformed => self.malformed += 1,
        }
    }
}

/// Why a capture could not be read (on).
#[derive(Debug)]
pub enum CaptureError {
    /// Opening or reading the file failed.
    Io(io::Error),
    /// The file starts with neither a pcap magic nor a pcapng section header.
    NotACapture { magic: Option<u32> },
    /// The file ends inside the record that starts at `offset`.
    Truncated { offset: u64 },
    /// The record at `offset` is longer than the reader's buffer: a corrupt length.
    RecordTooLong { offset: u64, limit: usize },
    /// The record at `offset` cannot be parsed.
    Corrupt { offset: u64, detail: String },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(_) => write!(f, "cannot read capture"),
            CaptureError::NotACapture { magic: Some(m) } => {
                write!(f, "not a pcap or pcapng file (starts with {m:#010x})")
            }
            CaptureError::NotACapture { magic: None } => {
                write!(f, "not a pcap or pcapng file (shorter than 4 bytes)")
            }
            CaptureError::Truncated { offset } => {
                write!(
                    f,
                    "capture truncated: the record at byte {offset} is incomplete"
                )
            }
            CaptureError::RecordTooLong { offset, limit } => write!(
                f,
                "record at byte {offset} is longer than {limit} bytes (corrupt length?)"
            ),
            CaptureError::Corrupt { offset, detail } => {
                write!(f, "corrupt record at byte {offset}: {detail}")
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for CaptureError {
    fn from(e: io::Error) -> CaptureError {
        CaptureError::Io(e)
    }
}

/// Reads the UDP datagrams of a pcap or pcapng capture, one at a time.
pub struct CaptureReader {
    blocks: Box<dyn PcapReaderIterator>,
    /// The I/O error behind a `PcapError::ReadError`, which does not carry it.
    read_error: Rc<RefCell<Option<io::Error>>>,
    buffer_bytes: usize,
    frames: FrameDecoder,
    finished: bool,
    /// pcapng (blocks checked by `short_process_block` first), not legacy pcap.
    pcapng: bool,
}

impl CaptureReader {
    /// Opens a capture file.
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_reader(Box::new(File::open(path)?))
    }

    /// Reads a capture from any byte stream (a file, a pipe, bytes in memory).
    pub fn from_reader(mut input: Box<dyn Read>) -> Result<CaptureReader, CaptureError> {
        // Look at the first bytes to choose the format, then hand them back in front.
        let mut probe = Vec::with_capacity(PROBE_BYTES);
        (&mut input)
            .take(PROBE_BYTES as u64)
            .read_to_end(&mut probe)?;
        let magic = probe.get(..4).map(|m| [m[0], m[1], m[2], m[3]]);
        let read_error = Rc::new(RefCell::new(None));
        let stream = KeepError {
            inner: Cursor::new(probe).chain(input),
            error: Rc::clone(&read_error),
        };

        let pcapng = magic.is_some_and(|m| u32::from_le_bytes(m) == PCAPNG_SHB);
        let blocks = match magic {
            Some(m) if u32::from_le_bytes(m) == PCAPNG_SHB => {
                let reader = PcapNGReader::new(INITIAL_BUFFER_BYTES, stream);
                Box::new(reader.map_err(|e| open_error(&e))?) as Box<dyn PcapReaderIterator>
            }
            Some(m) if is_pcap_magic(m) => {
                let reader = LegacyPcapReader::new(INITIAL_BUFFER_BYTES, stream);
                Box::new(reader.map_err(|e| open_error(&e))?)
            }
            Some(m) => {
                let magic = Some(u32::from_be_bytes(m));
                return Err(CaptureError::NotACapture { magic });
            }
            None => return Err(CaptureError::NotACapture { magic: None }),
        };
        Ok(CaptureReader {
            blocks,
            read_error,
            buffer_bytes: INITIAL_BUFFER_BYTES,
            frames: FrameDecoder::new(),
            finished: false,
            pcapng,
        })
    }

    /// The next UDP datagram (fragments reassembled), or `None` at the end. After an error,
    /// every later call returns `Ok(None)`.
    pub fn next_datagram(&mut self) -> Result<Option<Datagram>, CaptureError> {
        while !self.finished {
            if let Some(e) = self.refuse_short_process_block() {
                self.finish();
                return Err(e);
            }
            match self.blocks.next() {
                Ok((len, block)) => {
                    let datagram = self.frames.on_block(block);
                    self.blocks.consume(len);
                    if datagram.is_some() {
                        return Ok(datagram);
                    }
                }
                Err(PcapError::Eof) => self.finish(),
                Err(PcapError::BufferTooSmall) if self.buffer_bytes < BUFFER_BYTES => {
                    self.buffer_bytes *= 4;
                    self.blocks.grow(self.buffer_bytes);
                    if let Err(e) = self.refill() {
                        self.finish();
                        return Err(e);
                    }
                }
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.refill() {
                        self.finish();
                        return Err(e);
                    }
                }
                Err(e) => {
                    let failure = Failure::of(&e);
                    let e = self.error_for(failure);
                    self.finish();
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    /// What was read and skipped so far.
    pub fn counters(&self) -> &CaptureCounters {
        &self.frames.counters
    }

    /// The error for a pcapng Process Information Block shorter than 12 bytes at the front
    /// of the buffer, which pcap-parser 0.17 cannot take (see `short_process_block`).
    fn refuse_short_process_block(&self) -> Option<CaptureError> {
        if !self.pcapng {
            return None;
        }
        let length = short_process_block(self.blocks.data())?;
        Some(CaptureError::Corrupt {
            offset: self.blocks.consumed() as u64,
            detail: format!("pcapng block length {length} is below 12"),
        })
    }

    fn refill(&mut self) -> Result<(), CaptureError> {
        let before = self.blocks.data().len();
        if self.blocks.refill().is_err() {
            let kept = self.read_error.borrow_mut().take();
            return Err(CaptureError::Io(
                kept.unwrap_or_else(|| io::Error::other("read")),
            ));
        }
        // A refill that adds nothing while the input has more means the buffer is full.
        let stalled = self.blocks.data().len() == before && !self.blocks.reader_exhausted();
        if stalled {
            let offset = self.blocks.consumed() as u64;
            return Err(CaptureError::RecordTooLong {
                offset,
                limit: BUFFER_BYTES,
            });
        }
        Ok(())
    }

    fn error_for(&self, failure: Failure) -> CaptureError {
        let offset = self.blocks.consumed() as u64;
        match failure {
            Failure::Truncated => CaptureError::Truncated { offset },
            Failure::TooLong => CaptureError::RecordTooLong {
                offset,
                limit: BUFFER_BYTES,
            },
            Failure::Read => match self.read_error.borrow_mut().take() {
                Some(io) => CaptureError::Io(io),
                None => CaptureError::Io(io::Error::other("read failed")),
            },
            Failure::Corrupt(detail) => CaptureError::Corrupt { offset, detail },
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.frames.reassembler.flush(&mut self.frames.counters);
    }
}

/// The length of a pcapng Process Information Block (type 0x80000001, either byte order)
/// at the start of `data` when it is below 12. pcap-parser 0.17 checks such a block's
/// length only against 4 and then subtracts 12 from it: a panic where overflow checks are
/// on, a 4 GiB read request where they are not. Found by the `capture` fuzz target.
fn short_process_block(data: &[u8]) -> Option<u32> {
    let head: [u8; 8] = data.get(..8)?.try_into().ok()?;
    let [t0, t1, t2, t3, l0, l1, l2, l3] = head;
    let length = match [t0, t1, t2, t3] {
        [0x01, 0x00, 0x00, 0x80] => u32::from_le_bytes([l0, l1, l2, l3]),
        [0x80, 0x00, 0x00, 0x01] => u32::from_be_bytes([l0, l1, l2, l3]),
        _ => return None,
    };
    (length < 12).then_some(length)
}

/// A block-level `PcapError`, no longer borrowing the reader's buffer.
enum Failure {
    Truncated,
    TooLong,
    Read,
    Corrupt(String),
}

impl Failure {
    fn of(e: &PcapError<&[u8]>) -> Failure {
        match e {
            PcapError::UnexpectedEof => Failure::Truncated,
            PcapError::BufferTooSmall => Failure::TooLong,
            PcapError::ReadError => Failure::Read,
            other => Failure::Corrupt(describe(other)),
        }
    }
}

fn is_pcap_magic(m: [u8; 4]) -> bool {
    PCAP_MAGICS.contains(&u32::from_le_bytes(m)) || PCAP_MAGICS.contains(&u32::from_be_bytes(m))
}

/// An error while reading the file header.
fn open_error(e: &PcapError<&'static [u8]>) -> CaptureError {
    match e {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            CaptureError::Truncated { offset: 0 }
        }
        other => CaptureError::Corrupt {
            offset: 0,
            detail: format!("file header: {}", describe(other)),
        },
    }
}

fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("block does not parse ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "header not recognized".to_string(),
        PcapError::ReadError => "read failed".to_string(),
        PcapError::BufferTooSmall => "block too long".to_string(),
        PcapError::Eof | PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
            "ends early".to_string()
        }
    }
}

/// A `Read` that remembers its last error (pcap-parser reports only that one happened)
/// and retries interrupted reads.
struct KeepError<R> {
    inner: R,
    error: Rc<RefCell<Option<io::Error>>>,
}

impl<R: Read> Read for KeepError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    *self.error.borrow_mut() = Some(e);
                    return Err(copy);
                }
                ok => return ok,
            }
        }
    }
}

/// One pcapng interface: how to read its frames and their timestamps.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Option<Link>,
    /// Timestamp units per second, `None` when if_tsresol is unusable.
    units_per_second: Option<u64>,
    /// if_tsoffset: seconds added to every timestamp.
    offset_s: i64,
}

/// The state between blocks: link types, interfaces, reassembly, counters.
struct FrameDecoder {
    /// The pcap file's link type and whether its fractions are nanoseconds.
    pcap: Option<(Option<Link>, bool)>,
    /// The current pcapng section's interfaces and byte order.
    interfaces: Vec<Interface>,
    big_endian: bool,
    /// Simple packet blocks carry no time: they get the time of the frame before.
    last_time_us: i64,
    reassembler: Reassembler,
    counters: CaptureCounters,
}

impl FrameDecoder {
    fn new() -> FrameDecoder {
        FrameDecoder {
            pcap: None,
            interfaces: Vec::new(),
            big_endian: false,
            last_time_us: 0,
            reassembler: Reassembler::new(reassembly::Limits::default()),
            counters: CaptureCounters::default(),
        }
    }

    fn on_block(&mut self, block: PcapBlockOwned<'_>) -> Option<Datagram> {
        match block {
            PcapBlockOwned::LegacyHeader(header) => {
                self.on_pcap_header(&header);
                None
            }
            PcapBlockOwned::Legacy(record) => self.on_pcap_record(&record),
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                self.interfaces.clear();
                self.big_endian = shb.big_endian();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.on_interface(&idb);
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => self.on_enhanced(&epb),
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                self.counters.frames += 1;
                let cut = spb.packet_data().len() < spb.origlen as usize;
                let link = match self.interfaces.first() {
                    Some(interface) => interface.link,
                    None => return self.bad_interface(),
                };
                self.on_frame(link, self.last_time_us, spb.packet_data(), cut)
            }
            PcapBlockOwned::NG(_) => {
                self.counters.other_blocks += 1;
                None
            }
        }
    }

    fn on_pcap_header(&mut self, header: &PcapHeader) {
        // The upper bits of the link type field carry FCS information (pcap spec).
        let linktype = (header.network.0 as u32) & 0xffff;
        let nanos = header.is_nanosecond_precision();
        self.pcap = Some((Link::from_linktype(linktype), nanos));
    }

    fn on_pcap_record(&mut self, record: &LegacyPcapBlock<'_>) -> Option<Datagram> {
        self.counters.frames += 1;
        let (link, nanos) = self.pcap.unwrap_or((None, false));
        let fraction = if nanos {
            i64::from(record.ts_usec) / 1000
        } else {
            i64::from(record.ts_usec)
        };
        let time_us = i64::from(record.ts_sec) * 1_000_000 + fraction;
        let cut = record.caplen < record.origlen;
        self.on_frame(link, time_us, record.data, cut)
    }

    fn on_interface(&mut self, idb: &InterfaceDescriptionBlock<'_>) {
        if self.interfaces.len() >= MAX_INTERFACES {
            return;
        }
        let mut tsresol = 6u8;
        let mut offset_s = 0i64;
        for option in &idb.options {
            let Ok(value) = option.as_bytes() else {
                continue;
            };
            if option.code == OptionCode::IfTsresol && !value.is_empty() {
                tsresol = value[0];
            }
            if option.code == OptionCode::IfTsoffset {
                if let Ok(raw) = <[u8; 8]>::try_from(value) {
                    offset_s = if self.big_endian {
                        i64::from_be_bytes(raw)
                    } else {
                        i64::from_le_bytes(raw)
                    };
                }
            }
        }
        self.interfaces.push(Interface {
            link: Link::from_linktype(u32::from(idb.linktype.0 as u16)),
            units_per_second: units_per_second(tsresol),
            offset_s,
        });
    }

    fn on_enhanced(&mut self, epb: &EnhancedPacketBlock<'_>) -> Option<Datagram> {
        self.counters.frames += 1;
        let Some(interface) = self.interfaces.get(epb.if_id as usize).copied() else {
            return self.bad_interface();
        };
        let Some(units) = interface.units_per_second else {
            return self.bad_interface();
        };
        let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let time_us = ticks_to_us(ticks, units, interface.offset_s);
        let data = epb.packet_data();
        let cut = data.len() < epb.origlen as usize;
        self.on_frame(interface.link, time_us, data, cut)
    }

    fn bad_interface(&mut self) -> Option<Datagram> {
        self.counters.bad_interface += 1;
        None
    }

    fn on_frame(
        &mut self,
        link: Option<Link>,
        time_us: i64,
        frame: &[u8],
        cut: bool,
    ) -> Option<Datagram> {
        self.last_time_us = time_us;
        let Some(link) = link else {
            self.counters.unsupported_link += 1;
            return None;
        };
        match packet::parse_frame(link, frame, cut) {
            Parsed::Udp(udp) => Some(self.datagram(time_us, &udp)),
            Parsed::Fragment(fragment) => {
                self.counters.fragments += 1;
                let (key, payload) =
                    self.reassembler
                        .insert(&fragment, time_us, &mut self.counters)?;
                self.on_reassembled(time_us, key, &payload)
            }
            Parsed::Skip(why) => {
                self.counters.skipped(why);
                None
            }
        }
    }

    /// A reassembled IP payload: IPv6 may still hold extension headers before UDP.
    fn on_reassembled(
        &mut self,
        time_us: i64,
        key: packet::FragmentKey,
        payload: &[u8],
    ) -> Option<Datagram> {
        let upper = if key.src.is_ipv6() {
            packet::skip_extensions(key.next_header, payload, false)
        } else {
            Ok(packet::Upper::Protocol(key.next_header, payload))
        };
        let parsed = match upper {
            Ok(packet::Upper::Protocol(17, bytes)) => {
                packet::udp(key.src, key.dst, bytes, Skip::BadLength)
            }
            Ok(packet::Upper::Protocol(_, _)) => Parsed::Skip(Skip::NotUdp),
            Ok(packet::Upper::Fragment(..)) => Parsed::Skip(Skip::Malformed),
            Err(why) => Parsed::Skip(why),
        };
        match parsed {
            Parsed::Udp(udp) => Some(self.datagram(time_us, &udp)),
            Parsed::Skip(why) => {
                self.counters.skipped(why);
                None
            }
            Parsed::Fragment(_) => None,
        }
    }

    fn datagram(&mut self, time_us: i64, udp: &Udp<'_>) -> Datagram {
        self.counters.datagrams += 1;
        Datagram {
            time_us,
            src: udp.src,
            dst: udp.dst,
            payload: udp.payload.to_vec(),
        }
    }
}

/// if_tsresol: bit 7 clear means 10^-n s, set means 2^-n s. `None` when it overflows.
fn units_per_second(tsresol: u8) -> Option<u64> {
    let exponent = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        1u64.checked_shl(exponent)
    }
}

/// Interface ticks to microseconds since the epoch, saturating at the i64 range.
fn ticks_to_us(ticks: u64, units_per_second: u64, offset_s: i64) -> i64 {
    let us = i128::from(ticks) * 1_000_000 / i128::from(units_per_second.max(1));
    let total = us + i128::from(offset_s) * 1_000_000;
    total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests;
