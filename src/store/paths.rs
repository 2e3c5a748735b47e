//! Where the store lives: `data_dir` from the config, `CONNWATCH_DATA_DIR`, or the
//! platform's local data dir (tokens are data, not cache: losing them forces a sign-in).
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePaths {
    pub root: PathBuf,
    /// Whether connwatch owns `root` itself (the platform's `…/connwatch`) and may tighten
    /// it. A `data_dir` the user named is theirs: only what connwatch creates inside it is
    /// tightened (a `data_dir = "/tmp"` once had /tmp chmodded to 0700 by a mere `status`).
    pub own_root: bool,
    pub tokens_dir: PathBuf,
    pub status_dir: PathBuf,
    pub logs_dir: PathBuf,
}

impl StorePaths {
    pub fn under(root: &Path) -> Self {
        StorePaths {
            root: root.to_path_buf(),
            own_root: false,
            tokens_dir: root.join("tokens"),
            status_dir: root.join("status"),
            logs_dir: root.join("logs"),
        }
    }

    /// Connwatch's own directories: `tokens`, `status` and `logs`, and with the platform
    /// layout the store's root and the `connwatch` directory under the state dir.
    pub fn own_dirs(&self) -> Vec<&Path> {
        let mut dirs = Vec::new();
        if self.own_root {
            dirs.push(self.root.as_path());
            for d in [self.status_dir.parent(), self.logs_dir.parent()]
                .into_iter()
                .flatten()
            {
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        dirs.extend([
            self.tokens_dir.as_path(),
            self.status_dir.as_path(),
            self.logs_dir.as_path(),
        ]);
        dirs
    }

    /// Resolve from the config's `data_dir`, then `CONNWATCH_DATA_DIR`, then the platform.
    pub fn resolve(config_data_dir: Option<&Path>) -> Option<Self> {
        if let Some(d) = config_data_dir {
            return Some(Self::under(d));
        }
        if let Some(d) = std::env::var_os("CONNWATCH_DATA_DIR").filter(|d| !d.is_empty()) {
            return Some(Self::under(Path::new(&d)));
        }
        let dirs = directories::ProjectDirs::from("", "", "connwatch")?;
        let root = dirs.data_local_dir().to_path_buf();
        let state = dirs
            .state_dir()
            .map_or_else(|| root.clone(), Path::to_path_buf);
        Some(StorePaths {
            tokens_dir: root.join("tokens"),
            status_dir: state.join("status"),
            logs_dir: state.join("logs"),
            root,
            own_root: true,
        })
    }
}
