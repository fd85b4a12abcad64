//! Fixes: planning change sets from matches (primitive edits and built-in transforms) and the
//! fixpoint loop that applies them pass after pass, validating every changed file by re-parsing.

pub mod primitives;
pub mod recipe_tests;
pub mod sources;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;
use tree_sitter::Node;

use crate::diagnostics::match_vars;
use crate::discover::Candidate;
use crate::edit::{self, ChangeSet, Edit, FileEdits};
use crate::engine::{template_name, Analysed, EngineError, Project, Skipped};
use crate::matching::rule::{Rule, RuleMatch};
use crate::matching::{Bindings, Bound};
use crate::python;
use crate::recipe::{Applicability, EditSpec};
use crate::transform::{self, ManualReason, TransformCall, TransformOutput};
use sources::Sources;

/// The current text of every file a fix run changed or created, by project-relative path.
pub type Contents = BTreeMap<String, String>;

/// Passes after which a run stops even if fixes keep coming (each pass applies what does not conflict).
pub const MAX_PASSES: usize = 100;

/// What a person (or `--interactive`) decides for one change set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply,
    Skip,
    /// Apply this and every later change set without asking.
    ApplyAll,
    /// Apply nothing more.
    Quit,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FixOptions {
    pub unsafe_fixes: bool,
}

/// A change set that was not applied, with why.
#[derive(Debug, Clone, Serialize)]
pub struct NotApplied {
    #[serde(flatten)]
    pub change_set: ChangeSet,
    pub why: String,
}

/// The result of a fix run: what was applied, what was not and why, and the new file contents.
#[derive(Debug, Default, Serialize)]
pub struct FixOutcome {
    pub applied: Vec<ChangeSet>,
    pub manual: Vec<ChangeSet>,
    pub unsafe_skipped: Vec<ChangeSet>,
    pub rejected: Vec<ChangeSet>,
    /// Change sets dropped because the result would not parse (or edits could not be applied).
    pub dropped: Vec<NotApplied>,
    /// Change sets that could not be planned because a template failed to render: errors in the
    /// recipes or naming templates, reported as such and never written into files or names.
    pub errors: Vec<NotApplied>,
    pub skipped_files: Vec<Skipped>,
    pub passes: usize,
    /// The pass each change set of `applied` was applied in (same order), for [`steps`].
    #[serde(skip)]
    pub applied_passes: Vec<usize>,
    /// True when MAX_PASSES was reached with fixes still pending.
    pub hit_pass_limit: bool,
    /// Original text of each changed file (`None` for created files).
    #[serde(skip)]
    pub originals: BTreeMap<String, Option<String>>,
    #[serde(skip)]
    pub contents: Contents,
}

impl FixOutcome {
    /// Shows the paths of every reported change set in `style` (after the files were written).
    pub fn show_paths(&mut self, style: &crate::output::PathStyle) {
        let sets =
            self.applied.iter_mut().chain(&mut self.manual).chain(&mut self.unsafe_skipped).chain(&mut self.rejected);
        for cs in sets.chain(self.dropped.iter_mut().map(|d| &mut d.change_set)) {
            cs.location = style.show_location(&cs.location);
            for file in &mut cs.files {
                file.path = style.show(&file.path);
            }
            for (_, location) in &mut cs.also_fixes {
                *location = style.show_location(location);
            }
        }
        for skipped in &mut self.skipped_files {
            skipped.path = style.show(&skipped.path);
        }
    }

    /// Files whose final text differs from the original, with both texts.
    pub fn changed_files(&self) -> Vec<(&str, Option<&str>, &str)> {
        self.contents
            .iter()
            .filter_map(|(path, new)| {
                let old = self.originals.get(path).and_then(|o| o.as_deref());
                (old != Some(new.as_str())).then_some((path.as_str(), old, new.as_str()))
            })
            .collect()
    }
}

/// Runs fixes to a fixpoint in memory; nothing is written here.
pub fn run(
    project: &Project,
    paths: &[PathBuf],
    options: FixOptions,
    decide: &mut dyn FnMut(&ChangeSet, &Contents) -> Decision,
) -> Result<FixOutcome, EngineError> {
    let mut outcome = FixOutcome::default();
    let mut rejected: BTreeSet<String> = BTreeSet::new();
    // Manual and unsafe change sets by the file they are in, as of the latest analysis of that file.
    let mut manual: BTreeMap<String, Vec<ChangeSet>> = BTreeMap::new();
    let mut unsafe_skipped: BTreeMap<String, Vec<ChangeSet>> = BTreeMap::new();
    let mut errors: BTreeMap<String, Vec<NotApplied>> = BTreeMap::new();
    // After the first pass only files that changed or still have pending fixes are analysed again;
    // a full pass (`None`) confirms the fixpoint before the run ends.
    let mut scope: Option<BTreeSet<String>> = None;
    let mut ask = true;
    let mut quit = false;
    let mut converged = false;
    // Files that several change sets of the last pass rewrote with a transform that tidies its
    // source, with the rule and the text before that pass: what each left because the others still
    // used it (a helper, an import) may now be unused by all, which a tidy change set removes in
    // the next pass.
    let mut tidy: BTreeMap<String, (String, String)> = BTreeMap::new();
    let all = project.candidates(paths)?;
    let bar = crate::progress::bar(None, "{spinner} fixing: {msg}", true);
    for pass in 1..=MAX_PASSES {
        outcome.passes = pass;
        bar.set_message(format!("pass {pass}, {} change sets applied", outcome.applied.len()));
        bar.tick();
        let mut candidates: Vec<Candidate> = all.clone();
        for path in outcome.contents.keys() {
            if !candidates.iter().any(|c| &c.rel_path == path) && in_paths(project, paths, path) {
                candidates.push(Candidate { rel_path: path.clone(), abs_path: project.root().join(path) });
            }
        }
        if let Some(scope) = &scope {
            candidates.retain(|c| scope.contains(&c.rel_path));
        }
        let contents = &outcome.contents;
        let sources = Sources::new(project, contents);
        let (planned, skipped, _) =
            project.analyse_with(&candidates, contents, |analysed| plan_file(analysed, &sources, true));
        if pass == 1 {
            outcome.skipped_files = skipped;
        }
        for candidate in &candidates {
            manual.remove(&candidate.rel_path);
            unsafe_skipped.remove(&candidate.rel_path);
            errors.remove(&candidate.rel_path);
        }
        let mut pending: Vec<ChangeSet> = std::mem::take(&mut tidy)
            .into_iter()
            .filter_map(|(path, (rule, before))| tidy_up(project, &outcome.contents, &path, &rule, &before))
            .filter(|cs| !rejected.contains(&fingerprint(cs)))
            .collect();
        for planned in planned.into_iter().flatten() {
            let cs = match planned {
                Ok(cs) => cs,
                Err(failed) => {
                    errors.entry(failed.change_set.source.clone()).or_default().push(failed);
                    continue;
                }
            };
            let key = fingerprint(&cs);
            match cs.applicability {
                Applicability::Manual => manual.entry(cs.source.clone()).or_default().push(cs),
                Applicability::Unsafe if !options.unsafe_fixes => {
                    unsafe_skipped.entry(cs.source.clone()).or_default().push(cs)
                }
                _ if cs.is_empty() || rejected.contains(&key) => {}
                _ => pending.push(cs),
            }
        }
        if quit || (pending.is_empty() && scope.is_none()) {
            converged = true;
            break;
        }
        if pending.is_empty() {
            scope = None;
            continue;
        }
        let (kept, deferred) = edit::select_non_conflicting(pending);
        let mut next_scope: BTreeSet<String> = deferred.iter().map(|cs| cs.source.clone()).collect();
        let mut staged: Vec<ChangeSet> = Vec::new();
        let mut approved: Vec<ChangeSet> = Vec::new();
        for cs in kept {
            if quit {
                break;
            }
            if ask {
                match decide(&cs, &outcome.contents) {
                    Decision::Apply => {}
                    Decision::ApplyAll => ask = false,
                    Decision::Skip => {
                        rejected.insert(fingerprint(&cs));
                        outcome.rejected.push(cs);
                        continue;
                    }
                    Decision::Quit => {
                        quit = true;
                        continue;
                    }
                }
            }
            approved.push(cs);
        }
        // The pass's change sets are judged together (one re-parse and one look at each changed
        // file); only when the whole does not hold is it split, to find the change sets at fault.
        let (accepted, refused) = accept(project, &sources, Vec::new(), approved);
        for (cs, why) in refused {
            rejected.insert(fingerprint(&cs));
            // Edits elsewhere in its file move a refused site, so a later pass plans and refuses it
            // again: the latest refusal stands for the site, once.
            outcome.dropped.retain(|d| !same_site(&d.change_set, &cs));
            outcome.dropped.push(NotApplied { change_set: cs, why });
        }
        staged.extend(accepted);
        next_scope.extend(staged.iter().flat_map(|cs| cs.files.iter().map(|f| f.path.clone())));
        next_scope.extend(staged.iter().map(|cs| cs.source.clone()));
        let before = outcome.applied.len();
        let mut fixed_in: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for cs in staged.iter().filter(|cs| cs.tidies_source) {
            fixed_in.entry(cs.source.as_str()).or_insert((0, cs.rule.as_str())).0 += 1;
        }
        let mut next_tidy: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (path, (count, rule)) in fixed_in {
            if let (true, Some(text)) = (count > 1, current_text(project, &outcome.contents, path)) {
                next_tidy.insert(path.to_string(), (rule.to_string(), text));
            }
        }
        commit_pass(project, pass, staged, &mut outcome);
        tidy = next_tidy;
        crate::progress::detail(
            &bar,
            format!(
                "pass {pass}: {} change sets applied, {} deferred to the next pass",
                outcome.applied.len() - before,
                deferred.len()
            ),
        );
        for cs in &outcome.applied[before..] {
            crate::progress::detail(&bar, format!("  applied {} at {}", cs.rule, cs.location));
        }
        scope = Some(next_scope);
    }
    bar.finish_and_clear();
    // A site refused in one pass and fixed in a later one (the cause was another change set) is fixed.
    let applied = &outcome.applied;
    outcome.dropped.retain(|d| !applied.iter().any(|a| same_site(a, &d.change_set)));
    outcome.hit_pass_limit = !converged;
    outcome.manual = manual.into_values().flatten().collect();
    outcome.unsafe_skipped = unsafe_skipped.into_values().flatten().collect();
    outcome.errors = errors.into_values().flatten().collect();
    Ok(outcome)
}

/// A change set removing, from a file several change sets of one pass fixed in, the private
/// helpers and then the imports that pass made unused (`before`: the file's text before the pass).
fn tidy_up(project: &Project, contents: &Contents, path: &str, rule: &str, before: &str) -> Option<ChangeSet> {
    let now = current_text(project, contents, path)?;
    let parse = |text: &str| {
        python::SourceFile::parse(path.to_string(), project.root().join(path), text.as_bytes().to_vec()).ok()
    };
    let (before, current) = (parse(before)?, parse(&now)?);
    let helpers = primitives::private_functions_made_unused(&before, &current);
    let without = parse(&edit::apply(&now, &helpers).ok()?)?;
    let imports = primitives::imports_made_unused(&before, &without);
    let tidied = edit::apply(&without.text, &imports).ok()?;
    if tidied == now {
        return None;
    }
    let mut cs = ChangeSet::manual(
        rule,
        path,
        format!("{path}:1:1"),
        "remove the helpers and imports that the fixes of the last pass left unused".to_string(),
        String::new(),
    );
    cs.applicability = Applicability::Safe;
    cs.reason = None;
    cs.follow_on = true;
    cs.files = vec![FileEdits::between(path, &now, &tidied)];
    Some(cs)
}

/// Whether a project-relative path lies under the paths a run was given (all when none were).
fn in_paths(project: &Project, paths: &[PathBuf], rel: &str) -> bool {
    let root = std::fs::canonicalize(project.root()).unwrap_or_else(|_| project.root().to_path_buf());
    let abs = root.join(rel);
    paths.is_empty() || paths.iter().any(|p| abs.starts_with(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
}

/// Whether two change sets of different passes fix the same site: same rule, same source file and
/// the same description (which names the function or statement; line numbers move between passes).
fn same_site(a: &ChangeSet, b: &ChangeSet) -> bool {
    a.rule == b.rule && a.source == b.source && a.description == b.description
}

/// Identity of a change set across passes (same rule, place and edits).
fn fingerprint(cs: &ChangeSet) -> String {
    serde_json::to_string(&(&cs.rule, &cs.location, &cs.reason, &cs.files)).unwrap_or_default()
}

/// The current text of a project file: from this run's contents, else from disk (`None` if missing).
pub fn current_text(project: &Project, contents: &Contents, rel: &str) -> Option<String> {
    contents.get(rel).cloned().or_else(|| std::fs::read_to_string(project.root().join(rel)).ok())
}

/// Of `candidates` (non-conflicting), the ones that hold together with `base` (already known to
/// hold), and the others with why: all at once when the whole holds, else by bisection, so a
/// pass costs one validation when nothing is wrong and a few more per change set at fault.
fn accept(
    project: &Project,
    sources: &Sources,
    base: Vec<ChangeSet>,
    mut candidates: Vec<ChangeSet>,
) -> (Vec<ChangeSet>, Vec<(ChangeSet, String)>) {
    if candidates.is_empty() {
        return (base, Vec::new());
    }
    let all: Vec<&ChangeSet> = base.iter().chain(&candidates).collect();
    let why = match validate(project, sources, &all) {
        Ok(()) => {
            let mut accepted = base;
            accepted.extend(candidates);
            return (accepted, Vec::new());
        }
        Err(why) => why,
    };
    if candidates.len() == 1 {
        return (base, vec![(candidates.remove(0), why)]);
    }
    let right = candidates.split_off(candidates.len() / 2);
    let (base, mut refused) = accept(project, sources, base, candidates);
    let (accepted, more) = accept(project, sources, base, right);
    refused.extend(more);
    (accepted, refused)
}

/// Applies change sets (non-conflicting) together to the current texts and checks each Python
/// file still parses and, through the semantic guard, still means something: no fact the files
/// did not have before.
fn validate(project: &Project, sources: &Sources, change_sets: &[&ChangeSet]) -> Result<(), String> {
    let mut overlay = sources::Overlay::new(sources);
    for (path, (create, edits)) in combined(change_sets.iter().copied()) {
        edit::resolve_in_root(project.root(), path).map_err(|e| e.to_string())?;
        let current = sources.text(path);
        if create && current.is_some() {
            return Err(format!("{path} already exists"));
        }
        let new = edit::apply(current.as_deref().unwrap_or(""), &edits).map_err(|e| format!("{path}: {e}"))?;
        if path.ends_with(".py") {
            if let Ok(tree) = python::parse_text(&new) {
                if let Some(bad) = python::first_error(tree.root_node()) {
                    let pos = bad.start_position();
                    let line = new.lines().nth(pos.row).unwrap_or_default().trim();
                    return Err(format!(
                        "the fix would leave a syntax error in {path} at line {}, column {} (`{line}`)",
                        pos.row + 1,
                        pos.column + 1
                    ));
                }
                // What tree-sitter parses but Python 3 refuses (a template writing `print x`).
                if let Some(rejected) = python::rejection(&tree, &new) {
                    return Err(format!("the fix would leave code Python 3 rejects in {path}: {rejected}"));
                }
            }
            overlay.put(path, new);
        }
    }
    match overlay.new_facts(&project.config).first() {
        Some(fact) => Err(format!("the fix would leave code that does not work: {fact}")),
        None => Ok(()),
    }
}

/// The edits of non-conflicting change sets per file (and whether one creates it). An edit may
/// repeat across change sets (the same import line, the same line rewritten alike): one is kept.
fn combined<'c>(change_sets: impl Iterator<Item = &'c ChangeSet>) -> BTreeMap<&'c str, (bool, Vec<Edit>)> {
    let mut per_file: BTreeMap<&str, (bool, Vec<Edit>)> = BTreeMap::new();
    for file in change_sets.flat_map(|cs| &cs.files) {
        let (create, edits) = per_file.entry(file.path.as_str()).or_default();
        *create |= file.create;
        for edit in &file.edits {
            if !edits.contains(edit) {
                edits.push(edit.clone());
            }
        }
    }
    per_file
}

fn commit_pass(project: &Project, pass: usize, mut staged: Vec<ChangeSet>, outcome: &mut FixOutcome) {
    // Change sets that break a file together are dropped and the rest combined again, so that
    // the contents are exactly the applied change sets' edits (what `steps` replays).
    let results = loop {
        let per_file = combined(staged.iter());
        let mut broken: BTreeSet<String> = BTreeSet::new();
        let mut results: BTreeMap<String, String> = BTreeMap::new();
        for (path, (_, edits)) in &per_file {
            let current = current_text(project, &outcome.contents, path);
            match edit::apply(current.as_deref().unwrap_or(""), edits) {
                Ok(new) if !path.ends_with(".py") || python::is_valid_python(&new) => {
                    results.insert(path.to_string(), new);
                }
                _ => {
                    broken.insert(path.to_string());
                }
            }
        }
        if broken.is_empty() {
            break results;
        }
        let (bad, good): (Vec<ChangeSet>, Vec<ChangeSet>) =
            staged.into_iter().partition(|cs| cs.files.iter().any(|f| broken.contains(&f.path)));
        for cs in bad {
            let why = "together with other fixes in the same pass the result would not parse; fix it separately".into();
            outcome.dropped.retain(|d| !same_site(&d.change_set, &cs));
            outcome.dropped.push(NotApplied { change_set: cs, why });
        }
        staged = good;
    };
    outcome.applied_passes.extend(std::iter::repeat_n(pass, staged.len()));
    outcome.applied.extend(staged);
    for (path, new) in results {
        if !outcome.originals.contains_key(&path) {
            let original = std::fs::read_to_string(project.root().join(&path)).ok();
            outcome.originals.insert(path.clone(), original);
        }
        outcome.contents.insert(path, new);
    }
}

/// One applied change set and the files it changed: each file's text before and after it.
pub struct Step<'o> {
    /// The change set's index in `applied`.
    pub index: usize,
    pub change_set: &'o ChangeSet,
    /// Path → (text before, `None` for a file it created; text after).
    pub files: BTreeMap<String, (Option<String>, String)>,
}

/// The run replayed one change set at a time, in the order applied: the change sets of a pass do
/// not conflict, so each is applied on its own to the pass's starting texts, on top of those of
/// the pass before it. With every change set kept, the last step's texts are the run's contents;
/// `keep` (by index in `applied`) leaves change sets out, which is sound when every change set
/// kept that touches a file of one left out comes from the same or an earlier pass.
pub fn steps(outcome: &FixOutcome, keep: impl Fn(usize) -> bool) -> Result<Vec<Step<'_>>, edit::ApplyError> {
    let mut state: BTreeMap<String, Option<String>> = outcome.originals.clone();
    let mut out = Vec::new();
    let mut pass_start = state.clone();
    let mut current_pass = 0;
    let mut in_pass: Vec<&ChangeSet> = Vec::new();
    for (index, (cs, &pass)) in outcome.applied.iter().zip(&outcome.applied_passes).enumerate() {
        if !keep(index) {
            continue;
        }
        if pass != current_pass {
            pass_start = state.clone();
            current_pass = pass;
            in_pass.clear();
        }
        in_pass.push(cs);
        let mut files = BTreeMap::new();
        for file in &cs.files {
            let edits: Vec<Edit> =
                combined(in_pass.iter().copied().filter(|c| c.files.iter().any(|f| f.path == file.path)))
                    .remove(file.path.as_str())
                    .map(|(_, edits)| edits)
                    .unwrap_or_default();
            let base = pass_start.get(&file.path).cloned().flatten();
            let new = edit::apply(base.as_deref().unwrap_or(""), &edits)?;
            let before = state.get(&file.path).cloned().flatten();
            state.insert(file.path.clone(), Some(new.clone()));
            files.insert(file.path.clone(), (before, new));
        }
        out.push(Step { index, change_set: cs, files });
    }
    Ok(out)
}

/// What `fix` would do with each match of a file, as fix hints by `(rule, path:line:col)`: the
/// same planning step `fix` runs (transforms included), so `check` shows exactly what `fix` does.
/// Without `transforms`, a match whose fix runs a transform gets no hint here (the caller shows the
/// recipe's declared fix): planning a transform costs far more than matching the site.
pub fn plan_hints(analysed: &Analysed, sources: &Sources, transforms: bool) -> crate::diagnostics::Hints {
    plan_file(analysed, sources, transforms)
        .into_iter()
        .filter_map(Result::ok)
        .map(|cs| {
            let description = match (&cs.applicability, &cs.reason) {
                (Applicability::Manual, Some(reason)) => reason.clone(),
                _ => cs.description.clone(),
            };
            let hint = crate::diagnostics::FixHint { applicability: cs.applicability, description, planned: true };
            ((cs.rule.clone(), cs.location.clone()), hint)
        })
        .collect()
}

/// Plans the change sets for every fixable match of a file; a change set whose templates failed
/// to render is an error.
fn plan_file(analysed: &Analysed, sources: &Sources, transforms: bool) -> Vec<Result<ChangeSet, NotApplied>> {
    let mut out = Vec::new();
    let mut memo = TransformMemo::new();
    let file = analysed.ctx.file;
    // A site `check` excepts (an inline suppression with its reason, an exceptions-file entry,
    // counted or not) is accepted as it is: `fix` leaves it alone.
    let directives = crate::exceptions::inline::directives(file);
    let accepted = |rule: &str, m: &RuleMatch| {
        let line = file.line_col(m.node.start_byte()).0;
        let suppressed = directives.iter().any(|d| {
            d.target == Some(line) && d.parsed.as_ref().is_ok_and(|allow| allow.rules.iter().any(|r| r == rule))
        });
        suppressed || sources.project.exceptions.covering(rule, &file.rel_path, |_| true).is_some()
    };
    for (rule, matches) in &analysed.matches {
        for m in matches.iter().filter(|m| m.classification.is_none() && !accepted(rule.id(), m)) {
            if let Some(cs) = plan_match(analysed, rule, m, sources, transforms, &mut memo) {
                out.push(cs);
            }
        }
    }
    out
}

/// Transform results by (transform, enclosing function, bindings): several matches in one
/// endpoint (each `session.execute`, the commit) plan the same rewrite, computed once per file.
type TransformMemo = HashMap<(String, usize, String), Result<TransformOutput, ManualReason>>;

/// Renders a recipe template; a failure is a [`transform::TEMPLATE_FAILURE`] reason, which
/// planning turns into an error for the change set (never text in its output).
fn render(project: &Project, name: &str, vars: &BTreeMap<String, String>) -> Result<String, ManualReason> {
    project.render(name, vars).map_err(transform::template_failure)
}

fn plan_match(
    analysed: &Analysed,
    rule: &Rule,
    m: &RuleMatch,
    sources: &Sources,
    transforms: bool,
    memo: &mut TransformMemo,
) -> Option<Result<ChangeSet, NotApplied>> {
    let (index, env) = rule.fix_case(m, &analysed.ctx)?;
    let case = &rule.fixes[index].case;
    if !transforms && case.transform.is_some() {
        return None;
    }
    let planned = plan_case(analysed, rule, m, index, &env, sources, memo);
    Some(planned.map_err(|why| {
        let ctx = &analysed.ctx;
        let (line, column) = ctx.file.line_col(m.node.start_byte());
        let location = format!("{}:{line}:{column}", ctx.file.rel_path);
        let mut change_set = ChangeSet::manual(rule.id(), &ctx.file.rel_path, location, String::new(), String::new());
        change_set.applicability = case.applicability;
        change_set.reason = None;
        let why = why.strip_prefix(transform::TEMPLATE_FAILURE).unwrap_or(&why).to_string();
        NotApplied { change_set, why }
    }))
}

/// The change set of fix case `index` for a match (a manual one with the reason when the site
/// must be fixed by hand); `Err` only when a template failed to render.
fn plan_case(
    analysed: &Analysed,
    rule: &Rule,
    m: &RuleMatch,
    index: usize,
    env: &Bindings,
    sources: &Sources,
    memo: &mut TransformMemo,
) -> Result<ChangeSet, ManualReason> {
    let (project, contents) = (sources.project, sources.contents);
    let ctx = &analysed.ctx;
    let fix = &rule.fixes[index];
    let id = rule.id();
    let vars = match_vars(analysed, m.node, env);
    let (line, column) = ctx.file.line_col(m.node.start_byte());
    let location = format!("{}:{line}:{column}", ctx.file.rel_path);
    let template = |part: &str| render(project, &template_name(id, &format!("fix[{index}].{part}")), &vars);
    let description = template("description")?;
    let manual = |reason: ManualReason| {
        if reason.starts_with(transform::TEMPLATE_FAILURE) {
            return Err(reason);
        }
        Ok(ChangeSet::manual(id, &ctx.file.rel_path, location.clone(), description.clone(), reason))
    };
    if fix.case.applicability == Applicability::Manual {
        return manual(template("reason")?);
    }
    let mut files: BTreeMap<String, FileEdits> = BTreeMap::new();
    let mut add = |fe: FileEdits| {
        let entry = files.entry(fe.path.clone()).or_insert_with(|| FileEdits::edit(fe.path.clone(), Vec::new()));
        entry.create |= fe.create;
        entry.edits.extend(fe.edits);
    };
    let site = FixSite { project, analysed, rule, case: index, m, env, vars: &vars, contents };
    for (j, spec) in fix.case.edits.iter().enumerate() {
        match site.primitive(j, spec) {
            Ok(list) => list.into_iter().for_each(&mut add),
            Err(reason) => return manual(reason),
        }
    }
    let mut follow_ups = Vec::new();
    let mut description = description.clone();
    let mut tidies_source = false;
    if let Some(spec) = &fix.case.transform {
        let call = TransformCall { project, analysed, rule, m, env, params: &spec.params, sources, vars: &vars };
        let result = match transform::memo_key(&spec.name, &call) {
            Some(key) => {
                let key = (format!("{}{:?}", spec.name, spec.params), key.0, key.1);
                memo.entry(key).or_insert_with(|| transform::run(&spec.name, &call)).clone()
            }
            None => transform::run(&spec.name, &call),
        };
        match result {
            Ok(output) => {
                tidies_source = output.tidies_source;
                output.files.into_iter().for_each(&mut add);
                follow_ups.extend(output.follow_ups);
                if let Some(d) = output.description {
                    description = d;
                }
            }
            Err(reason) => return manual(reason),
        }
    }
    if !fix.case.follow_up.is_empty() {
        follow_ups.push(template("follow_up")?);
    }
    Ok(ChangeSet {
        rule: id.to_string(),
        applicability: fix.case.applicability,
        description,
        location,
        source: ctx.file.rel_path.clone(),
        reason: None,
        files: files.into_values().collect(),
        follow_ups,
        also_fixes: Vec::new(),
        follow_on: false,
        tidies_source,
    })
}

/// One match and the fix case chosen for it: what its primitive edits are computed from.
struct FixSite<'a, 't> {
    project: &'a Project,
    analysed: &'a Analysed<'t>,
    rule: &'a Rule,
    /// Index of the fix case in the rule.
    case: usize,
    m: &'a RuleMatch<'t>,
    env: &'a Bindings<'t>,
    vars: &'a BTreeMap<String, String>,
    contents: &'a Contents,
}

impl<'t> FixSite<'_, 't> {
    /// The nodes edit `j` applies to: its anchor, or every node inside the anchor that `select` matches.
    fn targets(&self, j: usize, anchor: &str) -> Result<Vec<(Node<'t>, Bindings<'t>)>, String> {
        let m = self.m;
        let node = match anchor {
            "match" => Some(m.node),
            "statement" => python::enclosing_statement(m.node),
            "function" => python::enclosing_function(m.node),
            name => match self.env.get(name.trim_start_matches('$')) {
                Some(Bound::Node(n)) => Some(*n),
                Some(Bound::Seq(_)) => {
                    return Err(format!("edit target `{name}` is a sequence; select nodes inside it"))
                }
                None => return Err(format!("edit target `{name}` is not bound by the match")),
            },
        }
        .ok_or_else(|| format!("the match has no enclosing {anchor}"))?;
        match &self.rule.fixes[self.case].selects[j] {
            Some(select) => Ok(select.find_all(node, &self.analysed.ctx, self.env)),
            None => Ok(vec![(node, self.env.clone())]),
        }
    }

    /// Renders template `part` of edit `j`, with the bindings of a selected node added.
    fn template(&self, j: usize, part: &str, extra: &Bindings) -> Result<String, ManualReason> {
        let mut vars = self.vars.clone();
        vars.extend(match_vars(self.analysed, self.m.node, extra));
        render(self.project, &template_name(self.rule.id(), &format!("fix[{}].edits[{j}].{part}", self.case)), &vars)
    }

    fn here(&self, edits: Vec<Edit>) -> Vec<FileEdits> {
        vec![FileEdits::edit(self.analysed.ctx.file.rel_path.clone(), edits)]
    }

    /// One edit per target node, in this file.
    fn each(
        &self,
        j: usize,
        anchor: &str,
        f: &dyn Fn(Node, &Bindings) -> Result<Edit, String>,
    ) -> Result<Vec<FileEdits>, String> {
        let nodes = self.targets(j, anchor)?;
        let edits = nodes.iter().map(|(n, b)| f(*n, b)).collect::<Result<Vec<_>, _>>()?;
        Ok(self.here(edits))
    }

    /// The file edits of primitive edit `j`, or why the site must be fixed by hand.
    fn primitive(&self, j: usize, spec: &EditSpec) -> Result<Vec<FileEdits>, String> {
        let file = self.analysed.ctx.file;
        let none = Bindings::default();
        match spec {
            EditSpec::Replace { target, .. } => {
                self.each(j, &target.node, &|n, b| Ok(Edit::replace(n.byte_range(), self.template(j, "with", b)?)))
            }
            EditSpec::Delete { target } => {
                let mut edits = Vec::new();
                for (node, _) in self.targets(j, &target.node)? {
                    if !python::is_statement(node) {
                        return Err(format!("`{}` is not a whole statement; delete needs one", file.node_text(node)));
                    }
                    let whole = primitives::statement_is_just(node, self.m.node);
                    if target.node == "statement" && target.select.is_none() && !whole {
                        return Err(format!(
                            "`{}` is part of a larger statement (`{}`); remove it by hand",
                            file.node_text(self.m.node),
                            file.node_text(node).lines().next().unwrap_or_default()
                        ));
                    }
                    edits.extend(primitives::delete_statement(file, node));
                }
                Ok(self.here(edits))
            }
            EditSpec::InsertBefore { target, .. } => self.each(j, &target.node, &|n, b| {
                let stmt = python::enclosing_statement(n).ok_or("no statement to insert before")?;
                primitives::insert_before(file, stmt, &self.template(j, "with", b)?)
                    .ok_or_else(|| "the statement shares its line".into())
            }),
            EditSpec::InsertAfter { target, .. } => self.each(j, &target.node, &|n, b| {
                let stmt = python::enclosing_statement(n).ok_or("no statement to insert after")?;
                primitives::insert_after(file, stmt, &self.template(j, "with", b)?)
                    .ok_or_else(|| "the statement shares its line".into())
            }),
            EditSpec::AddImport { name, alias, .. } => {
                let module = self.template(j, "module", &none)?;
                let edit = primitives::add_import(file, &module, name.as_deref(), alias.as_deref());
                Ok(self.here(edit.into_iter().collect()))
            }
            EditSpec::RemoveImport { name, .. } => {
                let module = self.template(j, "module", &none)?;
                let Some(name) = name else { return Ok(Vec::new()) };
                Ok(self.here(primitives::remove_import(file, &module, name)))
            }
            EditSpec::CreateFile { .. } => {
                let path = self.template(j, "path", &none)?;
                edit::resolve_in_root(self.project.root(), &path).map_err(|e| e.to_string())?;
                let body = self.template(j, "with", &none)?;
                match current_text(self.project, self.contents, &path) {
                    Some(existing) if existing == body => Ok(Vec::new()),
                    Some(_) => Err(format!("{path} already exists with other content")),
                    None => Ok(vec![FileEdits::create(path, body)]),
                }
            }
            EditSpec::EditFile { .. } => {
                let path = self.template(j, "path", &none)?;
                edit::resolve_in_root(self.project.root(), &path).map_err(|e| e.to_string())?;
                let text = self.template(j, "append", &none)?;
                match current_text(self.project, self.contents, &path) {
                    // Appending what is already there again would break idempotence.
                    Some(existing) if existing.contains(text.trim()) => Ok(Vec::new()),
                    Some(existing) => Ok(vec![FileEdits::edit(path, vec![Edit::insert(existing.len(), text)])]),
                    None => Ok(vec![FileEdits::create(path, text)]),
                }
            }
        }
    }
}
