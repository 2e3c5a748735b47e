//! The token store: one JSON file per connection, 0600 in a 0700 directory, replaced
//! atomically. Losing a refresh token forces a sign-in, so nothing here deletes a file it
//! cannot read: a corrupt file is reported and left for the user to inspect or purge.

mod atomic;
mod lock;
mod paths;
mod reserve;
mod status;
pub mod watch_lock;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use atomic::write_atomic;
pub use lock::ConnectionLock;
pub use paths::StorePaths;
pub use reserve::Reservation;
pub use status::{HISTORY_LEN, HistoryEntry, StatusRecord, push_history};

use crate::secret::Secret;

/// What we keep for one connection. Version 1 of the file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub version: u32,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub expires_at: Option<Timestamp>,
    /// The scopes the provider says it granted (`scope` of the token response).
    pub granted_scopes: Vec<String>,
    pub obtained_at: Timestamp,
    /// When the person signed in for this grant (the ID token's `auth_time`, else when the
    /// sign-in completed); kept across refreshes. Files from before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_at: Option<Timestamp>,
}

impl TokenSet {
    /// What these tokens are, without them (crate::state).
    pub fn facts(&self) -> crate::state::TokenFacts {
        crate::state::TokenFacts {
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
            has_refresh_token: self.refresh_token.is_some(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid token file ({reason}); it was left untouched — run `connwatch purge {name}` to start over"
    )]
    Corrupt {
        path: PathBuf,
        name: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct TokenStore {
    paths: StorePaths,
}

impl TokenStore {
    /// The store at `paths`. Its own directories that already exist are tightened to 0700
    /// when an older connwatch (or a umask) left them open; nothing is created here.
    pub fn new(paths: StorePaths) -> Self {
        for d in paths.own_dirs() {
            tighten_dir(d);
        }
        TokenStore { paths }
    }

    pub fn paths(&self) -> &StorePaths {
        &self.paths
    }

    pub fn token_path(&self, name: &str) -> PathBuf {
        self.paths.tokens_dir.join(format!("{name}.json"))
    }

    /// `Ok(None)` when the connection has never been signed in (or was purged).
    pub fn load(&self, name: &str) -> Result<Option<TokenSet>, StoreError> {
        let path = self.token_path(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        tighten_file(&path);
        let set: TokenSet = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        if set.version != 1 {
            return Err(StoreError::Corrupt {
                path,
                name: name.to_owned(),
                reason: format!("unsupported version {}", set.version),
            });
        }
        Ok(Some(set))
    }

    /// Room for `name`'s next tokens, taken before a refresh token is spent (see
    /// `reserve.rs`): `Err` means there is no room, and the request must not be sent.
    pub fn reserve(&self, name: &str, room_for: &TokenSet) -> std::io::Result<Reservation> {
        let now = serde_json::to_vec_pretty(room_for).map_or(0, |b| b.len() as u64);
        // New tokens are rarely much longer than the old (an ID token may be added).
        let len = now * 2 + 16 * 1024;
        Reservation::take(&self.paths.tokens_dir, name, &self.token_path(name), len)
    }

    /// Whether a refresh of `name` was cut off (connwatch killed, the machine stopped) after
    /// its request may have reached the provider and before its answer was saved.
    pub fn refresh_was_cut_off(&self, name: &str) -> bool {
        reserve::marker(&self.paths.tokens_dir, name).exists()
    }

    pub fn save(&self, name: &str, set: &TokenSet) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(set).map_err(std::io::Error::other)?;
        write_atomic(&self.paths.tokens_dir, &self.token_path(name), &bytes)?;
        // A whole new set (a sign-in) supersedes a refresh cut off earlier.
        let _ = std::fs::remove_file(reserve::marker(&self.paths.tokens_dir, name));
        Ok(())
    }

    /// Forget the tokens. Returns whether a file was there.
    pub fn purge(&self, name: &str) -> std::io::Result<bool> {
        let _ = std::fs::remove_file(reserve::marker(&self.paths.tokens_dir, name));
        match std::fs::remove_file(self.token_path(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn lock(&self, name: &str) -> std::io::Result<ConnectionLock> {
        ConnectionLock::acquire(&self.paths.tokens_dir, name)
    }

    pub fn load_status(&self, name: &str) -> Option<StatusRecord> {
        status::load(&self.paths.status_dir, name)
    }

    pub fn save_status(&self, name: &str, record: &StatusRecord) -> std::io::Result<()> {
        status::save(&self.paths.status_dir, name, record)
    }
}

/// Create `dir` (and parents) with mode 0700 on Unix, tightening it if it already exists
/// and is a directory of connwatch's own (`tokens`, `status`, `logs`): never through a
/// symlink (its target is someone else's).
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    tighten_dir(dir);
    Ok(())
}

/// Create `dir` (and parents) with mode 0700 when missing; an existing one is left as it
/// is. For the store's root, which may be a `data_dir` the user named.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    // Every directory created on the way is 0700 too (the `connwatch` directory above
    // `tokens`, and the XDG directories if they did not exist, as the XDG spec wants).
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// 0700 for an existing directory that lets group or others in; a missing one is left
/// missing, a symlink is not followed (its target was not made by connwatch), and a failure
/// only logged (the files inside are 0600 regardless).
fn tighten_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::symlink_metadata(dir)
            && m.is_dir()
            && m.permissions().mode() & 0o077 != 0
            && let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        {
            tracing::warn!("cannot make {} private (0700): {e}", dir.display());
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// 0600 for a token file others could read (copied in, or restored from a backup with
/// 0644): tightened and said in the log, not used silently.
fn tighten_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::symlink_metadata(path)
            && m.is_file()
            && m.permissions().mode() & 0o077 != 0
        {
            let was = m.permissions().mode() & 0o777;
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => tracing::warn!(
                    "{} was readable by others (mode {was:o}); made private (0600)",
                    path.display()
                ),
                Err(e) => tracing::warn!(
                    "{} is readable by others (mode {was:o}) and cannot be made private: {e}",
                    path.display()
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests;
