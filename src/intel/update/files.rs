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

/// A lock just taken may not hold its process id yet; one older than this without it is
/// left from a crash.
const LOCK_STARTING: std::time::Duration = std::time::Duration::from_secs(60);

/// `update.lock` in the state directory, holding the id of the process that took it: two
/// updates at once would download the same files and the last rename would win. Removed
/// when dropped; one whose process is gone (a crash, a reboot) is taken over.
#[derive(Debug)]
pub struct UpdateLock {
    path: PathBuf,
}

impl UpdateLock {
    pub fn take(dir: &Path) -> Result<UpdateLock, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("update.lock");
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(UpdateLock { path });
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(holder) = live_holder(&path) {
                        return Err(format!(
                            "another update ({holder}) is running; {} is its lock",
                            path.display()
                        ));
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(err) => return Err(format!("{}: cannot create: {err}", path.display())),
            }
        }
        Err(format!("{}: cannot take the lock", path.display()))
    }
}

impl Drop for UpdateLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who holds the lock at `path`, if that process still runs this program (a process id
/// reused after a reboot runs something else), or if it was taken a moment ago.
fn live_holder(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let Ok(pid) = text.trim().parse::<u32>() else {
        let age = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        let fresh = age.elapsed().is_ok_and(|elapsed| elapsed < LOCK_STARTING);
        return fresh.then(|| "just starting".to_owned());
    };
    let comm = |who: &str| std::fs::read_to_string(format!("/proc/{who}/comm")).ok();
    let running = comm(&pid.to_string())?;
    (Some(running) == comm("self")).then(|| format!("process {pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_update_at_a_time_and_a_dead_holder_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("flowalert-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let lock = UpdateLock::take(&dir).unwrap();
        let held = std::fs::read_to_string(dir.join("update.lock")).unwrap();
        assert_eq!(held, format!("{}\n", std::process::id()));
        let second = UpdateLock::take(&dir).unwrap_err();
        assert!(
            second.starts_with(&format!("another update (process {})", std::process::id())),
            "{second}"
        );
        drop(lock);
        assert!(!dir.join("update.lock").exists());

        // Left by a process that is gone: pid 0 is never a process of ours.
        std::fs::write(dir.join("update.lock"), "0\n").unwrap();
        let taken = UpdateLock::take(&dir).unwrap();
        drop(taken);
        // Created a moment ago, its id not written yet.
        std::fs::write(dir.join("update.lock"), "").unwrap();
        let starting = UpdateLock::take(&dir).unwrap_err();
        assert!(
            starting.starts_with("another update (just starting)"),
            "{starting}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
