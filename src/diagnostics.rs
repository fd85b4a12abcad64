//! Diagnostics: the owned result of a check (findings, classified and excepted sites, skipped files,
//! exception states) that every output format renders.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;

use crate::engine::{Analysed, Project, Skipped, WalkStats};
use crate::exceptions::{ExceptionEntry, ExceptionState};
use crate::matching::rule::{Rule, RuleMatch};
use crate::matching::Bindings;
use crate::recipe::{Applicability, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The source lines a finding spans, for code frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub first_line: usize,
    pub source: String,
    /// The finding's byte range within `source`.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixHint {
    pub applicability: Applicability,
    pub description: String,
    /// Whether the fix was planned for this site (what `fix` will do), or is only the recipe's
    /// declared fix for its shape: a transform `check` did not run may still refuse the site.
    pub planned: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub start: Position,
    pub end: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixHint>,
    #[serde(skip)]
    pub frame: Frame,
}

/// What became of a match.
#[derive(Debug, Clone)]
pub enum Disposition {
    Violation,
    /// Covered by the exception with this index.
    Excepted(usize),
    /// Follows the justified pattern with this label.
    Classified(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ExceptionReport {
    #[serde(flatten)]
    pub entry: ExceptionEntry,
    pub state: ExceptionState,
    pub matched: usize,
}

/// Per-rule counts (the evidence numbers).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleCounts {
    pub violations: usize,
    pub excepted: usize,
    pub classified: BTreeMap<String, usize>,
    pub files: usize,
}

pub struct CheckReport {
    pub findings: Vec<(Finding, Disposition)>,
    pub skipped: Vec<Skipped>,
    pub stats: WalkStats,
    pub exceptions: Vec<ExceptionReport>,
    /// Every rule that ran, in run order (so zero counts are shown too).
    pub rules: Vec<String>,
}

impl CheckReport {
    pub fn violations(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|(_, d)| matches!(d, Disposition::Violation)).map(|(f, _)| f)
    }

    pub fn counts(&self) -> BTreeMap<String, RuleCounts> {
        let mut counts: BTreeMap<String, RuleCounts> =
            self.rules.iter().map(|r| (r.clone(), RuleCounts::default())).collect();
        let mut files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (finding, disposition) in &self.findings {
            let entry = counts.entry(finding.rule.clone()).or_default();
            match disposition {
                Disposition::Violation => {
                    entry.violations += 1;
                    let list = files.entry(finding.rule.as_str()).or_default();
                    if !list.contains(&finding.path.as_str()) {
                        list.push(&finding.path);
                    }
                }
                Disposition::Excepted(_) => entry.excepted += 1,
                Disposition::Classified(label) => *entry.classified.entry(label.clone()).or_default() += 1,
            }
        }
        for (rule, list) in files {
            if let Some(entry) = counts.get_mut(rule) {
                entry.files = list.len();
            }
        }
        counts
    }

    pub fn has_stale_or_expired(&self) -> bool {
        self.exceptions.iter().any(|e| e.state != ExceptionState::Active)
    }
}

/// Template variables for a match: layer captures, file facts and each metavariable's text.
pub fn match_vars(analysed: &Analysed, anchor: tree_sitter::Node, bindings: &Bindings) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = analysed.placement.captures.clone();
    vars.insert("path".into(), analysed.ctx.file.rel_path.clone());
    vars.insert("layer".into(), analysed.placement.layer.clone().unwrap_or_default());
    vars.insert("module_name".into(), analysed.ctx.module.clone().unwrap_or_default());
    let file = analysed.ctx.file;
    let stem = file.rel_path.rsplit('/').next().unwrap_or_default().trim_end_matches(".py").to_string();
    vars.entry("module".into()).or_insert(stem);
    let (function, class) = crate::python::enclosing_names(file, anchor);
    vars.insert("function".into(), function);
    vars.insert("class".into(), class);
    for (name, _) in bindings.iter() {
        if let Some(text) = bindings.text(name, &analysed.ctx.file.text) {
            vars.insert(name.to_string(), text.to_string());
        }
    }
    vars
}

/// Builds the finding for one match (message rendered, position, frame) with the fix hint the
/// planner gave it.
pub fn finding(project: &Project, analysed: &Analysed, rule: &Rule, m: &RuleMatch, fix: Option<FixHint>) -> Finding {
    let file = analysed.ctx.file;
    let vars = match_vars(analysed, m.node, &m.bindings);
    let message = project
        .render(&crate::engine::template_name(rule.id(), "message"), &vars)
        .unwrap_or_else(|e| format!("{} ({e})", rule.recipe.title));
    let range = m.node.byte_range();
    let (line, column) = file.line_col(range.start);
    let (end_line, end_column) = file.line_col(range.end);
    let lines = file.line_range(range.clone());
    let frame = Frame {
        first_line: line,
        source: file.text[lines.clone()].trim_end_matches(['\n', '\r']).to_string(),
        span: (range.start - lines.start)..(range.end - lines.start).min(lines.len()),
    };
    Finding {
        rule: rule.id().to_string(),
        severity: rule.recipe.severity,
        message,
        path: file.rel_path.clone(),
        start: Position { line, column },
        end: Position { line: end_line, column: end_column },
        fix,
        frame,
    }
}

/// The fix a recipe declares for a match, before any transform runs (for callers that do not plan).
pub fn declared_fix(project: &Project, analysed: &Analysed, rule: &Rule, m: &RuleMatch) -> Option<FixHint> {
    let (index, env) = rule.fix_case(m, &analysed.ctx)?;
    let case = &rule.fixes[index].case;
    let part = if case.applicability == Applicability::Manual { "reason" } else { "description" };
    let vars = match_vars(analysed, m.node, &env);
    let name = crate::engine::template_name(rule.id(), &format!("fix[{index}].{part}"));
    let description = project.render(&name, &vars).unwrap_or_else(|e| format!("error: {e}"));
    // A fix without a transform is decided by its `when` conditions alone: declared is planned.
    let planned = case.transform.is_none();
    Some(FixHint { applicability: case.applicability, description, planned })
}

/// Fix hints of one file's matches by `(rule, path:line:col)`.
pub type Hints = std::collections::HashMap<(String, String), FixHint>;

/// Runs a check over candidates: findings with their disposition, skipped files and exception states.
/// `plan` gives each file's fix hints (what `fix` would do with each match), so that `check` and
/// `fix` never disagree; without a hint, the recipe's declared fix is shown.
pub fn check(
    project: &Project,
    candidates: &[crate::discover::Candidate],
    plan: &(dyn Fn(&Analysed) -> Hints + Sync),
) -> CheckReport {
    let (per_file, skipped, stats) = project.analyse(candidates, |analysed| {
        let mut out = Vec::new();
        let hints = plan(analysed);
        for (rule, matches) in &analysed.matches {
            for m in matches {
                let (line, column) = analysed.ctx.file.line_col(m.node.start_byte());
                let key = (rule.id().to_string(), format!("{}:{line}:{column}", analysed.ctx.file.rel_path));
                let fix = hints.get(&key).cloned().or_else(|| declared_fix(project, analysed, rule, m));
                let finding = finding(project, analysed, rule, m, fix);
                let disposition = match &m.classification {
                    Some(label) => Disposition::Classified(label.clone()),
                    None => Disposition::Violation,
                };
                out.push((finding, disposition));
            }
        }
        out
    });
    let mut matched = vec![0usize; project.exceptions.items.len()];
    let mut findings: Vec<(Finding, Disposition)> = per_file.into_iter().flatten().collect();
    for (finding, disposition) in &mut findings {
        if matches!(disposition, Disposition::Violation) {
            if let Some(index) = project.exceptions.covering(&finding.rule, &finding.path) {
                matched[index] += 1;
                *disposition = Disposition::Excepted(index);
            }
        }
    }
    findings.sort_by(|(a, _), (b, _)| {
        (&a.path, a.start.line, a.start.column, &a.rule).cmp(&(&b.path, b.start.line, b.start.column, &b.rule))
    });
    let used: Vec<bool> = matched.iter().map(|n| *n > 0).collect();
    let exceptions = project
        .exceptions
        .items
        .iter()
        .zip(project.exceptions.states(&used))
        .zip(matched)
        .map(|((e, state), matched)| ExceptionReport { entry: e.entry.clone(), state, matched })
        .collect();
    let mut skipped = skipped;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    CheckReport {
        findings,
        skipped,
        stats,
        exceptions,
        rules: project.rules.iter().map(|r| r.id().to_string()).collect(),
    }
}
