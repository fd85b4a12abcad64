//! `strata recipes test`: runs each recipe's own examples (match count and fixed code) in a scratch project.

use std::process::ExitCode;

use anyhow::Context;

use crate::diagnostics;
use crate::engine::{Project, ProjectOptions};
use crate::fix::{self, Decision, FixOptions};
use crate::recipe::Origin;

/// The outcome of one recipe example.
pub struct CaseResult {
    pub recipe: String,
    pub name: String,
    pub failure: Option<String>,
}

/// Runs the examples of the given recipes (all when empty) and reports each.
pub fn run(project: &Project, ids: &[String]) -> anyhow::Result<ExitCode> {
    let results = run_cases(project, ids)?;
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    for r in &results {
        match &r.failure {
            None => println!("ok      {} :: {}", r.recipe, r.name),
            Some(why) => println!("FAILED  {} :: {}\n{why}", r.recipe, r.name),
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The examples of the given recipes (all when empty; a composite stands for its parts). An
/// unknown id is an error, as with `--select`.
pub fn run_cases(project: &Project, ids: &[String]) -> anyhow::Result<Vec<CaseResult>> {
    // Ids as `--select` takes them (a prefix names every id it starts), with the same error.
    let ids = &crate::engine::resolve_selectors("recipes test", ids, &project.recipes)?;
    let chosen: Vec<&str> = crate::recipe::expand(ids, &project.recipes)?
        .into_iter()
        .map(|r| r.recipe.id.as_str())
        .chain(ids.iter().map(String::as_str))
        .collect();
    let mut results = Vec::new();
    for loaded in &project.recipes {
        let recipe = &loaded.recipe;
        if !ids.is_empty() && !chosen.contains(&recipe.id.as_str()) {
            continue;
        }
        for case in &recipe.tests {
            let dir = tempfile::tempdir().context("cannot create a scratch directory")?;
            let path = crate::edit::resolve_in_root(dir.path(), &case.path)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let code = case.code.trim_start_matches('\n');
            std::fs::write(&path, code)?;
            // The recipe under test, wherever it came from (a project's replaces a shipped one).
            let recipe_dirs = match &loaded.origin {
                Origin::Project(file) => file.parent().map(|d| vec![d.to_path_buf()]).unwrap_or_default(),
                Origin::Shipped(_) => Vec::new(),
            };
            let options = ProjectOptions {
                config: project.config.source.clone(),
                start: dir.path().to_path_buf(),
                default_root: dir.path().to_path_buf(),
                recipe_dirs,
                select: vec![recipe.id.clone()],
                ignore: Vec::new(),
            };
            let mut scratch = Project::load(&options)?;
            scratch.config.root = dir.path().to_path_buf();
            scratch.exceptions = Default::default();
            // A case is a snippet placed by its path: a layer's `requires` would ask every L2
            // snippet to create a router first.
            scratch.ignore_layer_requirements();
            let candidates = scratch.candidates(&[])?;
            let report = diagnostics::check(&scratch, &candidates, &|_| diagnostics::Hints::new());
            let found = report.findings.len();
            let mut failure =
                (found != case.matches).then(|| format!("  expected {} matches, found {found}", case.matches));
            if let (None, Some(expected)) = (&failure, &case.fixed) {
                let outcome = fix::run(&scratch, &[], FixOptions { unsafe_fixes: true }, &mut |_, _| Decision::Apply)?;
                let actual = outcome.contents.get(&case.path).cloned().unwrap_or_else(|| code.to_string());
                let expected = expected.trim_start_matches('\n');
                if actual != expected {
                    failure = Some(format!(
                        "  fixed code differs:\n{}",
                        crate::output::diff::unified(&case.path, Some(expected), &actual, false)
                    ));
                }
            }
            results.push(CaseResult { recipe: recipe.id.clone(), name: case.name.clone(), failure });
        }
    }
    Ok(results)
}
