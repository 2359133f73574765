//! Fuzzes the reading of one OTX API page (`/api/v1/pulses/subscribed`), JSON that anyone
//! publishing a pulse partly writes: any bytes give pulses and a next link or an error.
#![no_main]

use flowalert::intel::update::{read_otx_page, SyncStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stats = SyncStats::default();
    let mut pulses = Vec::new();
    if read_otx_page(data, 1_796_327_229_000, &mut stats, &mut pulses).is_ok() {
        assert!(pulses.len() <= stats.pulses);
    }
});
