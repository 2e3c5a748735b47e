//! Writing the config file (`init`, `add`): atomically, 0600.
use std::io::Write;
use std::path::{Path, PathBuf};

/// Temp file beside the config, fsync, rename: a crash leaves the old config or the new one.
/// The temp file is created 0600, so the config ends 0600 whatever it was. A directory
/// created for it is 0700; an existing one is left as it is (`--config ./x.toml`).
pub fn write_config(path: &Path, text: &str) -> std::io::Result<()> {
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&dir)?;
    }
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
