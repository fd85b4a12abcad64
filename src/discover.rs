//! Discovery: the gitignore-aware, parallel walk that lists a project's Python files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DiscoverError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{path} is outside the project root {root}; run strata from inside the project or pass --config")]
    OutsideRoot { path: PathBuf, root: PathBuf },
}

/// A Python file to look at: its absolute path and its path relative to the project root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub rel_path: String,
    pub abs_path: PathBuf,
}

/// Lists the `*.py` files under `paths` (default: the root), honouring .gitignore, sorted by path.
pub fn python_files(root: &Path, paths: &[PathBuf]) -> Result<Vec<Candidate>, DiscoverError> {
    walk(root, paths).map(|found| found.files)
}

/// What a walk found: the Python files, and the entries it could not read (a directory without
/// permission, say), each with the error.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Candidate>,
    pub unreadable: Vec<(String, String)>,
}

/// [`python_files`], keeping what could not be read.
pub fn walk(root: &Path, paths: &[PathBuf]) -> Result<Walk, DiscoverError> {
    let root = std::fs::canonicalize(root).map_err(|_| DiscoverError::Missing(root.to_path_buf()))?;
    let starts: Vec<PathBuf> = if paths.is_empty() {
        vec![root.clone()]
    } else {
        paths
            .iter()
            .map(|p| {
                let abs = std::fs::canonicalize(p).map_err(|_| DiscoverError::Missing(p.clone()))?;
                if abs.starts_with(&root) {
                    Ok(abs)
                } else {
                    Err(DiscoverError::OutsideRoot { path: p.clone(), root: root.clone() })
                }
            })
            .collect::<Result<_, _>>()?
    };
    let Some((first, rest)) = starts.split_first() else {
        return Ok(Walk::default());
    };
    let mut builder = WalkBuilder::new(first);
    for start in rest {
        builder.add(start);
    }
    // .gitignore applies even outside a git checkout (a copied tree should scan the same).
    builder.require_git(false).hidden(true);
    let found = Mutex::new(Vec::new());
    let unreadable = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        Box::new(|entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    if let Ok(mut list) = unreadable.lock() {
                        list.push(walk_error(&root, &err));
                    }
                    return WalkState::Continue;
                }
            };
            let path = entry.path();
            let is_file = entry.file_type().is_some_and(|t| t.is_file());
            if is_file && path.extension().is_some_and(|e| e == "py") {
                if let Ok(rel) = path.strip_prefix(&root) {
                    let rel_path =
                        rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                    if let Ok(mut list) = found.lock() {
                        list.push(Candidate { rel_path, abs_path: path.to_path_buf() });
                    }
                }
            }
            WalkState::Continue
        })
    });
    let mut files = found.into_inner().unwrap_or_default();
    files.sort();
    files.dedup();
    let mut unreadable = unreadable.into_inner().unwrap_or_default();
    unreadable.sort();
    Ok(Walk { files, unreadable })
}

/// The root-relative path (when the error names one) and the reason of a walk error.
fn walk_error(root: &Path, err: &ignore::Error) -> (String, String) {
    let mut err = err;
    let mut path = None;
    loop {
        match err {
            ignore::Error::WithPath { path: p, err: inner } => {
                path = Some(p.strip_prefix(root).unwrap_or(p).display().to_string());
                err = inner;
            }
            ignore::Error::WithDepth { err: inner, .. } | ignore::Error::WithLineNumber { err: inner, .. } => {
                err = inner
            }
            other => return (path.unwrap_or_else(|| ".".into()), format!("cannot read: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_gitignore_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pkg/gen")).unwrap();
        std::fs::write(root.join(".gitignore"), "gen/\n").unwrap();
        for f in ["pkg/b.py", "pkg/a.py", "pkg/gen/x.py", "pkg/notes.txt"] {
            std::fs::write(root.join(f), "x = 1\n").unwrap();
        }
        let files: Vec<String> = python_files(root, &[]).unwrap().into_iter().map(|c| c.rel_path).collect();
        assert_eq!(files, vec!["pkg/a.py", "pkg/b.py"]);
    }

    #[test]
    fn paths_outside_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let err = python_files(dir.path(), &[other.path().to_path_buf()]).unwrap_err();
        assert!(matches!(err, DiscoverError::OutsideRoot { .. }));
    }
}
