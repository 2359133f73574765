//! Integration tests: one binary, shared helpers in `common` and `harness`.

mod common;
mod conformance;
mod dnsbl;
mod exporters;
mod harness;
mod lists;
mod outputs;
mod service;
mod siem_decoders;
mod update;
mod vectors;
mod wireshark;
