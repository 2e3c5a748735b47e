//! One `watch` per store: an exclusive lock on `<store>/watch.lock`, holding the owner's pid.
//! The OS releases the lock when the process ends, however it ends, so a crash leaves nothing
//! stale behind; the pid in the file only serves the message of a second `watch`.
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub struct WatchLock {
    file: File,
    pub path: PathBuf,
}

impl Drop for WatchLock {
    /// Unlock before the close: the close is what wakes a following dashboard, and Linux
    /// drops a flock only after it has queued the close event, so a dashboard looking at
    /// once could still find the lock held.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Take the lock, or say who holds it.
pub fn acquire(root: &Path) -> Result<WatchLock, String> {
    crate::store::create_private_dir(root)
        .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let path = root.join("watch.lock");
    let mut file =
        open_private(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match lock_exclusive(&file) {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(if pid.is_empty() {
                format!(
                    "another connwatch watch is already running on this store ({})",
                    path.display()
                )
            } else {
                format!(
                    "another connwatch watch (pid {pid}) is already running on this store ({})",
                    path.display()
                )
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(WatchLock { file, path })
}

/// The pid of the running `watch` on this store, if one holds the lock.
pub fn holder(root: &Path) -> Option<u32> {
    let path = root.join("watch.lock");
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => {
            let mut pid = String::new();
            file.read_to_string(&mut pid).ok()?;
            pid.trim().parse().ok()
        }
    }
}

/// `holder` (a dashboard asking who watches) takes a shared lock for an instant; a watch
/// starting in that instant waits it out rather than refusing with a stale pid.
fn lock_exclusive(file: &File) -> Result<(), std::fs::TryLockError> {
    for _ in 0..20 {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
    file.try_lock()
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}
