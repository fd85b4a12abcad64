//! Migration: a fix run on a commit's tree (read from git, never from the working tree), replayed
//! change set by change set into commits for a branch, with the evidence a reviewer needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::{Oid, Signature};
use serde::Serialize;
use thiserror::Error;

use crate::diagnostics::{self, CheckReport};
use crate::discover::Candidate;
use crate::edit::ChangeSet;
use crate::engine::{EngineError, Project};
use crate::fix::{self, Decision, FixOptions, FixOutcome};
use crate::git::{Changes, GitError, Repo};
use crate::output::diff;
use crate::output::evidence::{
    ChangeSetEvidence, Evidence, ExceptionRow, FileStatus, FileTouched, ManualSite, Revision, RuleRow,
};
use crate::templates::TemplateError;

/// The trailer that marks a commit as strata's: `--update` refuses to drop commits without it.
pub const TRAILER: &str = "Strata-Base";

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("cannot write the base commit's files to a temporary directory: {0}")]
    Export(std::io::Error),
    /// A defect of strata, not of the input: replaying the run did not give its own result.
    #[error("internal error: replaying the fixes one change set at a time gave {0}; please report it")]
    Replay(String),
}

/// How the applied change sets are cut into commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CommitPer {
    /// One commit per run of change sets of one recipe (a recipe whose fixes interleave with
    /// another's, pass after pass, gets one commit per run).
    #[default]
    Recipe,
    ChangeSet,
    All,
}

/// A commit's tree written out for the engine to read (removed when dropped).
pub struct Checkout {
    dir: tempfile::TempDir,
    pub revision: Revision,
    pub commit: Oid,
}

impl Checkout {
    pub fn new(repo: &Repo, rev: &str) -> Result<Self, MigrateError> {
        let commit = repo.commit_id(rev)?;
        let dir = tempfile::Builder::new().prefix("strata-migrate-").tempdir().map_err(MigrateError::Export)?;
        repo.export(commit, dir.path())?;
        Ok(Checkout { dir, revision: Revision { name: rev.to_string(), commit: commit.to_string() }, commit })
    }

    /// A checkout of a commit known by id.
    pub fn at(repo: &Repo, commit: Oid) -> Result<Self, MigrateError> {
        Self::new(repo, &commit.to_string())
    }

    /// Where the commit's top directory is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What one commit of the migration holds.
#[derive(Debug, Clone)]
pub struct PlannedCommit {
    /// The rules of its change sets, in run order.
    pub rules: Vec<String>,
    /// Ids (1-based, as in the evidence) of its change sets.
    pub change_sets: Vec<usize>,
    /// Files as they are after it, by path from the repository's top.
    pub changes: Changes,
}

/// A migration computed on a base: the fix run, its commits and its evidence.
pub struct Plan {
    /// The fix run, its applied change sets in the order of the evidence (ids are 1-based).
    pub outcome: FixOutcome,
    pub commits: Vec<PlannedCommit>,
    pub evidence: Evidence,
    /// Violations left after the migration (exceptions applied).
    pub remaining: usize,
    /// Ids of the change sets left out of the commits (verification dropped them).
    pub dropped: BTreeSet<usize>,
    /// The project's text after the commits, by path from the project root.
    pub contents: fix::Contents,
    before: CheckReport,
    prefix: String,
    commit_per: CommitPer,
}

/// Runs every fix on the project (loaded from a [`Checkout`]) to a fixpoint and cuts the result
/// into commits. `prefix` is the project root's path from the repository's top (`""` or `dir/`).
pub fn plan(
    project: &Project,
    paths: &[PathBuf],
    base: &Revision,
    prefix: &str,
    options: FixOptions,
    commit_per: CommitPer,
) -> Result<Plan, MigrateError> {
    let mut outcome = fix::run(project, paths, options, &mut |_, _| Decision::Apply)?;
    let before = check(project, paths, &fix::Contents::new())?;
    order_by_rule(project, &mut outcome);
    let mut evidence = Evidence { base: base.clone(), ..Evidence::default() };
    let steps = fix::steps(&outcome, |_| true).map_err(|e| MigrateError::Replay(e.to_string()))?;
    // The replay must end where the run ended, or the commits would not be the fix.
    let replayed = contents_of(&steps);
    for (path, _, new) in outcome.changed_files() {
        if replayed.get(path).map(String::as_str) != Some(new) {
            return Err(MigrateError::Replay(format!("another text of {path}")));
        }
    }
    let show = |rel: &str| format!("{prefix}{rel}");
    evidence.change_sets = steps
        .iter()
        .map(|step| {
            let cs = step.change_set;
            let diff: String = step
                .files
                .iter()
                .map(|(path, (old, new))| diff::unified(&show(path), old.as_deref(), new, false))
                .collect();
            ChangeSetEvidence {
                id: step.index + 1,
                rule: cs.rule.clone(),
                applicability: cs.applicability.as_str().to_string(),
                location: show(&cs.location),
                description: cs.description.clone(),
                also_fixes: cs.also_fixes.iter().map(|(rule, at)| format!("{rule} {}", show(at))).collect(),
                follow_ups: cs.follow_ups.clone(),
                diff,
                verification: None,
            }
        })
        .collect();
    evidence.manual = manual_sites(&outcome, prefix);
    drop(steps);
    let mut plan = Plan {
        outcome,
        commits: Vec::new(),
        evidence,
        remaining: 0,
        dropped: BTreeSet::new(),
        contents: fix::Contents::new(),
        before,
        prefix: prefix.to_string(),
        commit_per,
    };
    plan.cut(project, paths)?;
    Ok(plan)
}

impl Plan {
    /// The plan with the change sets `ids` (and every change set that depends on one of them) left
    /// out of the commits; their evidence stays, for the report to say why.
    pub fn without(&mut self, project: &Project, paths: &[PathBuf], ids: &BTreeSet<usize>) -> Result<(), MigrateError> {
        let dependents = dependents(&self.outcome);
        for &id in ids {
            self.dropped.insert(id);
            self.dropped.extend(dependents[id - 1].iter().map(|i| i + 1));
        }
        self.cut(project, paths)
    }

    /// The change sets that depend on change set `id` (1-based ids, `id` excluded).
    pub fn dependents_of(&self, id: usize) -> BTreeSet<usize> {
        dependents(&self.outcome)[id - 1].iter().map(|i| i + 1).collect()
    }

    /// The project's text with only the change sets `ids` applied (by path from the project root).
    pub fn contents_with(&self, ids: &BTreeSet<usize>) -> Result<fix::Contents, MigrateError> {
        let steps =
            fix::steps(&self.outcome, |i| ids.contains(&(i + 1))).map_err(|e| MigrateError::Replay(e.to_string()))?;
        Ok(contents_of(&steps))
    }

    /// Ids of the change sets the commits hold, in order.
    pub fn kept(&self) -> Vec<usize> {
        (1..=self.outcome.applied.len()).filter(|id| !self.dropped.contains(id)).collect()
    }

    /// Commits, contents, counts after and files touched for the change sets not dropped.
    fn cut(&mut self, project: &Project, paths: &[PathBuf]) -> Result<(), MigrateError> {
        let dropped = &self.dropped;
        let steps = fix::steps(&self.outcome, |i| !dropped.contains(&(i + 1)))
            .map_err(|e| MigrateError::Replay(e.to_string()))?;
        let prefix = &self.prefix;
        let mut commits = Vec::new();
        for indices in group(&steps, self.commit_per) {
            let mut changes = Changes::new();
            let mut rules: Vec<String> = Vec::new();
            for &i in &indices {
                let step = &steps[i];
                if !rules.contains(&step.change_set.rule) {
                    rules.push(step.change_set.rule.clone());
                }
                for (path, (_, after)) in &step.files {
                    changes.insert(format!("{prefix}{path}"), Some(after.clone()));
                }
            }
            commits.push(PlannedCommit {
                rules,
                change_sets: indices.iter().map(|&i| steps[i].index + 1).collect(),
                changes,
            });
        }
        let contents = contents_of(&steps);
        let after = check(project, paths, &contents)?;
        self.evidence.rules = rule_rows(&self.before, &after);
        self.evidence.exceptions = exception_rows(&after);
        self.evidence.files = files_touched(&self.outcome.originals, &contents, prefix);
        self.remaining = after.violations().count();
        self.commits = commits;
        self.contents = contents;
        Ok(())
    }
}

/// Each file's text after the last step that touched it.
fn contents_of(steps: &[fix::Step]) -> fix::Contents {
    let mut contents = fix::Contents::new();
    for step in steps {
        for (path, (_, after)) in &step.files {
            contents.insert(path.clone(), after.clone());
        }
    }
    contents
}

/// For each applied change set (by index), the later ones that depend on it, directly or not: a
/// change set depends on an earlier pass's change set that touched one of its files, since it was
/// planned on that file's text with the earlier edits in it.
fn dependents(outcome: &FixOutcome) -> Vec<BTreeSet<usize>> {
    let n = outcome.applied.len();
    let files: Vec<BTreeSet<&str>> =
        outcome.applied.iter().map(|cs| cs.files.iter().map(|f| f.path.as_str()).collect()).collect();
    let mut out: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    // Later change sets first, so a dependent's own dependents are known when it is added.
    for i in (0..n).rev() {
        for j in i + 1..n {
            if outcome.applied_passes[j] > outcome.applied_passes[i] && !files[i].is_disjoint(&files[j]) {
                let mut more = out[j].clone();
                more.insert(j);
                out[i].extend(more);
            }
        }
    }
    out
}

/// Within each pass the change sets do not depend on each other: ordering them by rule (in run
/// order) lets a recipe's fixes of one pass land in one commit.
fn order_by_rule(project: &Project, outcome: &mut FixOutcome) {
    let rank = |rule: &str| project.rules.iter().position(|r| r.id() == rule).unwrap_or(usize::MAX);
    let mut pairs: Vec<(ChangeSet, usize)> =
        std::mem::take(&mut outcome.applied).into_iter().zip(std::mem::take(&mut outcome.applied_passes)).collect();
    pairs.sort_by_key(|(cs, pass)| (*pass, rank(&cs.rule)));
    (outcome.applied, outcome.applied_passes) = pairs.into_iter().unzip();
}

/// Step indices per commit.
fn group(steps: &[fix::Step], commit_per: CommitPer) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let joins = match (commit_per, groups.last()) {
            (_, None) | (CommitPer::ChangeSet, _) => false,
            (CommitPer::All, Some(_)) => true,
            (CommitPer::Recipe, Some(last)) => steps[last[0]].change_set.rule == step.change_set.rule,
        };
        match groups.last_mut() {
            Some(last) if joins => last.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

/// A check of the project with `contents` in place of the files they name (files they create included).
pub fn check(project: &Project, paths: &[PathBuf], contents: &fix::Contents) -> Result<CheckReport, EngineError> {
    let mut candidates = project.candidates(paths)?;
    for rel_path in contents.keys() {
        if rel_path.ends_with(".py") && !candidates.iter().any(|c| &c.rel_path == rel_path) {
            candidates.push(Candidate { abs_path: project.root().join(rel_path), rel_path: rel_path.clone() });
        }
    }
    Ok(diagnostics::check_with(project, &candidates, contents, &|_| Default::default()))
}

pub fn rule_rows(before: &CheckReport, after: &CheckReport) -> Vec<RuleRow> {
    let (b, a) = (before.counts(), after.counts());
    before
        .rules
        .iter()
        .map(|rule| RuleRow {
            rule: rule.clone(),
            before: b.get(rule).map_or(0, |c| c.violations),
            after: a.get(rule).map_or(0, |c| c.violations),
        })
        .collect()
}

fn files_touched(
    originals: &BTreeMap<String, Option<String>>,
    contents: &fix::Contents,
    prefix: &str,
) -> Vec<FileTouched> {
    contents
        .iter()
        .filter_map(|(path, new)| {
            let old = originals.get(path).and_then(|o| o.as_deref());
            (old != Some(new.as_str())).then_some((path, old, new.as_str()))
        })
        .map(|(path, old, new)| {
            let diff = similar::TextDiff::from_lines(old.unwrap_or(""), new);
            let count = |tag| diff.iter_all_changes().filter(|c| c.tag() == tag).count();
            FileTouched {
                path: format!("{prefix}{path}"),
                status: if old.is_some() { FileStatus::Modified } else { FileStatus::Added },
                added_lines: count(similar::ChangeTag::Insert),
                removed_lines: count(similar::ChangeTag::Delete),
            }
        })
        .collect()
}

fn manual_sites(outcome: &FixOutcome, prefix: &str) -> Vec<ManualSite> {
    let site = |cs: &ChangeSet, reason: String| ManualSite {
        rule: cs.rule.clone(),
        location: format!("{prefix}{}", cs.location),
        reason,
    };
    let mut sites: Vec<ManualSite> =
        outcome.manual.iter().map(|cs| site(cs, cs.reason.clone().unwrap_or_else(|| cs.description.clone()))).collect();
    sites.extend(
        outcome
            .unsafe_skipped
            .iter()
            .map(|cs| site(cs, format!("an unsafe fix, not applied without --unsafe: {}", cs.description))),
    );
    sites.extend(outcome.dropped.iter().map(|d| site(&d.change_set, d.why.clone())));
    sites.sort_by(|a, b| (&a.location, &a.rule).cmp(&(&b.location, &b.rule)));
    sites
}

pub fn exception_rows(report: &CheckReport) -> Vec<ExceptionRow> {
    report
        .exceptions
        .iter()
        .map(|e| ExceptionRow {
            rule: e.entry.rule.clone(),
            path: e.entry.path.clone(),
            owner: e.entry.owner.clone(),
            reason: e.entry.reason.clone(),
            expires: e.entry.expires.as_ref().map(ToString::to_string),
            state: serde_json::to_value(e.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            matched: e.matched,
        })
        .collect()
}

#[derive(Serialize)]
struct CommitVars<'e> {
    rules: &'e [String],
    change_sets: Vec<&'e ChangeSetEvidence>,
    manual: Vec<&'e ManualSite>,
}

/// Each commit's message from the `[migrate]` templates, with the trailer naming the base; the
/// manual sites of a rule go in the last commit of that rule (those of rules without a commit in
/// the last commit), and `last_extra` (the report) ends the last message.
pub fn messages(project: &Project, plan: &Plan, last_extra: Option<&str>) -> Result<Vec<String>, MigrateError> {
    let templates = &project.config.file.migrate;
    let evidence = &plan.evidence;
    let last_of = |rule: &str| plan.commits.iter().rposition(|c| c.rules.iter().any(|r| r == rule));
    let mut out = Vec::new();
    for (i, commit) in plan.commits.iter().enumerate() {
        let is_last = i + 1 == plan.commits.len();
        let manual = evidence
            .manual
            .iter()
            .filter(|m| match last_of(&m.rule) {
                Some(at) => at == i,
                None => is_last,
            })
            .collect();
        let change_sets =
            commit.change_sets.iter().filter_map(|id| evidence.change_sets.iter().find(|cs| cs.id == *id)).collect();
        let vars = minijinja::Value::from_serialize(CommitVars { rules: &commit.rules, change_sets, manual });
        let subject = project.render_str(&templates.subject, &vars)?;
        let body = project.render_str(&templates.body, &vars)?;
        let mut message = format!("{}\n\n{}", subject.trim(), body.trim());
        if let Some(extra) = last_extra.filter(|_| is_last) {
            message = format!("{}\n\n{}", message.trim_end(), extra.trim());
        }
        out.push(format!("{}\n\n{TRAILER}: {}\n", message.trim_end(), evidence.base.commit));
    }
    Ok(out)
}

/// The pull request's title from the `[migrate]` template.
pub fn pr_title(project: &Project, plan: &Plan, branch: &str) -> Result<String, MigrateError> {
    let mut rules: Vec<&str> = Vec::new();
    for cs in &plan.evidence.change_sets {
        if !rules.contains(&cs.rule.as_str()) {
            rules.push(&cs.rule);
        }
    }
    let vars = minijinja::context! { branch => branch, rules => rules, change_sets => plan.evidence.change_sets };
    Ok(project.render_str(&project.config.file.migrate.pr_title, &vars)?.trim().to_string())
}

/// Writes the commits on `base` (objects only) and returns the last one.
pub fn write(
    repo: &Repo,
    base: Oid,
    commits: &[PlannedCommit],
    messages: &[String],
    who: &Signature,
) -> Result<Oid, MigrateError> {
    let mut head = base;
    for (commit, message) in commits.iter().zip(messages) {
        head = repo.commit(head, &commit.changes, message, who)?;
    }
    Ok(head)
}

/// Whether a commit message is strata's (carries the trailer).
pub fn is_own(message: &str) -> bool {
    message.lines().any(|line| line.starts_with(&format!("{TRAILER}: ")))
}

/// The base commit a strata branch was built on (from its newest commit's trailer).
pub fn built_on(message: &str) -> Option<String> {
    message.lines().find_map(|line| line.strip_prefix(&format!("{TRAILER}: ")).map(|s| s.trim().to_string()))
}

/// Commits on `head` and not on `base` that strata did not write, as `id subject`.
pub fn foreign_commits(repo: &Repo, base: Oid, head: Oid) -> Result<Vec<String>, GitError> {
    Ok(repo
        .messages_between(base, head)?
        .into_iter()
        .filter(|(_, message)| !is_own(message))
        .map(|(id, message)| format!("{} {}", &id.to_string()[..10], message.lines().next().unwrap_or_default()))
        .collect())
}
