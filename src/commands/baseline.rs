//! `strata baseline`: accept the current violations, so that `check` fails only on new ones.
//!
//! Writes one counted exception per (rule, file) into the exceptions file: `count = N` excepts at
//! most N violations of the rule in that file, wherever they move. Entries baseline manages are the
//! counted ones whose path is a plain file path; every other entry, and every comment, is kept.
//! Re-running updates the counts, drops the entries whose violations are gone and adds new ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use toml_edit::{DocumentMut, Item, Table};

use crate::cli::{BaselineArgs, GlobalArgs};
use crate::diagnostics::{self, SUPPRESSION_RULE};
use crate::exceptions::{self, exact_glob, literal_path, Exceptions};

const HEADER: &str = "\
# Justified exceptions, read by `strata check` (README: \"Suppressions and baseline\").
# Entries with `count` were written by `strata baseline`: each excepts at most that many
# violations of its rule in its file; run `strata baseline` again to update them.
";

/// What a run did to the entries it manages.
#[derive(Debug, Default)]
struct Changes {
    added: usize,
    updated: usize,
    removed: usize,
    unchanged: usize,
}

pub fn run(global: &GlobalArgs, args: &BaselineArgs) -> anyhow::Result<ExitCode> {
    let owner = args.owner.trim();
    if owner.is_empty() {
        bail!("--owner is empty: name who answers for the accepted violations");
    }
    let today = exceptions::today();
    let reason = match &args.reason {
        Some(reason) if reason.trim().is_empty() => bail!("--reason is empty: say why the violations are accepted"),
        Some(reason) => reason.trim().to_string(),
        None => format!("baseline: existing violation, accepted on {:04}-{:02}-{:02}", today.0, today.1, today.2),
    };
    let mut project = super::load_project(global, Some(&args.selection))?;
    let read_by_check = project.config.exceptions_path();
    let target = args.exceptions.clone().unwrap_or_else(|| read_by_check.clone());
    let original = match std::fs::read_to_string(&target) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", target.display())),
    };
    // The violations are counted beside the target file's other exceptions: the counted per-file
    // entries are what this run recomputes, so they do not apply.
    let mut current = Exceptions::parse(&original, &target, today)?;
    current.items.retain(|e| !(e.entry.count.is_some() && literal_path(&e.entry.path).is_some()));
    project.exceptions = current;

    let candidates = project.candidates(&args.selection.paths)?;
    let report = diagnostics::check(&project, &candidates, &|_| diagnostics::Hints::new());
    for skipped in &report.skipped {
        crate::progress::say(format!(
            "warning: skipped {}: {} (its violations are not baselined)",
            skipped.path, skipped.reason
        ));
    }
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut invalid = 0;
    for finding in report.violations() {
        if finding.rule == SUPPRESSION_RULE {
            invalid += 1;
        } else {
            *counts.entry((finding.path.clone(), finding.rule.clone())).or_default() += 1;
        }
    }
    let selected: BTreeSet<&str> = project.rules.iter().map(|r| r.id()).collect();
    let checked: BTreeSet<&str> = candidates.iter().map(|c| c.rel_path.as_str()).collect();
    let root = project.root().to_path_buf();
    // Whether this run looked for the rule in the file (a deleted file has nothing left to accept).
    let in_run =
        |rule: &str, path: &str| selected.contains(rule) && (checked.contains(path) || !root.join(path).exists());

    let mut document: DocumentMut =
        original.parse().with_context(|| format!("cannot parse {} as TOML", target.display()))?;
    let changes = update(&mut document, &counts, &in_run, &reason, owner)
        .map_err(|e| anyhow::anyhow!("{}: {e}", target.display()))?;
    let mut text = document.to_string();
    if original.trim().is_empty() && !text.is_empty() {
        text = format!("{HEADER}\n{}", text.trim_start());
    }
    // What is written must be what `check` reads back.
    Exceptions::parse(&text, &target, today)
        .context("the updated exceptions file would not load; nothing was written")?;

    let shown = display(&target, &root);
    let violations: usize = counts.values().sum();
    if text.is_empty() && original.is_empty() {
        println!("No violations to accept; {shown} not written.");
    } else if text == original {
        println!("{shown} is up to date: {violations} violation(s) accepted in {} entries.", counts.len());
    } else {
        crate::edit::write_atomically(&BTreeMap::from([(target.clone(), text)]))
            .with_context(|| format!("cannot write {shown}; nothing was written"))?;
        let Changes { added, updated, removed, unchanged } = changes;
        println!(
            "Accepted {violations} violation(s) in {} entries of {shown}: {added} added, {updated} updated, {removed} removed, {unchanged} unchanged.",
            counts.len()
        );
    }
    if invalid > 0 {
        crate::progress::say(format!("warning: {invalid} invalid suppression(s) ({SUPPRESSION_RULE}) cannot be accepted: fix them (`strata check` lists them)"
        ));
    }
    if !same_file(&target, &read_by_check) {
        eprintln!(
            "note: `strata check` reads {}; set `exceptions = \"{shown}\"` in strata.toml to use this file",
            display(&read_by_check, &root)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Brings the document's counted entries in line with `counts` ((path, rule) → violations):
/// updates them in place (their owner, reason and comments kept), removes the ones whose
/// violations are gone (only for rules and files this run checked) and duplicates, and appends an
/// entry for each new (rule, file).
fn update(
    document: &mut DocumentMut,
    counts: &BTreeMap<(String, String), usize>,
    in_run: &dyn Fn(&str, &str) -> bool,
    reason: &str,
    owner: &str,
) -> Result<Changes, String> {
    let mut changes = Changes::default();
    let tables = document
        .entry("exception")
        .or_insert_with(|| Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or("`exception` is not a list of [[exception]] tables; write each entry as an [[exception]] table")?;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut keep: Vec<bool> = Vec::new();
    for table in tables.iter_mut() {
        let text = |key: &str| table.get(key).and_then(Item::as_str).unwrap_or_default().to_string();
        let (rule, glob) = (text("rule"), text("path"));
        let managed = table.contains_key("count").then(|| literal_path(&glob)).flatten();
        let Some(path) = managed else {
            keep.push(true);
            continue;
        };
        let key = (path, rule);
        let run = in_run(&key.1, &key.0);
        if !seen.insert(key.clone()) {
            // A second entry for the same rule and file: the first one holds the count.
            keep.push(!run);
            changes.removed += usize::from(run);
            continue;
        }
        match counts.get(&key) {
            Some(&count) => {
                keep.push(true);
                if table.get("count").and_then(Item::as_integer) == Some(count as i64) {
                    changes.unchanged += 1;
                } else {
                    set_count(table, count);
                    changes.updated += 1;
                }
            }
            None if run => {
                keep.push(false);
                changes.removed += 1;
            }
            None => {
                keep.push(true);
                changes.unchanged += 1;
            }
        }
    }
    let mut flags = keep.into_iter();
    tables.retain(|_| flags.next().unwrap_or(true));
    for ((path, rule), &count) in counts {
        if seen.contains(&(path.clone(), rule.clone())) {
            continue;
        }
        let mut table = Table::new();
        table["rule"] = toml_edit::value(rule.as_str());
        table["path"] = toml_edit::value(exact_glob(path));
        table["count"] = toml_edit::value(count as i64);
        table["reason"] = toml_edit::value(reason);
        table["owner"] = toml_edit::value(owner);
        if !tables.is_empty() {
            table.decor_mut().set_prefix("\n");
        }
        tables.push(table);
        changes.added += 1;
    }
    if tables.is_empty() {
        document.remove("exception");
    }
    Ok(changes)
}

/// Sets `count`, keeping the comment after it.
fn set_count(table: &mut Table, count: usize) {
    match table.get_mut("count").and_then(Item::as_value_mut) {
        Some(value) => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(count as i64);
            *value.decor_mut() = decor;
        }
        None => table["count"] = toml_edit::value(count as i64),
    }
}

/// A path as the user sees it: relative to the project root when it is inside.
fn display(path: &Path, root: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let path = absolute(path);
    path.strip_prefix(absolute(root)).map(Path::to_path_buf).unwrap_or(path).display().to_string()
}

fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> PathBuf {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        match (absolute.parent().and_then(|d| std::fs::canonicalize(d).ok()), absolute.file_name()) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => absolute,
        }
    };
    resolve(a) == resolve(b)
}
