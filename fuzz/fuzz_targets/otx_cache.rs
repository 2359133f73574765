//! Fuzzes the OTX cache file as `load_cache` reads it from disk (the cache is written by
//! `update`, but a disk, a crash or another program may leave anything there): a typed
//! error or a source whose indicators all come from current, recent pulses.
#![no_main]

use std::path::PathBuf;

use flowalert::intel::otx;
use libfuzzer_sys::fuzz_target;

/// 2026-12-03T19:47:09Z: "now" for expiry and ageing.
const NOW_MS: i64 = 1_796_327_229_000;
const MAX_AGE_MS: i64 = 90 * 86_400_000;

/// In /dev/shm where there is one: a disk-backed temp directory costs milliseconds a write.
fn cache_path() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("flowalert-fuzz-otx-{}.json", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let path = cache_path();
    std::fs::write(&path, data).expect("cannot write the cache file");
    let Ok(source) = otx::load_cache(&path, NOW_MS, MAX_AGE_MS) else {
        return;
    };
    assert_eq!(source.name, otx::SOURCE_NAME);
    for indicator in &source.indicators {
        let url = indicator
            .url
            .as_deref()
            .expect("every OTX indicator has its pulse URL");
        assert!(url.starts_with("https://otx.alienvault.com/pulse/"));
        assert_eq!(otx::parse_indicator(&indicator.entry), Some(indicator.net));
    }
});
