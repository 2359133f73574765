//! Fuzzes every list format (the first byte picks it, `auto` included) and the Suricata
//! categories file: only I/O stops a parse, and a line yields at most the 256 prefixes an
//! IPv6 range can split into.
#![no_main]

use std::io::Cursor;

use flowalert::config::LIST_FORMATS as FORMATS;
use flowalert::intel::textlist::{self, Format, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let name = FORMATS[usize::from(pick) % FORMATS.len()];
    let format = Format::from_name(name).expect("a known format");
    let options = Options {
        categories: vec!["1".into(), "Scanners".into()],
        min_score: (pick & 0x80 != 0).then_some(10),
        ..Options::default()
    };

    let parsed = textlist::parse(Cursor::new(text), format, &options).expect("no I/O error");
    assert!(parsed.indicators.len() <= parsed.lines * 256);
    assert!(parsed.problems.len() <= textlist::MAX_PROBLEMS + 1);
    for indicator in &parsed.indicators {
        assert!(indicator.entry.len() <= textlist::MAX_LINE);
    }
    let _ = textlist::parse_categories(Cursor::new(text)).expect("no I/O error");
});
