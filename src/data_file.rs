//! keepalived's data files (the SIGUSR1 dumps `keepalived.data`, `keepalived_check.data`,
//! the SIGUSR2 `keepalived.stats`, the `-j` `keepalived.json`): where they go and how they are
//! written. Imports nothing of the crate, so the VRRP and checker sides both use it.

use std::path::{Path, PathBuf};

/// The directory keepalived 2.2.7 writes its data files in: `$TMPDIR`, else `/tmp`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// Writes the dump file `dir`/`name` (`keepalived.data`, `keepalived.stats`,
/// `keepalived.json`, `keepalived_check.data`) as keepalived 2.2.7 leaves them: mode 0600
/// (the JSON holds the VRRP passwords), owned by the daemon, and a symlink planted at that
/// name in a shared `$TMPDIR` replaced rather than followed.
///
/// The text goes to a fresh temporary file in `dir` created with
/// `O_CREAT|O_EXCL|O_NOFOLLOW` (so neither an existing file nor a symlink at that name is
/// opened), mode 0600 whatever the umask (fchmod), then renamed over `name`: a reader sees
/// the old dump or the new one, never a half-written file. Returns the final path. Errors:
/// creating, writing or renaming (the temporary file is removed on failure).
pub fn write(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let path = dir.join(name);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text)?;
        f.flush()?;
        drop(f);
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_files_are_private_and_replace_a_planted_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("keepalived.stats")).unwrap();
        let path = write(dir.path(), "keepalived.stats", b"stats\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(
            meta.file_type().is_file(),
            "the symlink is replaced by a file"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "stats\n");
        // Rewriting replaces the file whole; no temporary file is left behind.
        write(dir.path(), "keepalived.stats", b"again\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "again\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
