//! Flow decoding: NetFlow v5, NetFlow v9 and IPFIX datagrams into `FlowRecord`s.

pub mod record;

pub use record::{canonical, FlowRecord, UnixMillis};
