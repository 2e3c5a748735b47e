//! Room for a refresh's answer, taken before the refresh token is spent (ARCHITECTURE.md,
//! "Bounds"). With a rotating provider the old refresh token dies the moment the request
//! reaches it; an answer that then cannot be saved (a full disk) or is never saved (connwatch
//! killed mid-refresh, the connection broken after sending) loses the grant. So, under the
//! connection's lock and before the request: a file `.NAME.refreshing` is created in the
//! tokens directory with room for the answer already allocated; the answer is written into
//! it the moment it arrives and renamed over `NAME.json`. A full disk refuses the refresh
//! before anything is sent. The marker stays unless the refresh is known not to have spent
//! anything (`release`: the provider answered without new tokens), so a leftover
//! `.NAME.refreshing` says a refresh was cut off after it may have reached the provider.
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

pub struct Reservation {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    target: PathBuf,
}

/// The marker of connection `name`'s refresh in flight.
pub fn marker(tokens_dir: &Path, name: &str) -> PathBuf {
    tokens_dir.join(format!(".{name}.refreshing"))
}

impl Reservation {
    /// Create the marker with `len` bytes allocated and make it durable. `Err` (a full disk,
    /// a file size limit) means: do not send the request (the marker is gone again).
    pub fn take(dir: &Path, name: &str, target: &Path, len: u64) -> std::io::Result<Reservation> {
        super::ensure_private_dir(dir)?;
        let path = marker(dir, name);
        let mut options = File::options();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        let made = allocate(&file, len)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(dir));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(Reservation {
            file,
            path,
            dir: dir.to_path_buf(),
            target: target.to_path_buf(),
        })
    }

    /// Write `bytes` into the reserved room and rename it over the target, durably. On
    /// failure the marker is removed: the caller says what was lost, once.
    pub fn commit(mut self, bytes: &[u8]) -> std::io::Result<()> {
        let written = (|| {
            self.file.rewind()?;
            self.file.write_all(bytes)?;
            self.file.set_len(bytes.len() as u64)?;
            self.file.sync_all()?;
            std::fs::rename(&self.path, &self.target)?;
            sync_dir(&self.dir)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        written
    }

    /// Nothing was spent (the provider answered, without new tokens): the marker goes.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `len` bytes of real blocks for `f`: posix_fallocate where the file system has it, else
/// zeros written (which allocate as well).
fn allocate(f: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len = libc::off_t::try_from(len).unwrap_or(libc::off_t::MAX);
        // SAFETY: a valid open file descriptor and a non-negative range.
        let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
        match rc {
            0 => return Ok(()),
            libc::EOPNOTSUPP | libc::EINVAL => {}
            e => return Err(std::io::Error::from_raw_os_error(e)),
        }
    }
    let mut w = f;
    let zeros = [0u8; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}
