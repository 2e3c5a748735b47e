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
        let mut options = File::options();
        options.create(true).truncate(false).write(true);
        // Empty, but in a private directory every file is private: 0600 like the rest.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(dir.join(format!("{name}.lock")))?;
        // Lock files made by older versions were 0644: tighten them too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if file.metadata()?.permissions().mode() & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
        }
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
