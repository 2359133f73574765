//! Fuzzes the decoder with datagrams forced to version 10; see `common/decoder.rs`.
#![no_main]

#[path = "common/decoder.rs"]
mod decoder;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| decoder::run(data, 10));
