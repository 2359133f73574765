//! Integration tests: one binary, shared helpers in `common` and `harness`.

mod bounds;
mod common;
mod conformance;
mod dnsbl;
mod exporters;
mod forged;
mod harness;
mod lists;
mod outputs;
mod overload;
mod service;
mod siem_decoders;
mod update;
mod vectors;
mod wireshark;
