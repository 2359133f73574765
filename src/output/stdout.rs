//! Standard output: the file form, one line per record (replay, or `stdout = true`).
//!
//! Standard output is the one sink that may block: a reader that stops reading a pipe
//! stops the writer, which is what `replay | head` expects. A failed write is a counted drop.

use std::io::{self, Write};

use super::SinkCounters;

#[derive(Default)]
pub struct StdoutSink {
    pub counters: SinkCounters,
}

impl StdoutSink {
    pub fn write(&mut self, line: &str) {
        let mut out = io::stdout().lock();
        match out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
        {
            Ok(()) => self.counters.written += 1,
            Err(_) => {
                self.counters.dropped += 1;
                self.counters.errors += 1;
            }
        }
    }

    pub fn flush(&mut self) {
        if io::stdout().lock().flush().is_err() {
            self.counters.errors += 1;
        }
    }
}
