//! Git: whether the files a fix would write have uncommitted changes (the `cargo fix` safety net),
//! and the repository a migration reads its base from and writes its commits, branch and push to,
//! through the object database and refs only (never the working tree, the index or HEAD).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature, Status};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository; commit your work in git first, or pass --allow-dirty to fix anyway")]
    NotARepository(PathBuf),
    #[error("{0} is not inside a git repository; a migration reads a commit and writes a branch (`git init` and commit first)")]
    NoRepository(PathBuf),
    #[error("`{0}` does not name a commit here (`git rev-parse {0}` must succeed)")]
    UnknownRevision(String),
    #[error("no author for the commits: set git's user.name and user.email, or pass --author \"Name <email>\"")]
    NoAuthor,
    #[error("--author must look like \"Name <email>\", not `{0}`")]
    BadAuthor(String),
    #[error("branch `{branch}` moved while strata was writing it (it is at {found}); nothing was changed, run again")]
    BranchMoved { branch: String, found: String },
    #[error("no remote named `{0}` (`git remote -v` lists them)")]
    NoRemote(String),
    #[error(
        "the remote branch {remote}/{branch} is at {found}, not at {expected}: someone else moved it, and it was not overwritten; \
         `git fetch {remote}` and look at it, then run again (or pass --force to overwrite it)"
    )]
    LeaseBroken { remote: String, branch: String, expected: String, found: String },
    #[error("{remote} refused the push of {branch}: {message}")]
    PushRejected { remote: String, branch: String, message: String },
    /// Not a `#[source]`: the message already says it, and a chain would print it twice.
    #[error("git: {0}")]
    Git(git2::Error),
}

impl From<git2::Error> for GitError {
    fn from(error: git2::Error) -> Self {
        GitError::Git(error)
    }
}

/// Whose commits a migration writes ("Name <email>"), or from git's configuration.
pub fn signature(repo: &Repo, author: Option<&str>) -> Result<Signature<'static>, GitError> {
    match author {
        Some(text) => {
            let (name, email) = text
                .trim()
                .strip_suffix('>')
                .and_then(|t| t.rsplit_once('<'))
                .map(|(name, email)| (name.trim(), email.trim()))
                .filter(|(name, email)| !name.is_empty() && email.contains('@'))
                .ok_or_else(|| GitError::BadAuthor(text.to_string()))?;
            Ok(Signature::now(name, email)?)
        }
        None => repo.inner.signature().map(|s| s.to_owned()).map_err(|_| GitError::NoAuthor),
    }
}

/// What a migration asks of a file in a commit: write this text, or delete it.
pub type Changes = BTreeMap<String, Option<String>>;

/// A repository a migration works in.
pub struct Repo {
    inner: Repository,
}

impl Repo {
    /// The repository that contains `start`.
    pub fn discover(start: &Path) -> Result<Self, GitError> {
        let inner = Repository::discover(start).map_err(|_| GitError::NoRepository(start.to_path_buf()))?;
        Ok(Repo { inner })
    }

    /// Clones `url` into `into` (credentials as for a push).
    pub fn clone(url: &str, into: &Path) -> Result<Self, GitError> {
        let config = git2::Config::open_default()?;
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(callbacks(&config));
        let inner = git2::build::RepoBuilder::new().fetch_options(fetch).clone(url, into)?;
        Ok(Repo { inner })
    }

    /// The working tree's top directory (`None` for a bare repository).
    pub fn workdir(&self) -> Option<PathBuf> {
        let dir = self.inner.workdir()?;
        Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
    }

    /// The commit `rev` names (a branch, a tag, `HEAD~2`, an id).
    pub fn commit_id(&self, rev: &str) -> Result<Oid, GitError> {
        let object = self.inner.revparse_single(rev).map_err(|_| GitError::UnknownRevision(rev.to_string()))?;
        Ok(object.peel_to_commit().map_err(|_| GitError::UnknownRevision(rev.to_string()))?.id())
    }

    /// Writes the files of `commit`'s tree under `dir`, as a checkout would (executable bits and
    /// symbolic links kept; submodules are left out: strata does not fix another repository).
    pub fn export(&self, commit: Oid, dir: &Path) -> Result<(), GitError> {
        let tree = self.inner.find_commit(commit)?.tree()?;
        let mut failed: Option<GitError> = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            let Some(name) = entry.name() else { return git2::TreeWalkResult::Skip };
            let path = dir.join(parent).join(name);
            let result = match entry.kind() {
                Some(git2::ObjectType::Tree) => std::fs::create_dir_all(&path).map_err(GitError::from),
                Some(git2::ObjectType::Blob) => self.write_blob(entry.id(), entry.filemode(), &path),
                _ => Ok(()),
            };
            match result {
                Ok(()) => git2::TreeWalkResult::Ok,
                Err(error) => {
                    failed = Some(error);
                    git2::TreeWalkResult::Abort
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    fn write_blob(&self, id: Oid, mode: i32, path: &Path) -> Result<(), GitError> {
        let blob = self.inner.find_blob(id)?;
        if mode == i32::from(git2::FileMode::Link) {
            let target = String::from_utf8_lossy(blob.content()).to_string();
            return Ok(std::os::unix::fs::symlink(target, path)?);
        }
        std::fs::write(path, blob.content())?;
        if mode == i32::from(git2::FileMode::BlobExecutable) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }

    /// A new commit on `parent` with `changes` (paths relative to the repository's top); a changed
    /// file keeps its mode. Only objects are written: no ref moves.
    pub fn commit(&self, parent: Oid, changes: &Changes, message: &str, who: &Signature) -> Result<Oid, GitError> {
        let parent = self.inner.find_commit(parent)?;
        let tree = parent.tree()?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, text) in changes {
            match text {
                Some(text) => {
                    let blob = self.inner.blob(text.as_bytes())?;
                    let mode = tree.get_path(Path::new(path)).map_or(git2::FileMode::Blob, |entry| {
                        if entry.filemode() == i32::from(git2::FileMode::BlobExecutable) {
                            git2::FileMode::BlobExecutable
                        } else {
                            git2::FileMode::Blob
                        }
                    });
                    update.upsert(path, blob, mode);
                }
                None => {
                    update.remove(path);
                }
            }
        }
        let new_tree = self.inner.find_tree(update.create_updated(&self.inner, &tree)?)?;
        Ok(self.inner.commit(None, who, who, message, &new_tree, &[&parent])?)
    }

    /// The commit a local branch points at, if the branch exists.
    pub fn branch(&self, name: &str) -> Option<Oid> {
        self.inner.find_reference(&format!("refs/heads/{name}")).ok()?.target()
    }

    /// The URL `remote` fetches from.
    pub fn remote_url(&self, remote: &str) -> Result<String, GitError> {
        let handle = self.inner.find_remote(remote).map_err(|_| GitError::NoRemote(remote.to_string()))?;
        Ok(handle.url().unwrap_or_default().to_string())
    }

    /// The branch `rev` names, as the remote knows it: a local branch (`HEAD` when it is on one),
    /// or `remote`'s remote-tracking branch (`origin/main` is `main`); `None` for anything else.
    pub fn branch_named(&self, rev: &str, remote: &str) -> Option<String> {
        if rev == "HEAD" {
            let head = self.inner.head().ok()?;
            return head.is_branch().then(|| head.shorthand().map(String::from)).flatten();
        }
        if self.branch(rev).is_some() {
            return Some(rev.to_string());
        }
        let name = rev.strip_prefix(&format!("{remote}/"))?;
        self.remote_branch(remote, name).map(|_| name.to_string())
    }

    /// Where `remote`'s branch `name` was when it was last fetched (its remote-tracking branch).
    pub fn remote_branch(&self, remote: &str, name: &str) -> Option<Oid> {
        self.inner.find_reference(&format!("refs/remotes/{remote}/{name}")).ok()?.target()
    }

    /// Points branch `name` at `target`, only if it still points at `previous` (`None`: it must not
    /// exist), so that a branch moved meanwhile is never overwritten.
    pub fn set_branch(&self, name: &str, target: Oid, previous: Option<Oid>, log: &str) -> Result<(), GitError> {
        let refname = format!("refs/heads/{name}");
        let result = match previous {
            Some(previous) => self.inner.reference_matching(&refname, target, true, previous, log).map(|_| ()),
            None => self.inner.reference(&refname, target, false, log).map(|_| ()),
        };
        result.map_err(|_| GitError::BranchMoved {
            branch: name.to_string(),
            found: self.branch(name).map_or_else(|| "nowhere".to_string(), |o| o.to_string()),
        })
    }

    /// The messages of the commits on `head` that are not on `base`, newest first.
    pub fn messages_between(&self, base: Oid, head: Oid) -> Result<Vec<(Oid, String)>, GitError> {
        let mut walk = self.inner.revwalk()?;
        walk.push(head)?;
        walk.hide(base)?;
        walk.map(|id| {
            let id = id?;
            let commit = self.inner.find_commit(id)?;
            Ok((id, commit.message().unwrap_or_default().to_string()))
        })
        .collect()
    }

    /// Whether two commits have the same tree.
    pub fn same_tree(&self, a: Oid, b: Oid) -> Result<bool, GitError> {
        Ok(self.inner.find_commit(a)?.tree_id() == self.inner.find_commit(b)?.tree_id())
    }

    /// The files that differ between two commits: path, `A`dded, `D`eleted or `M`odified, and
    /// lines added and removed.
    pub fn diff_stat(&self, from: Oid, to: Oid) -> Result<Vec<(String, char, usize, usize)>, GitError> {
        let old = self.inner.find_commit(from)?.tree()?;
        let new = self.inner.find_commit(to)?.tree()?;
        let diff = self.inner.diff_tree_to_tree(Some(&old), Some(&new), None)?;
        let mut out = Vec::new();
        for (i, delta) in diff.deltas().enumerate() {
            let status = match delta.status() {
                git2::Delta::Added => 'A',
                git2::Delta::Deleted => 'D',
                _ => 'M',
            };
            let path = delta.new_file().path().or(delta.old_file().path()).map(|p| p.display().to_string());
            let (_, added, removed) = match git2::Patch::from_diff(&diff, i)? {
                Some(patch) => patch.line_stats()?,
                None => (0, 0, 0),
            };
            out.push((path.unwrap_or_default(), status, added, removed));
        }
        Ok(out)
    }

    /// A commit's message.
    pub fn message(&self, commit: Oid) -> Result<String, GitError> {
        Ok(self.inner.find_commit(commit)?.message().unwrap_or_default().to_string())
    }

    /// Pushes branch `name` to `remote` with a lease: the remote branch must be where this
    /// repository last saw it (its remote-tracking branch, or absent when there is none), as
    /// `git push --force-with-lease` does, so that what someone else pushed is never overwritten.
    /// `force` drops the lease. The remote-tracking branch is updated after the push.
    pub fn push(&self, remote: &str, name: &str, force: bool) -> Result<Pushed, GitError> {
        let mut handle = self.inner.find_remote(remote).map_err(|_| GitError::NoRemote(remote.to_string()))?;
        let target = self.branch(name).ok_or_else(|| GitError::UnknownRevision(name.to_string()))?;
        let tracking = format!("refs/remotes/{remote}/{name}");
        let expected = self.inner.find_reference(&tracking).ok().and_then(|r| r.target());
        let refname = format!("refs/heads/{name}");
        let config = self.inner.config()?;
        {
            let connection = handle.connect_auth(git2::Direction::Push, Some(callbacks(&config)), None)?;
            let found = connection.list()?.iter().find(|head| head.name() == refname).map(|head| head.oid());
            if found == Some(target) {
                self.inner.reference(&tracking, target, true, "strata: push (already there)")?;
                return Ok(Pushed::Already(target));
            }
            if !force && found.is_some() && found != expected {
                let show =
                    |o: Option<Oid>| o.map_or_else(|| "nowhere (never fetched here)".to_string(), |o| o.to_string());
                return Err(GitError::LeaseBroken {
                    remote: remote.to_string(),
                    branch: name.to_string(),
                    expected: show(expected),
                    found: show(found),
                });
            }
        }
        let rejected: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
        let mut cbs = callbacks(&config);
        cbs.push_update_reference(|_, status| {
            if let Some(message) = status {
                *rejected.borrow_mut() = Some(message.to_string());
            }
            Ok(())
        });
        let mut options = git2::PushOptions::new();
        options.remote_callbacks(cbs);
        let pushed = handle.push(&[format!("+{refname}:{refname}")], Some(&mut options));
        drop(options);
        pushed.map_err(|e| GitError::PushRejected {
            remote: remote.to_string(),
            branch: name.to_string(),
            message: e.message().to_string(),
        })?;
        if let Some(message) = rejected.into_inner() {
            return Err(GitError::PushRejected { remote: remote.to_string(), branch: name.to_string(), message });
        }
        self.inner.reference(&tracking, target, true, "strata: push")?;
        Ok(Pushed::Moved(target))
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The remote branch was already there.
    Already(Oid),
    /// The remote branch now points here.
    Moved(Oid),
}

/// Credentials for a remote, tried in the order a user expects: a token in `STRATA_GIT_TOKEN`
/// (for bots), the SSH agent, then git's credential helper.
fn callbacks(config: &git2::Config) -> git2::RemoteCallbacks<'_> {
    let mut callbacks = git2::RemoteCallbacks::new();
    let mut tried = 0;
    callbacks.credentials(move |url, username, allowed| {
        tried += 1;
        // libgit2 asks again after a refusal; give up instead of looping.
        if tried > 3 {
            return Err(git2::Error::from_str(
                "the remote refused the credentials (token, SSH agent and credential helper)",
            ));
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            if let Ok(token) = std::env::var("STRATA_GIT_TOKEN") {
                return git2::Cred::userpass_plaintext("x-access-token", &token);
            }
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        git2::Cred::credential_helper(config, url, username)
    });
    callbacks
}

impl From<std::io::Error> for GitError {
    fn from(error: std::io::Error) -> Self {
        GitError::Git(git2::Error::from_str(&error.to_string()))
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
