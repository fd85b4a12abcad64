//! The evidence of a migration: what `strata report` renders (Markdown, JSON, HTML) and what
//! `migrate` puts in its last commit and its pull request.

use serde::Serialize;

/// Everything a reviewer needs to judge a migration, in the order the report shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// The commit the migration starts from.
    pub base: Revision,
    /// The migrated commit (the branch `migrate` wrote), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<Revision>,
    /// Per rule, violations before and after, in run order (rules with zero counts included).
    pub rules: Vec<RuleRow>,
    /// Files the migration changed, created or deleted, by path.
    pub files: Vec<FileTouched>,
    /// Applied change sets in the order they were applied.
    pub change_sets: Vec<ChangeSetEvidence>,
    /// Sites left for a person, with the reason each could not be fixed automatically.
    pub manual: Vec<ManualSite>,
    /// The exceptions in force after the migration, with who answers for them.
    pub exceptions: Vec<ExceptionRow>,
    /// Shell commands that reproduce the migration and its check.
    pub commands: Vec<String>,
    /// How the migration was verified (issue 14 fills this; `None`: not verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Revision {
    /// What the user named (`main`, `HEAD~2`, a branch).
    pub name: String,
    /// The full commit id.
    pub commit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    pub rule: String,
    pub before: usize,
    pub after: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Modified,
    Added,
    Deleted,
}

impl FileStatus {
    /// The name reports show, the same as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Modified => "modified",
            FileStatus::Added => "added",
            FileStatus::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileTouched {
    pub path: String,
    pub status: FileStatus,
    pub added_lines: usize,
    pub removed_lines: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeSetEvidence {
    /// 1-based, in application order; commit messages and verification refer to it.
    pub id: usize,
    pub rule: String,
    /// `safe` or `unsafe`.
    pub applicability: String,
    /// Where the violation was (`path:line:col`, in the base).
    pub location: String,
    pub description: String,
    /// Other violations (`rule path:line:col`) this change set fixed too.
    pub also_fixes: Vec<String>,
    /// What someone must do after it.
    pub follow_ups: Vec<String>,
    /// The unified diff of this change set alone (against the state it was applied to).
    pub diff: String,
    /// `verified`, `dropped: <test and output tail>` or `not verified` (issue 14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManualSite {
    pub rule: String,
    pub location: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExceptionRow {
    pub rule: String,
    pub path: String,
    pub owner: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `active`, `stale`, `expired`, `loose` or `unchecked`.
    pub state: String,
    pub matched: usize,
}
