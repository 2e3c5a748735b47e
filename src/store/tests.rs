use super::*;

fn set(at: &str, rt: Option<&str>) -> TokenSet {
    TokenSet {
        version: 1,
        access_token: Secret::new(at),
        refresh_token: rt.map(Secret::new),
        id_token: None,
        expires_at: Some(Timestamp::from_second(2_000_000_000).unwrap()),
        granted_scopes: vec!["Mail.Read".into()],
        obtained_at: Timestamp::from_second(1_900_000_000).unwrap(),
        signed_in_at: None,
    }
}

#[test]
fn round_trip_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(StorePaths::under(dir.path()));
    assert_eq!(store.load("a").unwrap(), None);
    store.save("a", &set("at1", Some("rt1"))).unwrap();
    assert_eq!(store.load("a").unwrap(), Some(set("at1", Some("rt1"))));
    store.save("a", &set("at2", Some("rt2"))).unwrap();
    assert_eq!(store.load("a").unwrap(), Some(set("at2", Some("rt2"))));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.paths().tokens_dir), 0o700);
        assert_eq!(mode(&store.token_path("a")), 0o600);
    }
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(&store.paths().tokens_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["a.json".to_owned()]);
    assert!(store.purge("a").unwrap());
    assert!(!store.purge("a").unwrap());
}

#[test]
fn corrupt_file_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(StorePaths::under(dir.path()));
    ensure_private_dir(&store.paths().tokens_dir).unwrap();
    std::fs::write(store.token_path("b"), b"{ not json").unwrap();
    let err = store.load("b").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("connwatch purge b"));
    assert_eq!(std::fs::read(store.token_path("b")).unwrap(), b"{ not json");
}

#[test]
fn lock_is_exclusive_across_handles() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(StorePaths::under(dir.path()));
    let held = store.lock("c").unwrap();
    let path = store.paths().tokens_dir.join("c.lock");
    let other = std::fs::File::options().write(true).open(&path).unwrap();
    assert!(other.try_lock().is_err());
    drop(held);
    assert!(other.try_lock().is_ok());
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn chmod(p: &std::path::Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// A data_dir the user named is theirs: opening the store, saving and taking the watch lock
/// create private directories inside it and leave it as it was (a shared /tmp-like 1777 one
/// was once chmodded to 0700).
#[cfg(unix)]
#[test]
fn a_named_data_dir_is_not_chmodded() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let store = TokenStore::new(StorePaths::under(&shared));
    store.save("a", &set("at", Some("rt"))).unwrap();
    let lock = crate::store::watch_lock::acquire(&shared).unwrap();
    drop(lock);
    assert_eq!(mode(&shared), 0o1777);
    assert_eq!(mode(&store.paths().tokens_dir), 0o700);
}

/// A tokens directory that is a symlink is not followed: its target keeps its mode.
#[cfg(unix)]
#[test]
fn a_symlinked_tokens_dir_keeps_its_target_mode() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    chmod(&target, 0o755);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(&target, root.join("tokens")).unwrap();
    let store = TokenStore::new(StorePaths::under(&root));
    store.save("a", &set("at", Some("rt"))).unwrap();
    assert_eq!(mode(&target), 0o755);
    assert_eq!(mode(&target.join("a.json")), 0o600);
}

/// A token file found readable by others is made private when it is read.
#[cfg(unix)]
#[test]
fn a_token_file_found_0644_is_made_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::new(StorePaths::under(dir.path()));
    store.save("a", &set("at", Some("rt"))).unwrap();
    chmod(&store.token_path("a"), 0o644);
    assert_eq!(store.load("a").unwrap(), Some(set("at", Some("rt"))));
    assert_eq!(mode(&store.token_path("a")), 0o600);
}
