//! flowalert: NetFlow v5, NetFlow v9 and IPFIX flows checked against threat-intel lists.
//!
//! The modules follow the path a datagram takes: `flow` decodes it, `intel` says whether an
//! address is listed and by whom, `alert` turns hits into records, `output` writes them.
//! `capture` reads pcap files for `replay`.
#![forbid(unsafe_code)]

pub mod alert;
pub mod app;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diag;
pub mod dnsbl;
pub mod flow;
pub mod intel;
pub mod output;
pub mod pipeline;
pub mod service;
