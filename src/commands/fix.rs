//! `strata fix`: apply fixes (or show them with `--dry-run`, or review them with `--interactive`).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::cli::{FixArgs, GlobalArgs};
use crate::diagnostics;
use crate::discover::Candidate;
use crate::edit::{self, ChangeSet};
use crate::engine::Project;
use crate::fix::{self, Contents, Decision, FixOptions};
use crate::output::{diff, fix_summary, PathStyle};

pub fn run(global: &GlobalArgs, args: &FixArgs) -> anyhow::Result<ExitCode> {
    if args.interactive && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        eprintln!("error: --interactive needs a terminal to ask on; use --dry-run to review the diffs instead");
        return Ok(ExitCode::from(2));
    }
    let project = super::load_project(global, Some(&args.selection))?;
    let color = global.color.enabled_for_stdout();
    let options = FixOptions { unsafe_fixes: args.unsafe_fixes };
    let root = project.root().to_path_buf();
    let mut prompt = |cs: &ChangeSet, contents: &Contents| -> Decision {
        if !args.interactive {
            return Decision::Apply;
        }
        review(&root, cs, contents, color)
    };
    let mut outcome = fix::run(&project, &args.selection.paths, options, &mut prompt)?;
    let style = PathStyle::new(&root);
    let changed = outcome.changed_files();
    let any_change = !changed.is_empty();
    // Diffs as `path`, unified diff text; paths shown from the working directory.
    let diffs: Vec<(String, String)> = if args.dry_run {
        let color = color && !args.json();
        changed
            .iter()
            .map(|(path, old, new)| (style.show(path), diff::unified(&style.show(path), *old, new, color)))
            .collect()
    } else {
        Vec::new()
    };
    if !args.dry_run && any_change {
        let targets: BTreeMap<PathBuf, String> = changed
            .iter()
            .map(|(path, _, new)| Ok((edit::resolve_in_root(&root, path)?, new.to_string())))
            .collect::<Result<_, edit::PathError>>()?;
        if !args.allow_dirty {
            let paths: Vec<PathBuf> = targets.keys().cloned().collect();
            let dirty = crate::git::uncommitted(&root, &paths)?;
            if !dirty.is_empty() {
                bail!(
                    "these files have uncommitted changes: {}\ncommit or stash them first, or pass --allow-dirty",
                    dirty.join(", ")
                );
            }
        }
        edit::write_atomically(&targets).context("nothing was written")?;
    }
    // As `ruff check --fix`: 1 when violations remain after fixing (or would change, with --dry-run),
    // counted by a check of the result (exceptions apply; sites without a fix count too).
    let remaining = remaining_violations(&project, &args.selection.paths, &outcome.contents)?;
    outcome.show_paths(&style);
    if args.json() {
        // stdout is one JSON document: with --dry-run the diffs are inside it.
        let mut document = serde_json::to_value(&outcome).context("cannot encode the summary")?;
        document["remaining"] = remaining.into();
        if args.dry_run {
            let diffs = diffs.iter().map(|(path, diff)| serde_json::json!({ "path": path, "diff": diff })).collect();
            document["diffs"] = serde_json::Value::Array(diffs);
        }
        super::out(serde_json::to_string_pretty(&document).context("cannot encode the summary")? + "\n")?;
    } else {
        for (_, diff) in &diffs {
            super::out(diff)?;
        }
        // stdout carries only what a pipe wants (the patch, or the JSON document): the summary
        // is for the person running it, on stderr, with or without --dry-run.
        crate::progress::say(fix_summary::render(&outcome, args.dry_run).trim_end());
        if remaining > 0 {
            let (s, verb) = if remaining == 1 { ("", "remains") } else { ("s", "remain") };
            crate::progress::say(format!("{remaining} violation{s} {verb}; `strata check` lists them."));
        }
    }
    // A template that failed to render is an error in the configuration: its change set was not applied.
    if !outcome.errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    if outcome.skipped_files.iter().any(|s| s.unreadable) {
        eprintln!("error: some files could not be read (listed above); they were not fixed");
        return Ok(ExitCode::from(2));
    }
    Ok(if (args.dry_run && any_change) || remaining > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Violations left in the fixed project (`contents`: the run's files, written or not).
fn remaining_violations(project: &Project, paths: &[PathBuf], contents: &Contents) -> anyhow::Result<usize> {
    let mut candidates = project.candidates(paths)?;
    let created: Vec<String> =
        contents.keys().filter(|p| !candidates.iter().any(|c| &c.rel_path == *p)).cloned().collect();
    for rel_path in created {
        candidates.push(Candidate { abs_path: project.root().join(&rel_path), rel_path });
    }
    let report = diagnostics::check_with(project, &candidates, contents, &|_| Default::default());
    Ok(report.violations().count())
}

const HELP: &str = "y - apply this change\nn - skip this change\na - apply this and all remaining changes\nq - quit; apply nothing more\n? - show this help\n";

/// Shows one change set as a diff and asks what to do with it.
fn review(root: &std::path::Path, cs: &ChangeSet, contents: &Contents, color: bool) -> Decision {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "\n[{}] {} ({})\n{}", cs.rule, cs.location, cs.applicability.as_str(), cs.description);
    for file in &cs.files {
        let current = contents.get(&file.path).cloned().or_else(|| std::fs::read_to_string(root.join(&file.path)).ok());
        if let Ok(new) = edit::apply(current.as_deref().unwrap_or(""), &file.edits) {
            let old = if file.create { None } else { current.as_deref() };
            let _ = write!(out, "{}", diff::unified(&file.path, old, &new, color));
        }
    }
    let stdin = std::io::stdin();
    loop {
        let _ = write!(out, "Apply this change? [y,n,a,q,?] ");
        let _ = out.flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return Decision::Quit;
        }
        match line.trim() {
            "y" | "Y" => return Decision::Apply,
            "n" | "N" => return Decision::Skip,
            "a" | "A" => return Decision::ApplyAll,
            "q" | "Q" => return Decision::Quit,
            _ => {
                let _ = write!(out, "{HELP}");
            }
        }
    }
}
