//! Fuzzes the configuration parser: any text gives a configuration or problems with line
//! numbers inside the text, never a panic.
#![no_main]

use std::path::Path;

use flowalert::config::{Config, Report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut report = Report::default();
    let parsed = Config::parse(
        &text,
        Path::new("/etc/flowalert/flowalert.toml"),
        &mut report,
    );
    let lines = text.lines().count().max(1);
    for problem in report.errors.iter().chain(&report.warnings) {
        assert!(
            problem.line <= lines + 1,
            "line {} of {lines}",
            problem.line
        );
    }
    if parsed.is_none() {
        assert!(!report.errors.is_empty(), "no configuration and no error");
    }
});
