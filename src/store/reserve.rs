//! Room for a refresh's answer, taken before the refresh token is spent (ARCHITECTURE.md,
//! "Bounds"). With a rotating provider the old refresh token dies the moment the request
//! reaches it; an answer that then cannot be saved (a full disk) or is never saved (connwatch
//! killed mid-refresh) loses the grant. So, under the connection's lock and before the
//! request: a file `.NAME.refreshing` is created in the tokens directory with room for the
//! answer already allocated; the answer is written into it the moment it arrives and renamed
//! over `NAME.json`. A full disk refuses the refresh before anything is sent. A leftover
//! `.NAME.refreshing` says a refresh was cut off after it may have reached the provider.
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

pub struct Reservation {
    file: Option<File>,
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
    /// a file size limit) means: do not send the request.
    pub fn take(dir: &Path, name: &str, target: &Path, len: u64) -> std::io::Result<Reservation> {
        super::ensure_private_dir(dir)?;
        let path = marker(dir, name);
        let mut options = File::options();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        let r = Reservation {
            file: Some(file),
            path,
            dir: dir.to_path_buf(),
            target: target.to_path_buf(),
        };
        let f = r.file.as_ref().expect("just opened");
        allocate(f, len)?;
        f.sync_all()?;
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(r)
    }

    /// Write `bytes` into the reserved room and rename it over the target, durably.
    pub fn commit(mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut f = self.file.take().expect("a reservation is committed once");
        f.rewind()?;
        f.write_all(bytes)?;
        f.set_len(bytes.len() as u64)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&self.path, &self.target)?;
        #[cfg(unix)]
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

impl Drop for Reservation {
    /// Not committed (the request failed, or saving did and the caller has said so): the
    /// marker goes, so a later refresh does not report a cut-off one.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
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
