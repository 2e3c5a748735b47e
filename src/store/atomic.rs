//! Atomic replace: temp file in the same directory → write → fsync → rename → fsync dir.
//! A crash at any point leaves either the old complete file or the new complete file.
use std::io::Write;
use std::path::Path;

pub fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    super::ensure_private_dir(dir)?;
    // NamedTempFile creates the file 0600 on Unix; the rename keeps that mode.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    // The rename is only durable once the directory entry is on disk.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
