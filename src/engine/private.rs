//! Files smtpscope writes are private: mode 0600 (folders 0700), created rather than opened
//! over whatever is there. Saved transcripts, the simulator's mailbox and CA file sit next to
//! secrets (user names, message contents, the demo's passwords), and a shared machine must not
//! be able to read them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Options that create a new file, failing if the name exists, readable by its owner only.
fn new_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Creates `path` (which must not exist) with mode 0600.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    new_file().open(path)
}

/// Writes `bytes` to `path` with mode 0600, replacing any file there: the bytes go to a new
/// private file beside it, which is then renamed over the target. A symlink planted at
/// `path` (say in /tmp) is replaced, never followed, and an older file's looser mode is not
/// inherited.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_beside(path)?;
    let written = (|| {
        let mut f = create_new(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    let result = written.and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn temp_beside(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let tag: u64 = rand::random();
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.{tag:016x}.tmp", std::process::id()));
    Ok(path.with_file_name(temp))
}

/// Creates a folder and its missing parents with mode 0700 (existing ones are left as they
/// are).
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_replaced_files_are_0600_and_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        create_new(&a).unwrap();
        assert_eq!(mode(&a), 0o600);
        assert!(create_new(&a).is_err(), "never opens an existing file");

        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("ca.pem");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        replace(&link, b"pem").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "pem");
        assert_eq!(mode(&link), 0o600);

        let old = dir.path().join("old.pem");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        replace(&old, b"y").unwrap();
        assert_eq!(mode(&old), 0o600);
        let sub = dir.path().join("x/y");
        create_dir_all(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            5,
            "no temp file left"
        );
    }
}
