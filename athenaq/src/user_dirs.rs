//! athenaq's folders in the user's home, by the XDG base directory convention.
//!
//! The base (`$XDG_CACHE_HOME`, `~/.cache`, ...) is the user's: it may be anything, a link to
//! another disk included, and is made with its parents when missing. The folders athenaq makes
//! under it are its own and are never links: athenaq never writes through a link planted there
//! (`~/.cache/athenaq -> /etc`, which made it write `/etc/metadata/...`), as `pull` never writes
//! through a link in the folder it pulls into.

use std::path::{Path, PathBuf};

/// A folder of athenaq's own: `base` joined with each of `own`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnDir {
    pub base: PathBuf,
    pub own: Vec<PathBuf>,
}

/// Why an own folder cannot be used: it names the path and the real cause.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("{} is a symbolic link: athenaq never reads or writes its own files through a link; remove the link", .0.display())]
    Link(PathBuf),
    #[error("{} is a file where a folder belongs", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot create the folder {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot read {}: {source}", path.display())]
    Inspect { path: PathBuf, source: std::io::Error },
}

impl OwnDir {
    /// A folder whose last component only is athenaq's (`ATHENAQ_CACHE_DIR`).
    pub fn given(dir: &Path) -> Self {
        match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) => Self { base: parent.to_owned(), own: vec![PathBuf::from(name)] },
            _ => Self { base: dir.to_owned(), own: Vec::new() },
        }
    }

    pub fn join(mut self, name: &str) -> Self {
        self.own.push(PathBuf::from(name));
        self
    }

    pub fn path(&self) -> PathBuf {
        self.own.iter().fold(self.base.clone(), |path, part| path.join(part))
    }

    /// The folder when every own part of it that exists is a real folder; a part not there yet
    /// is fine (it is made on the first write).
    pub fn check(&self) -> Result<PathBuf, DirError> {
        self.walk(false).map(|()| self.path())
    }

    /// Makes the folder: the base with its parents, then each own part, one by one, refusing a
    /// link among them. An error names the folder that could not be made and why (a read-only
    /// home says so, not "No such file or directory").
    pub fn create(&self) -> Result<PathBuf, DirError> {
        std::fs::create_dir_all(&self.base).map_err(|source| DirError::Create { path: self.base.clone(), source })?;
        self.walk(true).map(|()| self.path())
    }

    /// Each own part in turn: a link or a file refuses it; a part not there ends the walk, or,
    /// with `make`, is made (one made by another process at the same time is looked at again).
    fn walk(&self, make: bool) -> Result<(), DirError> {
        let mut at = self.base.clone();
        for part in &self.own {
            at.push(part);
            loop {
                match std::fs::symlink_metadata(&at) {
                    Ok(meta) if meta.file_type().is_symlink() => return Err(DirError::Link(at)),
                    Ok(meta) if meta.is_dir() => break,
                    Ok(_) => return Err(DirError::NotAFolder(at)),
                    Err(e) if !make && absent(&e) => return Ok(()),
                    Err(e) if make && e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&at) {
                        Ok(()) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        Err(source) => return Err(DirError::Create { path: at, source }),
                    },
                    Err(source) => return Err(DirError::Inspect { path: at, source }),
                }
            }
        }
        Ok(())
    }
}

/// A path that is not there, or has a file where a folder belongs on the way: nothing to read.
fn absent(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

/// `$<xdg_var>/athenaq`, else `~/<home_fallback>/athenaq` (`XDG_CACHE_HOME` and `.cache`,
/// `XDG_STATE_HOME` and `.local/state`); `None` when neither variable is set.
pub fn user_dir(xdg_var: &str, home_fallback: &str) -> Option<OwnDir> {
    let base = std::env::var_os(xdg_var)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(home_fallback)))?;
    Some(OwnDir { base, own: vec![PathBuf::from("athenaq")] })
}

/// Opens `path` for reading when it is a regular file and not a link, checked on the file
/// opened (its device and inode are the ones `path` named before it was opened), so a link
/// swapped in between is refused too. `Ok(None)`: there is no such file.
pub fn open_own_file(path: &Path) -> Result<Option<std::fs::File>, DirError> {
    use std::os::unix::fs::MetadataExt;
    let inspect = |source| DirError::Inspect { path: path.to_owned(), source };
    let before = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if absent(&e) => return Ok(None),
        Err(e) => return Err(inspect(e)),
    };
    if before.file_type().is_symlink() {
        return Err(DirError::Link(path.to_owned()));
    }
    let file = std::fs::File::open(path).map_err(inspect)?;
    let after = file.metadata().map_err(inspect)?;
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) || !after.is_file() {
        return Err(DirError::Link(path.to_owned()));
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_folders_are_made_one_by_one_and_a_link_among_them_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = OwnDir { base: home.path().join(".cache"), own: vec!["athenaq".into(), "metadata".into()] };
        assert_eq!(dir.check().unwrap(), home.path().join(".cache/athenaq/metadata"));
        assert_eq!(dir.create().unwrap(), home.path().join(".cache/athenaq/metadata"));
        assert!(dir.path().is_dir());

        let linked = tempfile::tempdir().unwrap();
        std::fs::create_dir(linked.path().join(".cache")).unwrap();
        std::os::unix::fs::symlink(outside.path(), linked.path().join(".cache/athenaq")).unwrap();
        let dir = OwnDir { base: linked.path().join(".cache"), own: vec!["athenaq".into(), "metadata".into()] };
        for err in [dir.check().unwrap_err(), dir.create().unwrap_err()] {
            assert!(matches!(&err, DirError::Link(p) if p.ends_with(".cache/athenaq")), "{err}");
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing made through the link");
    }

    #[test]
    fn a_linked_file_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.json");
        std::fs::write(&target, b"{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(open_own_file(&link), Err(DirError::Link(_))));
        assert!(open_own_file(&target).unwrap().is_some());
        assert!(open_own_file(&dir.path().join("none.json")).unwrap().is_none());
    }
}
