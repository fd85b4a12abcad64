//! Git: whether the files a fix would write have uncommitted changes (the `cargo fix` safety net).

use std::path::{Path, PathBuf};

use git2::{Repository, Status};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository; commit your work in git first, or pass --allow-dirty to fix anyway")]
    NotARepository(PathBuf),
    /// Not a `#[source]`: the message already says it, and a chain would print it twice.
    #[error("git: {0}")]
    Git(git2::Error),
}

impl From<git2::Error> for GitError {
    fn from(error: git2::Error) -> Self {
        GitError::Git(error)
    }
}

/// The working tree of the git repository that contains `start`, if any.
pub fn toplevel(start: &Path) -> Option<PathBuf> {
    let repo = Repository::discover(start).ok()?;
    let workdir = repo.workdir()?;
    Some(std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf()))
}

/// The files among `paths` (absolute) that differ from HEAD or are untracked; missing files are new, not dirty.
pub fn uncommitted(root: &Path, paths: &[PathBuf]) -> Result<Vec<String>, GitError> {
    let repo = Repository::discover(root).map_err(|_| GitError::NotARepository(root.to_path_buf()))?;
    let workdir = repo.workdir().ok_or_else(|| GitError::NotARepository(root.to_path_buf()))?;
    let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    let mut dirty = Vec::new();
    for path in paths {
        if !path.exists() {
            continue;
        }
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let Ok(rel) = abs.strip_prefix(&workdir) else { continue };
        let status = repo.status_file(rel)?;
        if status != Status::CURRENT && !status.contains(Status::IGNORED) {
            dirty.push(rel.display().to_string());
        }
    }
    Ok(dirty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_modified_and_untracked_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.py"), "a = 1\n").unwrap();
        std::fs::write(dir.path().join("b.py"), "b = 1\n").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.py")).unwrap();
        index.add_path(Path::new("b.py")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[]).unwrap();
        std::fs::write(dir.path().join("b.py"), "b = 2\n").unwrap();
        std::fs::write(dir.path().join("c.py"), "c = 1\n").unwrap();
        let paths: Vec<PathBuf> = ["a.py", "b.py", "c.py", "new.py"].iter().map(|p| dir.path().join(p)).collect();
        assert_eq!(uncommitted(dir.path(), &paths).unwrap(), vec!["b.py", "c.py"]);
    }

    #[test]
    fn outside_a_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(uncommitted(dir.path(), &[]), Err(GitError::NotARepository(_))));
    }
}
