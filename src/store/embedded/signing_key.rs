//! The signing key of the embedded store: a PEM file in the data directory, readable by the
//! owner only. Written once: to a temporary file, synced, then hard-linked into place, which
//! fails when a key is there already, so the first key stored is the one kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::StoreError;

const FILE_NAME: &str = "sns-signing-key.pem";

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(format!("signing key: {e}"))
}

pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

pub(super) fn read(dir: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read_to_string(path(dir)) {
        Ok(pem) => Ok(Some(pem)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

pub(super) fn init(dir: &Path, pem: &str) -> Result<String, StoreError> {
    let tmp = dir.join(format!("{FILE_NAME}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(pem.as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path(dir)));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
            Ok(pem.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(dir)?.ok_or_else(|| StoreError::Io("signing key vanished".into()))
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_stored_is_kept_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()).expect("read"), None);
        assert_eq!(init(dir.path(), "first").expect("init"), "first");
        assert_eq!(init(dir.path(), "second").expect("init"), "first");
        assert_eq!(read(dir.path()).expect("read").as_deref(), Some("first"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary files stay behind");
    }
}
