//! Following the store: what another process writes — `watch`, `token`, `refresh`, `login`,
//! `purge`, a second dashboard — reaches this worker through inotify on the token and status
//! directories, with no polling: an idle worker stays asleep. The store's root is followed
//! for `watch.lock` alone: a `watch` starting or ending there changes who schedules refreshes.
use std::ffi::OsString;

use futures_util::StreamExt;
use inotify::{EventStream, Inotify, WatchDescriptor, WatchMask};

use crate::store::StorePaths;

/// A file of the store changed: the connection's name.
pub(super) enum Changed {
    Tokens(String),
    Status(String),
    /// `watch.lock` was written (a `watch` took it) or closed (one ended).
    WatchLock,
}

pub(super) struct StoreFollower {
    stream: EventStream<Vec<u8>>,
    tokens: WatchDescriptor,
    status: WatchDescriptor,
    root: Option<WatchDescriptor>,
}

impl StoreFollower {
    /// `None` when inotify is unavailable (then the worker simply does not follow).
    pub fn new(paths: &StorePaths) -> Option<StoreFollower> {
        for d in [&paths.tokens_dir, &paths.status_dir] {
            crate::store::ensure_private_dir(d).ok()?;
        }
        let inotify = Inotify::init().ok()?;
        // Atomic writes rename into place (MOVED_TO); purges delete.
        let mask = WatchMask::MOVED_TO | WatchMask::CLOSE_WRITE | WatchMask::DELETE;
        let mut watches = inotify.watches();
        let tokens = watches.add(&paths.tokens_dir, mask).ok()?;
        let status = watches.add(&paths.status_dir, mask).ok()?;
        // The lock file is written once when a watch takes it, and closed (by the OS, however
        // the watch ends) when it is released; a dashboard that cannot follow it still works.
        let root = watches
            .add(&paths.root, WatchMask::MODIFY | WatchMask::CLOSE_WRITE)
            .ok();
        let stream = inotify.into_event_stream(vec![0u8; 4096]).ok()?;
        Some(StoreFollower {
            stream,
            tokens,
            status,
            root,
        })
    }

    /// The next change to a connection's file (temp files and other names are skipped).
    pub async fn next(&mut self) -> Option<Changed> {
        loop {
            let ev = self.stream.next().await?.ok()?;
            if Some(&ev.wd) == self.root.as_ref() {
                if ev.name.as_deref().is_some_and(|n| n == "watch.lock") {
                    return Some(Changed::WatchLock);
                }
                continue;
            }
            let Some(name) = ev.name.as_ref().and_then(connection_of) else {
                continue;
            };
            if ev.wd == self.tokens {
                return Some(Changed::Tokens(name));
            }
            if ev.wd == self.status {
                return Some(Changed::Status(name));
            }
        }
    }
}

/// `work-mail.json` → `work-mail`; lock files and temp files are not connections' files.
fn connection_of(file: &OsString) -> Option<String> {
    let f = file.to_str()?;
    let name = f.strip_suffix(".json")?;
    (!name.is_empty() && !name.starts_with('.')).then(|| name.to_owned())
}

pub(super) async fn next_change(f: &mut Option<StoreFollower>) -> Option<Changed> {
    match f {
        Some(f) => f.next().await,
        None => std::future::pending().await,
    }
}
