//! Secrets (access, refresh and ID tokens, device codes) as a type that cannot be printed by
//! accident: `Debug` and `Display` show `***`. Only `expose()` hands out the value.
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A preview that is safe to show: the first 4 characters and the length.
    pub fn masked(&self) -> String {
        let head: String = self.0.chars().take(4).collect();
        format!("{head}…({} chars)", self.0.chars().count())
    }
}

/// Keep this process's memory, where tokens live, out of core dumps (and out of reach of
/// `ptrace` by other processes of the user): a SIGQUIT to a connwatch holding tokens once
/// left a 14 MB core with both tokens in it. Called first thing in `main`, for every
/// command (even `decode` holds a pasted token); one system call.
pub fn forbid_core_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dumpable flag; the
    // unused arguments are zero as the man page asks.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_printed() {
        let s = Secret::new("eyJhbGciOi.secret.value");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.masked(), "eyJh…(23 chars)");
    }
}
