//! The alert file: one line per record, appended with a single write each.
//!
//! `reopen` opens the path again, which is what logrotate's rename-then-signal needs. A
//! file that cannot be opened or written loses the record (counted) and is opened again on
//! the next record, so a full disk or a removed directory never stops the other sinks.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::SinkCounters;

pub struct FileSink {
    path: PathBuf,
    file: Option<File>,
    line: Vec<u8>,
    pub counters: SinkCounters,
}

impl FileSink {
    /// Opens `path` for appending (created 0640); failing here is a configuration error.
    pub fn open(path: &Path) -> io::Result<FileSink> {
        let file = open_append(path)?;
        Ok(FileSink {
            path: path.to_owned(),
            file: Some(file),
            line: Vec::with_capacity(1024),
            counters: SinkCounters::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` and a newline in one write, so concurrent readers never see half.
    pub fn write(&mut self, line: &str) {
        if self.file.is_none() {
            self.try_reopen();
        }
        let Some(file) = self.file.as_mut() else {
            self.counters.dropped += 1;
            return;
        };

        self.line.clear();
        self.line.extend_from_slice(line.as_bytes());
        self.line.push(b'\n');
        match file.write_all(&self.line) {
            Ok(()) => self.counters.written += 1,
            Err(_) => {
                self.counters.dropped += 1;
                self.counters.errors += 1;
                // Open again next time: the file may have been removed or the disk freed.
                self.file = None;
            }
        }
    }

    /// Opens the path again (after logrotate renamed the old file away).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        let file = open_append(&self.path)?;
        self.file = Some(file);
        Ok(())
    }

    fn try_reopen(&mut self) {
        if self.reopen().is_err() {
            self.counters.errors += 1;
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flowalert-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reopen_after_rename_writes_to_a_new_file() {
        let dir = temp_dir("file-rotate");
        let path = dir.join("alerts.log");
        let rotated = dir.join("alerts.log.1");
        let mut sink = FileSink::open(&path).unwrap();
        sink.write("first");

        std::fs::rename(&path, &rotated).unwrap();
        sink.write("second");
        sink.reopen().unwrap();
        sink.write("third");

        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            "first\nsecond\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "third\n");
        assert_eq!((sink.counters.written, sink.counters.dropped), (3, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_vanished_directory_drops_and_counts() {
        let dir = temp_dir("file-gone");
        let path = dir.join("alerts.log");
        let mut sink = FileSink::open(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        // The open file still takes writes; a reopen then fails and drops are counted.
        sink.write("kept by the unlinked file");
        assert!(sink.reopen().is_err());
        sink.write("lost");
        assert_eq!(sink.counters.written, 1);
        assert_eq!((sink.counters.dropped, sink.counters.errors), (1, 1));

        std::fs::create_dir_all(&dir).unwrap();
        sink.write("back");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "back\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
