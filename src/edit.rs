//! Edits: byte-range edits, multi-file change sets with an applicability, conflict checks, applying
//! them in one pass, and atomic multi-file writes.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::recipe::Applicability;

/// Replaces `range` of a file by `content`; an insertion has an empty range, a deletion empty content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub range: Range<usize>,
    pub content: String,
    /// An insertion whose order against another change set's commuting insertion at the same
    /// point does not matter (a registration line, a function appended to a module, a branch or
    /// a method added to a class), so both change sets can apply in one pass.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub commutes: bool,
}

impl Edit {
    pub fn replace(range: Range<usize>, content: impl Into<String>) -> Self {
        Edit { range, content: content.into(), commutes: false }
    }

    pub fn insert(at: usize, content: impl Into<String>) -> Self {
        Edit { range: at..at, content: content.into(), commutes: false }
    }

    pub fn delete(range: Range<usize>) -> Self {
        Edit { range, content: String::new(), commutes: false }
    }

    /// The edit, marked as commuting with other commuting insertions at its point.
    pub fn commuting(mut self) -> Self {
        self.commutes = true;
        self
    }

    /// Whether the edits touch the same bytes: overlapping ranges, or an insertion strictly inside
    /// a replaced range (two insertions at one point do not overlap).
    pub fn overlaps(&self, other: &Edit) -> bool {
        let (a, b) = (&self.range, &other.range);
        match (a.is_empty(), b.is_empty()) {
            (true, true) => false,
            (true, false) => a.start > b.start && a.start < b.end,
            (false, true) => b.start > a.start && b.start < a.end,
            (false, false) => a.start < b.end && b.start < a.end,
        }
    }

    /// Two edits conflict when their ranges overlap, or both insert at the same point (order unknown).
    pub fn conflicts_with(&self, other: &Edit) -> bool {
        let (a, b) = (&self.range, &other.range);
        if a.is_empty() || b.is_empty() {
            return a.start == b.start
                || (a.start > b.start && a.start < b.end)
                || (b.start > a.start && b.start < a.end);
        }
        a.start < b.end && b.start < a.end
    }
}

/// The edits of one change set in one file; `create` marks a file that must not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdits {
    pub path: String,
    pub create: bool,
    pub edits: Vec<Edit>,
}

impl FileEdits {
    pub fn edit(path: impl Into<String>, edits: Vec<Edit>) -> Self {
        FileEdits { path: path.into(), create: false, edits }
    }

    pub fn create(path: impl Into<String>, content: String) -> Self {
        FileEdits { path: path.into(), create: true, edits: vec![Edit::insert(0, content)] }
    }

    /// The edits turning `old` into `new`, one per changed run of lines: two change sets that rewrite
    /// different endpoints of one module then touch different ranges and apply in the same pass (an
    /// import line both add is the same edit, made once).
    pub fn between(path: &str, old: &str, new: &str) -> FileEdits {
        let starts = |text: &str| -> Vec<usize> {
            let mut starts = vec![0];
            starts.extend(text.match_indices('\n').map(|(i, _)| i + 1).filter(|&i| i < text.len()));
            starts.push(text.len());
            starts
        };
        let (old_lines, new_lines) = (starts(old), starts(new));
        let diff = similar::TextDiff::configure().algorithm(similar::Algorithm::Myers).diff_lines(old, new);
        let mut edits: Vec<Edit> = Vec::new();
        // A run of changed lines: old lines `from..to` become new lines `new_from..new_to`.
        let mut run: Option<(usize, usize, usize, usize)> = None;
        let mut flush = |run: &mut Option<(usize, usize, usize, usize)>| {
            if let Some((from, to, new_from, new_to)) = run.take() {
                edits.push(Edit::replace(old_lines[from]..old_lines[to], &new[new_lines[new_from]..new_lines[new_to]]));
            }
        };
        for op in diff.ops() {
            let (old_range, new_range) = (op.old_range(), op.new_range());
            if op.tag() == similar::DiffTag::Equal {
                flush(&mut run);
                continue;
            }
            run = Some(match run {
                Some((from, _, new_from, _)) => (from, old_range.end, new_from, new_range.end),
                None => (old_range.start, old_range.end, new_range.start, new_range.end),
            });
        }
        flush(&mut run);
        FileEdits::edit(path, edits)
    }

    /// Marks every edit as commuting (see [`Edit::commutes`]).
    pub fn commuting(mut self) -> Self {
        self.edits = self.edits.into_iter().map(Edit::commuting).collect();
        self
    }

    pub(crate) fn conflicts_with(&self, other: &FileEdits) -> bool {
        if self.path != other.path {
            return false;
        }
        if self.create || other.create {
            return true;
        }
        // The same edit wanted by both is made once (`fix` combines them), so it is no conflict.
        self.edits.iter().any(|a| {
            other
                .edits
                .iter()
                .any(|b| a != b && if a.commutes && b.commutes { a.overlaps(b) } else { a.conflicts_with(b) })
        })
    }
}

/// One logical fix, possibly across several files, applied whole or not at all.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeSet {
    pub rule: String,
    pub applicability: Applicability,
    pub description: String,
    /// Where the violation is (`path:line:col`), for summaries.
    pub location: String,
    /// The file the violation is in (the path part of `location`).
    #[serde(skip)]
    pub source: String,
    /// Why a manual change set cannot be applied automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub files: Vec<FileEdits>,
    /// What someone must do after the fix (e.g. the caller that now owns a transaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
    /// Other violations (rule, location) this change set fixes too: several matches in one
    /// endpoint plan the same edits, and are fixed together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_fixes: Vec<(String, String)>,
    /// A follow-on of other change sets (what they left unused together), fixing no violation itself.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub follow_on: bool,
    /// Its transform tidies the source file after itself (see `TransformOutput::tidies_source`).
    #[serde(skip)]
    pub tidies_source: bool,
}

impl ChangeSet {
    pub fn manual(rule: &str, source: &str, location: String, description: String, reason: String) -> Self {
        ChangeSet {
            rule: rule.to_string(),
            applicability: Applicability::Manual,
            description,
            location,
            source: source.to_string(),
            reason: Some(reason),
            files: Vec::new(),
            follow_ups: Vec::new(),
            also_fixes: Vec::new(),
            follow_on: false,
            tidies_source: false,
        }
    }

    /// The number of violations the change set fixes.
    pub fn fixes(&self) -> usize {
        if self.follow_on {
            0
        } else {
            1 + self.also_fixes.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|f| f.edits.is_empty())
    }

    /// Whether any edit of `self` conflicts with any edit of `other` (a created file conflicts with any edit of it).
    pub fn conflicts_with(&self, other: &ChangeSet) -> bool {
        self.files.iter().any(|mine| other.files.iter().any(|theirs| mine.conflicts_with(theirs)))
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error("edits overlap at bytes {0:?} and {1:?}")]
    Overlap(Range<usize>, Range<usize>),
    #[error("edit range {0:?} is outside the file ({1} bytes) or splits a character")]
    OutOfBounds(Range<usize>, usize),
}

/// Applies non-conflicting edits to `text` in one pass; every byte outside the edits is kept.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, ApplyError> {
    // Stable: insertions at one point keep the order of `edits` (one change set's own order is known;
    // across change sets `conflicts_with` keeps such insertions apart).
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    for pair in sorted.windows(2) {
        let both_insert_here = pair[0].range.is_empty() && pair[0].range.start == pair[1].range.start;
        if pair[0].range.end > pair[1].range.start && !both_insert_here {
            return Err(ApplyError::Overlap(pair[0].range.clone(), pair[1].range.clone()));
        }
        if pair[1].range.is_empty()
            && pair[0].range.start < pair[1].range.start
            && pair[1].range.start < pair[0].range.end
        {
            return Err(ApplyError::Overlap(pair[0].range.clone(), pair[1].range.clone()));
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for edit in sorted {
        let r = &edit.range;
        if r.end > text.len() || r.start > r.end || !text.is_char_boundary(r.start) || !text.is_char_boundary(r.end) {
            return Err(ApplyError::OutOfBounds(r.clone(), text.len()));
        }
        out.push_str(&text[cursor..r.start]);
        out.push_str(&edit.content);
        cursor = r.end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

/// Keeps the change sets that conflict with none kept before them (in order); the rest wait for the
/// next pass. A change set with exactly the edits of a kept one is merged into it.
pub fn select_non_conflicting(change_sets: Vec<ChangeSet>) -> (Vec<ChangeSet>, Vec<ChangeSet>) {
    let mut kept: Vec<ChangeSet> = Vec::new();
    let mut deferred = Vec::new();
    for cs in change_sets {
        if let Some(same) = kept.iter_mut().find(|k| k.files == cs.files) {
            same.also_fixes.push((cs.rule, cs.location));
        } else if kept.iter().any(|k| k.conflicts_with(&cs)) {
            deferred.push(cs);
        } else {
            kept.push(cs);
        }
    }
    (kept, deferred)
}

#[derive(Debug, Error)]
pub enum PathError {
    #[error("`{0}` is absolute; generated paths must be relative to the project root")]
    Absolute(String),
    #[error("`{0}` leaves the project root (`..`); refusing to write outside the repository")]
    Escapes(String),
    #[error(
        "`{path}` resolves through a symbolic link to {target}, outside the project root; refusing to write there"
    )]
    Symlink { path: String, target: PathBuf },
}

/// Resolves a project-relative path for writing, refusing absolute paths, `..` and symlinks leading out.
pub fn resolve_in_root(root: &Path, rel: &str) -> Result<PathBuf, PathError> {
    let path = Path::new(rel);
    if path.is_absolute() || rel.starts_with('/') || rel.starts_with('\\') {
        return Err(PathError::Absolute(rel.to_string()));
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(PathError::Escapes(rel.to_string()));
    }
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let full = root.join(path);
    // The deepest existing ancestor decides where a write really lands.
    let existing = full.ancestors().find(|a| a.exists()).unwrap_or(&root);
    let real = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    if !real.starts_with(&root) {
        return Err(PathError::Symlink { path: rel.to_string(), target: real });
    }
    Ok(full)
}

#[derive(Debug, Error)]
pub enum WriteError {
    #[error("cannot write {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// Writes every file or none: all contents go to temporary files beside their targets first
/// (keeping permissions); only when all of them exist are they renamed into place.
pub fn write_atomically(files: &BTreeMap<PathBuf, String>) -> Result<(), WriteError> {
    let mut staged = Vec::new();
    for (path, content) in files {
        match stage(path, content) {
            Ok(temp) => staged.push((temp, path)),
            // Dropping the staged temp files deletes them: nothing was written.
            Err(error) => return Err(WriteError::Io { path: path.clone(), error }),
        }
    }
    for (temp, path) in staged {
        temp.persist(path).map_err(|e| WriteError::Io { path: path.clone(), error: e.error })?;
    }
    Ok(())
}

fn stage(path: &Path, content: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(".strata-").suffix(".tmp").tempfile_in(dir)?;
    temp.write_all(content.as_bytes())?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), meta.permissions())?;
    }
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_edits_in_one_pass() {
        let text = "abcdef";
        let edits = [Edit::replace(1..2, "X"), Edit::insert(4, "-"), Edit::delete(5..6)];
        assert_eq!(apply(text, &edits).unwrap(), "aXcd-e");
    }

    #[test]
    fn overlapping_and_same_point_insertions_conflict() {
        assert!(Edit::replace(1..3, "").conflicts_with(&Edit::replace(2..4, "")));
        assert!(!Edit::replace(1..3, "").conflicts_with(&Edit::replace(3..4, "")));
        assert!(Edit::insert(2, "a").conflicts_with(&Edit::insert(2, "b")));
        assert!(Edit::insert(2, "a").conflicts_with(&Edit::replace(1..3, "")));
        assert!(!Edit::insert(3, "a").conflicts_with(&Edit::replace(1..3, "")));
        assert!(apply("abc", &[Edit::replace(0..2, "x"), Edit::replace(1..3, "y")]).is_err());
        assert!(apply("abc", &[Edit::replace(0..2, "x"), Edit::insert(1, "y")]).is_err());
        // Within one change set, insertions at one point apply in the given order.
        assert_eq!(apply("ab", &[Edit::insert(1, "x"), Edit::insert(1, "y")]).unwrap(), "axyb");
    }

    #[test]
    fn commuting_insertions_at_one_point_commute_other_edits_do_not() {
        let a = FileEdits::edit("w.py", vec![Edit::insert(10, "a\n")]);
        let b = FileEdits::edit("w.py", vec![Edit::insert(10, "b\n")]);
        assert!(a.conflicts_with(&b), "plain insertions at one point have no known order");
        assert!(!a.clone().commuting().conflicts_with(&b.clone().commuting()));
        assert!(a.conflicts_with(&b.clone().commuting()), "both must commute");
        let replace = FileEdits::edit("w.py", vec![Edit::replace(5..15, "x")]).commuting();
        assert!(a.clone().commuting().conflicts_with(&replace), "an insertion inside a replaced range still conflicts");
        let created = FileEdits::create("w.py", String::new());
        assert!(b.commuting().conflicts_with(&created));
        assert!(!a.conflicts_with(&a.clone()), "the same edit wanted twice is made once");
    }

    #[test]
    fn edits_between_two_texts_rebuild_the_new_one_hunk_by_hunk() {
        let old = "import a\r\nimport b\r\n\ndef f():\r\n    return 1\r\n\ndef g():\r\n    return 2";
        let new = "import a\r\n\ndef f():\r\n    return 10\r\n\ndef g():\r\n    return 2\r\n\ndef h():\r\n    pass";
        let fe = FileEdits::between("m.py", old, new);
        assert_eq!(fe.edits.len(), 3, "{:?}", fe.edits);
        assert_eq!(apply(old, &fe.edits).unwrap(), new);
        assert!(FileEdits::between("m.py", old, old).edits.is_empty());
        assert_eq!(apply("", &FileEdits::between("m.py", "", "x\n").edits).unwrap(), "x\n");
    }

    #[test]
    fn paths_outside_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(resolve_in_root(dir.path(), "../x.py"), Err(PathError::Escapes(_))));
        assert!(matches!(resolve_in_root(dir.path(), "/etc/x.py"), Err(PathError::Absolute(_))));
        assert!(matches!(resolve_in_root(dir.path(), "a/../../x.py"), Err(PathError::Escapes(_))));
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert!(matches!(resolve_in_root(dir.path(), "link/x.py"), Err(PathError::Symlink { .. })));
        assert!(resolve_in_root(dir.path(), "a/b/x.py").is_ok());
    }

    #[test]
    fn atomic_write_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.py");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).unwrap();
        write_atomically(&BTreeMap::from([(path.clone(), "new".to_string())])).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o750);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
