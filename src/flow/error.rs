//! Typed decoding errors, one enum per level: message header, set, template, record.
//!
//! Every variant carries the byte offset in the datagram and the bad value, so a message
//! names the exact place. Each error maps to one malformed-input counter (`kind`).

use std::fmt;

/// Which malformed-input counter an error increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    Header,
    Set,
    Template,
    Record,
}

/// A message header that cannot be decoded; the whole datagram is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the fixed header needs.
    Short { len: usize, need: usize },
    /// The IPFIX message length claims more bytes than the datagram holds.
    LengthPastEnd { declared: usize, available: usize },
    /// The IPFIX message length is below the header length.
    LengthTooSmall { declared: usize },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Short { len, need } => {
                write!(
                    f,
                    "datagram of {len} bytes is shorter than the {need}-byte header"
                )
            }
            HeaderError::LengthPastEnd {
                declared,
                available,
            } => write!(
                f,
                "message length {declared} exceeds the {available}-byte datagram"
            ),
            HeaderError::LengthTooSmall { declared } => {
                write!(f, "message length {declared} is below the header length")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// A set (v9 flowset) whose header cannot be trusted; decoding stops at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// Set length below 4 (0 included): walking on would not make progress.
    LengthTooSmall { offset: usize, length: usize },
    /// Set length past the end of the message.
    PastEnd {
        offset: usize,
        length: usize,
        available: usize,
    },
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::LengthTooSmall { offset, length } => {
                write!(f, "set length {length} at offset {offset} is below 4")
            }
            SetError::PastEnd {
                offset,
                length,
                available,
            } => write!(
                f,
                "set length {length} at offset {offset} exceeds the {available} bytes left"
            ),
        }
    }
}

impl std::error::Error for SetError {}

/// A template record that is rejected; the rest of its set is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template record runs past the end of its set.
    Truncated { offset: usize },
    /// Template ids below 256 are reserved for set ids.
    BadId { offset: usize, id: u16 },
    /// Every field is fixed-length and they add up to 0 bytes: no record could progress.
    ZeroLength { offset: usize, id: u16 },
    /// An options template with a scope field count of 0 (RFC 7011 3.4.2.2).
    NoScope { offset: usize, id: u16 },
    /// A v9 template with no fields (v9 has no withdrawal).
    NoFields { offset: usize, id: u16 },
    /// A v9 options template whose scope or option length is not a multiple of 4.
    BadOptionLength { offset: usize, length: u16 },
    /// More fields than `MAX_TEMPLATE_FIELDS`: no exporter sends such a template, and each
    /// field costs memory for as long as the template is kept.
    TooWide {
        offset: usize,
        id: u16,
        fields: usize,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Truncated { offset } => {
                write!(f, "template at offset {offset} runs past its set")
            }
            TemplateError::BadId { offset, id } => {
                write!(f, "template id {id} at offset {offset} is below 256")
            }
            TemplateError::TooWide { offset, id, fields } => {
                write!(f, "template {id} at offset {offset} has {fields} fields")
            }
            TemplateError::ZeroLength { offset, id } => {
                write!(f, "template {id} at offset {offset} has record length 0")
            }
            TemplateError::NoScope { offset, id } => {
                write!(
                    f,
                    "options template {id} at offset {offset} has scope count 0"
                )
            }
            TemplateError::NoFields { offset, id } => {
                write!(f, "template {id} at offset {offset} has no fields")
            }
            TemplateError::BadOptionLength { offset, length } => {
                write!(
                    f,
                    "options length {length} at offset {offset} is not a multiple of 4"
                )
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// A data record that runs past the end of its set (variable-length fields only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    Overrun { offset: usize },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Overrun { offset } => {
                write!(f, "record at offset {offset} runs past its set")
            }
        }
    }
}

impl std::error::Error for RecordError {}

impl HeaderError {
    pub fn kind(&self) -> Malformed {
        Malformed::Header
    }
}

impl SetError {
    pub fn kind(&self) -> Malformed {
        Malformed::Set
    }
}

impl TemplateError {
    pub fn kind(&self) -> Malformed {
        Malformed::Template
    }
}

impl RecordError {
    pub fn kind(&self) -> Malformed {
        Malformed::Record
    }
}
