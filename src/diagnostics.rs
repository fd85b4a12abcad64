//! Diagnostics: the owned result of a check (findings, classified and excepted sites, skipped files,
//! exception states) that every output format renders.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;

use crate::engine::{Analysed, Project, Skipped, WalkStats};
use crate::exceptions::{inline, ExceptionEntry, ExceptionState};
use crate::matching::rule::{Rule, RuleMatch};
use crate::matching::Bindings;
use crate::python::SourceFile;
use crate::recipe::{Applicability, Severity};

/// The rule id of findings about the suppressions themselves (malformed, without a reason, naming
/// an unknown rule). It is not a recipe: it always runs, in every file strata parses.
pub const SUPPRESSION_RULE: &str = "strata-suppression";

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
    /// Covered by an exception or an inline suppression.
    Excepted(ExceptedBy),
    /// Follows the justified pattern with this label.
    Classified(String),
}

/// What excepted a site: an exception (index in [`CheckReport::exceptions`]) or an inline
/// suppression (index in [`CheckReport::suppressions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptedBy {
    File(usize),
    Inline(usize),
}

/// One inline suppression (`# strata: allow[RULE] reason`) after a run.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressionReport {
    pub path: String,
    /// The comment's line.
    pub line: usize,
    /// The known rule ids it names.
    pub rules: Vec<String>,
    pub reason: String,
    /// `active`, `stale` (a rule it names ran and found nothing to suppress on the line it covers)
    /// or `unchecked` (none of its rules ran).
    pub state: ExceptionState,
    /// Sites it excepted.
    pub matched: usize,
    /// The rules it names that ran and suppressed nothing.
    pub unused: Vec<String>,
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
    /// The inline suppressions found in the files that were parsed.
    pub suppressions: Vec<SuppressionReport>,
    /// Every rule that ran, in run order (so zero counts are shown too).
    pub rules: Vec<String>,
}

impl CheckReport {
    /// Shows every path of the report in `style` (exceptions have been matched already).
    pub fn show_paths(&mut self, style: &crate::output::PathStyle) {
        for (finding, _) in &mut self.findings {
            finding.path = style.show(&finding.path);
        }
        for skipped in &mut self.skipped {
            skipped.path = style.show(&skipped.path);
        }
    }

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

    /// Whether `--strict` fails: an exception stale, expired or loose, or a stale suppression.
    pub fn has_stale_or_expired(&self) -> bool {
        self.exceptions
            .iter()
            .any(|e| matches!(e.state, ExceptionState::Stale | ExceptionState::Expired | ExceptionState::Loose))
            || self.suppressions.iter().any(|s| s.state == ExceptionState::Stale)
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
    let vars = match_vars(analysed, m.node, &m.bindings);
    let message = project
        .render(&crate::engine::template_name(rule.id(), "message"), &vars)
        .unwrap_or_else(|e| format!("{} ({e})", rule.recipe.title));
    let mut finding = finding_at(analysed.ctx.file, m.node.byte_range(), rule.id(), rule.recipe.severity, message);
    finding.fix = fix;
    finding
}

/// A finding at a byte range of a file, with its position and code frame, without a fix.
pub fn finding_at(file: &SourceFile, range: Range<usize>, rule: &str, severity: Severity, message: String) -> Finding {
    let (line, column) = file.line_col(range.start);
    let (end_line, end_column) = file.line_col(range.end);
    let lines = file.line_range(range.clone());
    let frame = Frame {
        first_line: line,
        source: file.text[lines.clone()].trim_end_matches(['\n', '\r']).to_string(),
        span: (range.start - lines.start)..(range.end - lines.start).min(lines.len()),
    };
    Finding {
        rule: rule.to_string(),
        severity,
        message,
        path: file.rel_path.clone(),
        start: Position { line, column },
        end: Position { line: end_line, column: end_column },
        fix: None,
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
///
/// Dispositions are decided in this order: a justified pattern is classified; an inline
/// suppression on the finding's first line excepts it; then the first exception (in file order)
/// that covers it and has room left (a counted exception excepts at most `count` sites, the first
/// ones in file order) excepts it.
pub fn check(
    project: &Project,
    candidates: &[crate::discover::Candidate],
    plan: &(dyn Fn(&Analysed) -> Hints + Sync),
) -> CheckReport {
    check_with(project, candidates, &Default::default(), plan)
}

/// [`check`] over files whose current text may be in memory (`contents`, a fix run's result).
pub fn check_with(
    project: &Project,
    candidates: &[crate::discover::Candidate],
    contents: &std::collections::BTreeMap<String, String>,
    plan: &(dyn Fn(&Analysed) -> Hints + Sync),
) -> CheckReport {
    let rules = RuleSets::new(project);
    let (per_file, skipped, stats) = project.analyse_with(candidates, contents, |analysed| {
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
        let suppressions = apply_inline(analysed.ctx.file, &rules, &mut out);
        (out, suppressions)
    });
    let mut findings: Vec<(Finding, Disposition)> = Vec::new();
    let mut suppressions: Vec<SuppressionReport> = Vec::new();
    for (mut file_findings, file_suppressions) in per_file {
        let offset = suppressions.len();
        for (_, disposition) in &mut file_findings {
            if let Disposition::Excepted(ExceptedBy::Inline(index)) = disposition {
                *index += offset;
            }
        }
        findings.extend(file_findings);
        suppressions.extend(file_suppressions);
    }
    findings.sort_by(|(a, _), (b, _)| {
        (&a.path, a.start.line, a.start.column, &a.rule).cmp(&(&b.path, b.start.line, b.start.column, &b.rule))
    });
    let items = &project.exceptions.items;
    let mut matched = vec![0usize; items.len()];
    // The sites beyond a counted exception's count, by exception.
    let mut beyond: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (k, (finding, disposition)) in findings.iter_mut().enumerate() {
        if !matches!(disposition, Disposition::Violation) {
            continue;
        }
        let room = |i: usize| items[i].entry.count.is_none_or(|count| matched[i] < count);
        if let Some(index) = project.exceptions.covering(&finding.rule, &finding.path, room) {
            matched[index] += 1;
            *disposition = Disposition::Excepted(ExceptedBy::File(index));
        } else if let Some(index) = project.exceptions.covering(&finding.rule, &finding.path, |_| true) {
            beyond[index].push(k);
        }
    }
    let file_name = &project.config.file.exceptions;
    for (index, sites) in beyond.iter().enumerate() {
        let (Some(count), false) = (items[index].entry.count, sites.is_empty()) else { continue };
        let found = count + sites.len();
        let first = if count == 1 { "the first is".to_string() } else { format!("the first {count} are") };
        for &k in sites {
            findings[k].0.message.push_str(&format!(
                " ({file_name} allows {count} for `{}`, found {found}: {first} excepted)",
                items[index].entry.path
            ));
        }
    }
    let discovered: std::collections::HashSet<&str> = candidates.iter().map(|c| c.rel_path.as_str()).collect();
    // An exception for one file (what `baseline` writes) was not checked when a run on other paths
    // left that file out; one for a file that is gone is stale.
    let file_checked = |glob: &str| match crate::exceptions::literal_path(glob) {
        Some(path) => discovered.contains(path.as_str()) || !project.root().join(&path).exists(),
        None => true,
    };
    let exceptions = items
        .iter()
        .zip(matched)
        .map(|(e, matched)| {
            let checked = rules.checked(&e.entry.rule) && file_checked(&e.entry.path);
            let state = e.state(matched, checked);
            ExceptionReport { entry: e.entry.clone(), state, matched }
        })
        .collect();
    let mut skipped = skipped;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    CheckReport {
        findings,
        skipped,
        stats,
        exceptions,
        suppressions,
        rules: project.rules.iter().map(|r| r.id().to_string()).collect(),
    }
}

/// The rule ids a run knows (every simple recipe) and the ones it runs.
struct RuleSets {
    known: std::collections::HashSet<String>,
    composite: std::collections::HashSet<String>,
    selected: std::collections::HashSet<String>,
}

impl RuleSets {
    fn new(project: &Project) -> Self {
        let (simple, composite): (Vec<_>, Vec<_>) = project.recipes.iter().partition(|r| r.recipe.include.is_empty());
        RuleSets {
            known: simple.iter().map(|r| r.recipe.id.clone()).collect(),
            composite: composite.iter().map(|r| r.recipe.id.clone()).collect(),
            selected: project.rules.iter().map(|r| r.id().to_string()).collect(),
        }
    }

    /// Whether an exception for `rule` was checked by this run: its rule ran, or it is not a rule
    /// at all (such an exception matches nothing and is reported stale, never hidden).
    fn checked(&self, rule: &str) -> bool {
        self.selected.contains(rule) || !self.known.contains(rule)
    }
}

/// Applies a file's inline suppressions to its findings (the file's violations on the line each
/// covers become excepted) and adds a `strata-suppression` finding for each malformed one and each
/// unknown rule id it names. Returns the suppressions with the file's indices.
fn apply_inline(
    file: &SourceFile,
    rules: &RuleSets,
    findings: &mut Vec<(Finding, Disposition)>,
) -> Vec<SuppressionReport> {
    let mut reports = Vec::new();
    let problem = |span: Range<usize>, message: String| {
        (finding_at(file, span, SUPPRESSION_RULE, Severity::Warning, message), Disposition::Violation)
    };
    for directive in inline::directives(file) {
        let allow = match directive.parsed {
            Ok(allow) => allow,
            Err(why) => {
                findings.push(problem(directive.span, format!("invalid suppression, it suppresses nothing: {why}")));
                continue;
            }
        };
        let mut known = Vec::new();
        for id in allow.rules {
            if rules.known.contains(&id) {
                if !known.contains(&id) {
                    known.push(id);
                }
            } else {
                let what = if rules.composite.contains(&id) {
                    format!("`{id}` is a group of rules: name the rules it should suppress")
                } else {
                    format!("unknown rule `{id}`; `strata recipes list` shows the known ids")
                };
                findings.push(problem(directive.span.clone(), format!("suppression names {what}")));
            }
        }
        if known.is_empty() {
            continue;
        }
        let index = reports.len();
        let mut used: Vec<&str> = Vec::new();
        let mut matched = 0;
        if let Some(target) = directive.target {
            for (finding, disposition) in findings.iter_mut() {
                if matches!(disposition, Disposition::Violation)
                    && finding.start.line == target
                    && known.contains(&finding.rule)
                {
                    *disposition = Disposition::Excepted(ExceptedBy::Inline(index));
                    matched += 1;
                    if let Some(rule) = known.iter().find(|r| **r == finding.rule) {
                        used.push(rule);
                    }
                }
            }
        }
        let checked: Vec<&String> = known.iter().filter(|id| rules.selected.contains(*id)).collect();
        let unused: Vec<String> =
            checked.iter().filter(|id| !used.contains(&id.as_str())).map(|id| id.to_string()).collect();
        let state = if checked.is_empty() {
            ExceptionState::Unchecked
        } else if !unused.is_empty() {
            ExceptionState::Stale
        } else {
            ExceptionState::Active
        };
        reports.push(SuppressionReport {
            path: file.rel_path.clone(),
            line: directive.line,
            rules: known,
            reason: allow.reason,
            state,
            matched,
            unused,
        });
    }
    reports
}
