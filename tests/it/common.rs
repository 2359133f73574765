//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// Where the shared test data lives: `FLOWALERT_TESTDATA`, else `../shared/testdata` beside
/// the repository. Tests that use it are `#[ignore]`d so `cargo test` passes without it.
#[allow(dead_code)]
pub fn testdata_dir() -> PathBuf {
    match std::env::var_os("FLOWALERT_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
    }
}

/// A file under the shared test data; panics with a clear message when it is missing, so a
/// run with `--include-ignored` fails rather than skips.
#[allow(dead_code)]
pub fn testdata(relative: &str) -> PathBuf {
    let path = testdata_dir().join(relative);
    assert!(
        path.exists(),
        "shared test data missing: {} (set FLOWALERT_TESTDATA)",
        path.display()
    );
    path
}
