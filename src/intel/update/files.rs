//! Writing files so a reader sees the old bytes or the new ones, never a mix.
//!
//! The new content goes to a temporary file in the same directory (so the rename cannot
//! cross file systems), is flushed to disk, then renamed over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = temp_path(path)?;
    let failed = |what: &str, err: std::io::Error| {
        let _ = std::fs::remove_file(&temp);
        format!("{}: cannot {what}: {err}", path.display())
    };

    let mut file =
        std::fs::File::create(&temp).map_err(|e| failed("create a temporary file", e))?;
    file.write_all(bytes).map_err(|e| failed("write", e))?;
    file.sync_all().map_err(|e| failed("flush", e))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|e| failed("rename into place", e))?;

    // The rename is durable once the directory is; a failure here loses nothing yet.
    if let Some(dir) = path.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// `.NAME.tmp-PID` beside `path`: hidden, and distinct per process.
fn temp_path(path: &Path) -> Result<PathBuf, String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}", std::process::id()));
    Ok(path.with_file_name(temp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("flowalert-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.txt");
        std::fs::write(&path, "old\n").unwrap();

        write_atomically(&path, b"new\n").unwrap();

        assert_eq!(std::fs::read(&path).unwrap(), b"new\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["list.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
