//! Standard output: the file form, one line per record (replay, or `stdout = true`).
//!
//! Standard output is the one sink that may block: a reader that stops reading a pipe
//! stops the writer, which is what `replay | head` expects. Lines are gathered and written
//! in blocks of about `BLOCK` bytes, and whatever is gathered at the end of a turn of the
//! loop (`send`) or at shutdown (`flush`): a write per record cost replay more than
//! formatting it. A failed write is counted as dropping every line of its block, though
//! the pipe may have taken some of them.

use std::io::{self, Write};

use super::SinkCounters;

/// Bytes gathered before they are written without waiting for the end of the turn.
const BLOCK: usize = 64 * 1024;

#[derive(Default)]
pub struct StdoutSink {
    pub counters: SinkCounters,
    block: Vec<u8>,
    lines: u64,
}

impl StdoutSink {
    pub fn write(&mut self, line: &str) {
        self.block.extend_from_slice(line.as_bytes());
        self.block.push(b'\n');
        self.lines += 1;
        if self.block.len() >= BLOCK {
            self.send();
        }
    }

    /// Writes the gathered lines.
    pub fn send(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        match out.write_all(&self.block).and_then(|()| out.flush()) {
            Ok(()) => self.counters.written += self.lines,
            Err(_) => {
                self.counters.dropped += self.lines;
                self.counters.errors += 1;
            }
        }
        self.block.clear();
        self.lines = 0;
    }

    pub fn flush(&mut self) {
        self.send();
        if io::stdout().lock().flush().is_err() {
            self.counters.errors += 1;
        }
    }
}

/// A worker that stops without `flush` (a panic) still writes what it gathered.
impl Drop for StdoutSink {
    fn drop(&mut self) {
        self.send();
    }
}
