//! `strata batch`: migrates every repository of a manifest (or one shard of it), each in its own
//! `strata migrate` process, so that one failing repository is reported and the others go on.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::batch::{self, Repository, Source};
use crate::cli::{BatchArgs, GlobalArgs};
use crate::git::Repo;

/// How one repository of the batch went.
#[derive(Debug, Serialize)]
struct Outcome {
    name: String,
    ok: bool,
    /// `migrate`'s JSON summary when it ran to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    migration: Option<serde_json::Value>,
    /// Why it failed: the last lines of what `migrate` said, or why it could not start.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(global: &GlobalArgs, args: &BatchArgs) -> anyhow::Result<ExitCode> {
    let all = batch::load(&args.manifest)?;
    let repos: Vec<Repository> = all.into_iter().filter(|r| args.shard.is_none_or(|s| s.holds(r))).collect();
    let temporary;
    let workdir = match &args.workdir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temporary = tempfile::Builder::new().prefix("strata-batch-").tempdir()?;
            temporary.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe().context("cannot find the strata executable")?;
    let bars = MultiProgress::with_draw_target(if crate::progress::quiet() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let width = repos.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1).min(repos.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(repo) = repos.get(i) else { break };
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(format!("{:width$}", repo.name));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                let outcome = migrate_one(global, &exe, &workdir, repo, &bar);
                bar.finish_with_message(if outcome.ok { "done" } else { "failed" });
                outcomes.lock().expect("no thread panicked holding the results").push((i, outcome));
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no thread panicked holding the results");
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if args.json {
        super::out(serde_json::to_string_pretty(&outcomes)? + "\n")?;
    } else {
        super::out(table(&outcomes))?;
    }
    if failed > 0 {
        eprintln!("error: {failed} of {} repositories failed (see the table)", outcomes.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn migrate_one(global: &GlobalArgs, exe: &Path, workdir: &Path, repo: &Repository, bar: &ProgressBar) -> Outcome {
    let failed = |error: String| Outcome { name: repo.name.clone(), ok: false, migration: None, error: Some(error) };
    let top: PathBuf = match &repo.source {
        Source::Path(path) => match Repo::discover(path) {
            Ok(_) if path.is_dir() => path.clone(),
            Ok(_) => return failed(format!("{} is not a directory", path.display())),
            Err(e) => return failed(e.to_string()),
        },
        Source::Url(url) => {
            bar.set_message(format!("cloning {url}"));
            let into = workdir.join(&repo.name);
            if into.exists() {
                return failed(format!("{} exists; remove it or choose another --workdir", into.display()));
            }
            if let Err(e) = Repo::clone(url, &into) {
                return failed(format!("cannot clone {url}: {e}"));
            }
            into
        }
    };
    let dir = repo.options.dir.as_ref().map_or(top.clone(), |d| top.join(d));
    bar.set_message("migrating");
    let mut command = Command::new(exe);
    command.current_dir(&dir);
    // The process runs in the repository: paths given to batch are made absolute first.
    let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    if let Some(config) = &global.config {
        command.arg("--config").arg(absolute(config));
    }
    for recipes in &global.recipe_dirs {
        command.arg("--recipes").arg(absolute(recipes));
    }
    command.args(repo.options.migrate_args()).args(["--format", "json"]);
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => return failed(format!("cannot run {}: {e}", exe.display())),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
        return failed(tail.join("\n"));
    }
    match serde_json::from_slice::<serde_json::Value>(&output.stdout) {
        Ok(summary) => Outcome { name: repo.name.clone(), ok: true, migration: Some(summary), error: None },
        Err(e) => failed(format!("migrate's summary is not JSON ({e})")),
    }
}

/// The summary table: one line per repository.
fn table(outcomes: &[Outcome]) -> String {
    let mut rows =
        vec![["repository", "result", "branch", "commits", "change sets", "manual", "remaining"].map(String::from)];
    for outcome in outcomes {
        let m = outcome.migration.as_ref();
        let field = |key: &str| {
            m.and_then(|m| m.get(key)).map_or(String::new(), |v| v.as_str().map_or(v.to_string(), String::from))
        };
        let result = match (&outcome.error, m.and_then(|m| m.get("pushed")).and_then(|p| p.as_bool())) {
            (Some(_), _) => "FAILED".to_string(),
            (None, Some(true)) => "pushed".to_string(),
            (None, _) => "ok".to_string(),
        };
        rows.push([
            outcome.name.clone(),
            result,
            field("branch"),
            field("commits"),
            field("change_sets"),
            field("manual"),
            field("remaining"),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:w$}")).collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    for outcome in outcomes {
        if let Some(error) = &outcome.error {
            out += &format!("\n{} failed:\n", outcome.name);
            for line in error.lines() {
                out += &format!("  {line}\n");
            }
        }
    }
    out
}
