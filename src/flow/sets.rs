//! The set walk shared by NetFlow v9 (flowsets) and IPFIX (sets): 4-byte set headers
//! (id, length including the header), walked by length only.
//!
//! Invariant: every step consumes at least 4 bytes or stops; a set length below 4 or past
//! the end is an error and ends the walk.

use super::error::SetError;

/// One set: its id, its body (after the 4-byte header), and its offset in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<'a> {
    pub id: u16,
    pub body: &'a [u8],
    pub offset: usize,
}

/// Walks the sets of `buf` (starting at `offset` in the datagram). Fewer than 4 bytes, or
/// only zero bytes, left after the last set are padding.
#[derive(Debug, Clone)]
pub struct Sets<'a> {
    buf: &'a [u8],
    at: usize,
    base: usize,
    failed: bool,
}

impl<'a> Sets<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Sets<'a> {
        Sets {
            buf,
            at: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> Iterator for Sets<'a> {
    type Item = Result<Set<'a>, SetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.at..)?;
        let head = rest.get(..4)?;
        let id = u16::from_be_bytes([head[0], head[1]]);
        let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let offset = self.base + self.at;

        // Exporters (Palo Alto, Cisco ACI) zero-fill datagrams to a fixed size: an all-zero
        // tail is padding, not a set of length 0.
        if length < 4 && rest.iter().all(|&b| b == 0) {
            return None;
        }
        let result = if length < 4 {
            Err(SetError::LengthTooSmall { offset, length })
        } else if length > rest.len() {
            Err(SetError::PastEnd {
                offset,
                length,
                available: rest.len(),
            })
        } else {
            let body = rest.get(4..length).unwrap_or(&[]);
            Ok(Set { id, body, offset })
        };
        match result {
            Ok(_) => self.at += length,
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

/// Big-endian u16 at `at`, if the bytes are there.
pub fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Big-endian u32 at `at`, if the bytes are there.
pub fn be32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_by_length_and_treats_short_tail_as_padding() {
        let buf = [
            0x01, 0x00, 0x00, 0x06, 0xaa, 0xbb, // set 256, length 6, body aa bb
            0x01, 0x01, 0x00, 0x04, // set 257, length 4, empty body
            0x00, 0x00, // 2 bytes of padding
        ];
        let sets: Vec<_> = Sets::new(&buf, 20).collect();
        assert_eq!(sets.len(), 2);
        let first = sets[0].clone().unwrap();
        assert_eq!(
            (first.id, first.body, first.offset),
            (256, &[0xaa, 0xbb][..], 20)
        );
        assert_eq!(sets[1].clone().unwrap().offset, 26);
    }

    #[test]
    fn an_all_zero_tail_is_padding() {
        let mut buf = vec![0x01, 0x00, 0x00, 0x04]; // set 256, length 4
        buf.extend_from_slice(&[0; 40]); // zero fill to a fixed datagram size
        let sets: Vec<_> = Sets::new(&buf, 20).collect();
        assert_eq!(sets.len(), 1);
        assert!(sets[0].is_ok());
    }

    #[test]
    fn zero_length_stops_with_error() {
        let buf = [0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x04];
        let sets: Vec<_> = Sets::new(&buf, 16).collect();
        let err = SetError::LengthTooSmall {
            offset: 16,
            length: 0,
        };
        assert_eq!(sets, vec![Err(err.clone())]);
        assert_eq!(err.to_string(), "set length 0 at offset 16 is below 4");
    }

    #[test]
    fn overlong_stops_with_error() {
        let buf = [0x01, 0x00, 0x00, 0x09, 0x00, 0x00];
        let sets: Vec<_> = Sets::new(&buf, 0).collect();
        let err = SetError::PastEnd {
            offset: 0,
            length: 9,
            available: 6,
        };
        assert_eq!(sets, vec![Err(err)]);
    }
}
