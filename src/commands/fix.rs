//! `strata fix`: apply fixes (or show them with `--dry-run`, or review them with `--interactive`).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::cli::{FixArgs, GlobalArgs};
use crate::edit::{self, ChangeSet};
use crate::fix::{self, Contents, Decision, FixOptions};
use crate::output::{diff, fix_summary};

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
    let outcome = fix::run(&project, &args.selection.paths, options, &mut prompt)?;
    let changed = outcome.changed_files();
    if args.dry_run {
        // With --json stdout is one JSON document: the diffs go inside it.
        if !args.json {
            for (path, old, new) in &changed {
                print!("{}", diff::unified(path, *old, new, color));
            }
        }
    } else if !changed.is_empty() {
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
    if args.json {
        let mut document = serde_json::to_value(&outcome).context("cannot encode the summary")?;
        if args.dry_run {
            let diffs: Vec<serde_json::Value> = changed
                .iter()
                .map(|(path, old, new)| serde_json::json!({ "path": path, "diff": diff::unified(path, *old, new, false) }))
                .collect();
            document["diffs"] = serde_json::Value::Array(diffs);
        }
        println!("{}", serde_json::to_string_pretty(&document).context("cannot encode the summary")?);
    } else {
        let summary = fix_summary::render(&outcome, args.dry_run);
        // With --dry-run stdout is the patch; the summary goes beside it on stderr.
        if args.dry_run {
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
    }
    // A template that failed to render is an error in the configuration: its change set was not applied.
    if !outcome.errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(if args.dry_run && !changed.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
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
