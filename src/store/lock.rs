//! A per-connection lock file held over read-RT → refresh → write-new-RT, so two processes
//! (the dashboard and a `token` command) never spend one rotating refresh token twice.
use std::fs::File;
use std::path::Path;

pub struct ConnectionLock {
    file: File,
}

impl ConnectionLock {
    /// Blocks until the lock is ours. Call from a blocking context (`spawn_blocking`).
    pub fn acquire(dir: &Path, name: &str) -> std::io::Result<ConnectionLock> {
        super::ensure_private_dir(dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{name}.lock")))?;
        file.lock()?;
        Ok(ConnectionLock { file })
    }
}

impl Drop for ConnectionLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it immediate.
        let _ = self.file.unlock();
    }
}
