//! `strata migrate`: fixes a commit's tree into commits on a branch (objects and refs only), and
//! optionally pushes it and opens its pull request.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::cli::{GlobalArgs, MigrateArgs, Selection};
use crate::engine::{Project, ProjectOptions};
use crate::fix::FixOptions;
use crate::forge::{self, Forge, PrOutcome, Token};
use crate::git::{self, Repo};
use crate::migrate::{self, Checkout, Plan};

/// A base commit checked out for the engine, the project loaded from it, and where the project
/// root is from the repository's top.
pub struct Workspace {
    pub repo: Repo,
    pub checkout: Checkout,
    pub project: Project,
    /// The selection's paths inside the checkout.
    pub paths: Vec<PathBuf>,
    /// The project root's path from the repository's top (`""` or `dir/`).
    pub prefix: String,
}

impl Workspace {
    /// Reads `rev` from the repository the working directory is in, and loads the project the
    /// working directory (or the selection's first path) is in, as `check` would there.
    pub fn open(global: &GlobalArgs, selection: &Selection, rev: &str) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let repo = Repo::discover(&cwd)?;
        let Some(top) = repo.workdir() else {
            bail!("{} is a bare repository; run strata migrate in a clone with a working tree", cwd.display())
        };
        let checkout = Checkout::new(&repo, rev)?;
        // A path of the working tree names the same path in the checkout.
        let inside = |path: &Path| -> anyhow::Result<PathBuf> {
            let absolute = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
            let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
            let rel = absolute
                .strip_prefix(&top)
                .with_context(|| format!("{} is outside the repository at {}", path.display(), top.display()))?;
            Ok(checkout.path().join(rel))
        };
        let paths: Vec<PathBuf> = selection.paths.iter().map(|p| inside(p)).collect::<anyhow::Result<_>>()?;
        // A configuration inside the repository is read as the base commit has it.
        let config = global.config.as_ref().map(|config| inside(config).unwrap_or_else(|_| config.clone()));
        let start = paths.first().cloned().unwrap_or(inside(&cwd)?);
        let options = ProjectOptions {
            config,
            start,
            default_root: checkout.path().to_path_buf(),
            recipe_dirs: global.recipe_dirs.clone(),
            select: selection.select.clone(),
            ignore: selection.ignore.clone(),
        };
        let project = Project::load(&options)?;
        let root = std::fs::canonicalize(project.root()).unwrap_or_else(|_| project.root().to_path_buf());
        let export = std::fs::canonicalize(checkout.path()).unwrap_or_else(|_| checkout.path().to_path_buf());
        let prefix = match root.strip_prefix(&export) {
            Ok(rel) if rel.as_os_str().is_empty() => String::new(),
            Ok(rel) => format!("{}/", rel.display()),
            Err(_) => bail!("the configuration's project root {} is outside the repository", root.display()),
        };
        Ok(Workspace { repo, checkout, project, paths, prefix })
    }

    pub fn plan(&self, unsafe_fixes: bool, commit_per: migrate::CommitPer) -> anyhow::Result<Plan> {
        let options = FixOptions { unsafe_fixes };
        let plan =
            migrate::plan(&self.project, &self.paths, &self.checkout.revision, &self.prefix, options, commit_per)?;
        // A template that failed to render is an error in the configuration: nothing is written.
        if let Some(error) = plan.outcome.errors.first() {
            bail!("{}: {}\nnothing was written", error.change_set.location, error.why);
        }
        Ok(plan)
    }
}

/// The commands that reproduce a migration.
pub fn reproduce(selection: &Selection, base: &str, tail: &str) -> Vec<String> {
    let mut flags = String::new();
    if !selection.select.is_empty() {
        flags += &format!(" --select {}", selection.select.join(","));
    }
    if !selection.ignore.is_empty() {
        flags += &format!(" --ignore {}", selection.ignore.join(","));
    }
    for path in &selection.paths {
        flags += &format!(" {}", path.display());
    }
    vec![format!("git checkout {base}"), format!("strata check{flags}"), format!("strata {tail}{flags}")]
}

pub fn run(global: &GlobalArgs, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let json = args.format == crate::cli::FixFormat::Json;
    let say = |text: String| {
        if !crate::progress::quiet() && !json {
            eprintln!("{text}");
        }
    };
    let workspace = Workspace::open(global, &args.selection, &args.base)?;
    let repo = &workspace.repo;
    let base = workspace.checkout.commit;
    let existing = repo.branch(&args.branch);
    // With --push, the remote's branch (as last fetched) counts too: a bot's fresh clone has no
    // local branch, and must neither push over someone's commits nor rewrite an unchanged branch.
    let tracking = args.push.as_ref().and_then(|remote| repo.remote_branch(remote, &args.branch));
    let previous = existing.or(tracking);
    if previous.is_some() && !args.update {
        let which =
            if existing.is_some() { String::new() } else { format!(" on {}", args.push.as_deref().unwrap_or("")) };
        bail!(
            "branch `{}` exists{which}; pass --update to rebuild it on {}, or name another --branch",
            args.branch,
            args.base
        );
    }
    if !args.force {
        for head in [existing, tracking].into_iter().flatten() {
            let foreign = migrate::foreign_commits(repo, base, head)?;
            if !foreign.is_empty() {
                bail!(
                    "branch `{}` has commits strata did not write, which --update would drop:\n  {}\n\
                     it was left alone; move them elsewhere first, or pass --force to drop them",
                    args.branch,
                    foreign.join("\n  ")
                );
            }
        }
    }
    let mut plan = workspace.plan(args.unsafe_fixes, args.commit_per)?;
    let short = &workspace.checkout.revision.commit[..10];
    plan.evidence.commands = reproduce(
        &args.selection,
        short,
        &format!("migrate --branch {} --commit-per {}", args.branch, commit_per_name(args.commit_per)),
    );
    let mut summary = serde_json::json!({
        "branch": args.branch,
        "base": workspace.checkout.revision.commit,
        "head": previous.map(|o| o.to_string()),
        "commits": plan.commits.len(),
        "change_sets": plan.evidence.change_sets.len(),
        "manual": plan.evidence.manual.len(),
        "remaining": plan.remaining,
        "updated": false,
        "pushed": false,
    });
    if plan.commits.is_empty() {
        say(format!("nothing to fix on {} ({short}); branch `{}` left as it was", args.base, args.branch));
        return finish(json, &summary);
    }
    let who = git::signature(repo, args.author.as_deref())?;
    // The evidence goes with the branch: in the last commit's body, or in the file asked for.
    let report = crate::output::report::markdown(&plan.evidence);
    let in_body = match &args.report {
        Some(path) => {
            std::fs::write(path, &report).with_context(|| format!("cannot write the report to {}", path.display()))?;
            None
        }
        None => Some(report.as_str()),
    };
    if let Some(path) = &args.pr_body_file {
        std::fs::write(path, &report).with_context(|| format!("cannot write the body to {}", path.display()))?;
    }
    let messages = migrate::messages(&workspace.project, &plan, in_body)?;
    let head = migrate::write(repo, base, &plan.commits, &messages, &who)?;
    // A rebuild that gives the same tree on the same base keeps the branch (and its pull request) as it is.
    let unchanged = previous.filter(|&old| {
        repo.same_tree(old, head).unwrap_or(false)
            && repo.message(old).ok().and_then(|m| migrate::built_on(&m)) == Some(base.to_string())
    });
    if let Some(old) = unchanged {
        if existing.is_none() {
            repo.set_branch(&args.branch, old, None, &format!("strata migrate from {short}"))?;
        }
        summary["head"] = old.to_string().into();
        say(format!("branch `{}` is up to date with {} ({short})", args.branch, args.base));
    } else {
        repo.set_branch(&args.branch, head, existing, &format!("strata migrate from {short}"))?;
        summary["head"] = head.to_string().into();
        summary["updated"] = true.into();
        let applied = plan.evidence.change_sets.len();
        say(format!(
            "branch `{}`: {} commit{} on {} ({short}), {applied} change set{}; {} site{} left for a person; {} violation{} remain",
            args.branch,
            plan.commits.len(),
            plural(plan.commits.len()),
            args.base,
            plural(applied),
            plan.evidence.manual.len(),
            plural(plan.evidence.manual.len()),
            plan.remaining,
            plural(plan.remaining),
        ));
    }
    if let Some(remote) = &args.push {
        match repo.push(remote, &args.branch, args.force)? {
            git::Pushed::Already(at) => {
                say(format!("`{}` on {remote} is already at {}", args.branch, &at.to_string()[..10]))
            }
            git::Pushed::Moved(at) => {
                say(format!("pushed `{}` to {remote} ({})", args.branch, &at.to_string()[..10]));
                summary["pushed"] = true.into();
            }
        }
    }
    if args.pr {
        let remote = args.push.as_deref().unwrap_or("origin");
        let title = migrate::pr_title(&workspace.project, &plan, &args.branch)?;
        let outcome = pull_request(repo, args, remote, &title, &report)?;
        let (action, number, url) = match &outcome {
            PrOutcome::Created { number, url } => {
                say(format!("opened pull request #{number}: {url}"));
                ("created", number, url)
            }
            PrOutcome::Updated { number, url } => {
                say(format!("updated pull request #{number}: {url}"));
                ("updated", number, url)
            }
            PrOutcome::LeftAlone { number, url, why } => {
                say(format!("left pull request #{number} alone: {why} ({url})"));
                ("left alone", number, url)
            }
        };
        summary["pull_request"] = serde_json::json!({ "action": action, "number": number, "url": url });
    }
    finish(json, &summary)
}

/// Opens or updates the pull request of the pushed branch. A failure says the branch is pushed
/// and how to retry (the forge's errors do).
fn pull_request(repo: &Repo, args: &MigrateArgs, remote: &str, title: &str, body: &str) -> anyhow::Result<PrOutcome> {
    let (owner, name) = match &args.pr_repo {
        Some(full) => full
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .map(|(o, n)| (o.to_string(), n.to_string()))
            .with_context(|| format!("--pr-repo wants OWNER/NAME, not `{full}`"))?,
        None => {
            let url = repo.remote_url(remote)?;
            forge::parse_remote_url(&url).with_context(|| {
                format!("cannot tell the forge's OWNER/NAME from {remote}'s URL {url}; pass --pr-repo OWNER/NAME")
            })?
        }
    };
    let base = match &args.pr_base {
        Some(base) => base.clone(),
        None => repo.branch_named(&args.base, remote).with_context(|| {
            format!("the base `{}` is not a branch; pass --pr-base NAME for the pull request to merge into", args.base)
        })?,
    };
    let forge = Forge::new(&args.api_url, &owner, &name, Token::from_env()?);
    Ok(forge.open_or_update(&args.branch, &base, title, body, &migrate::is_own)?)
}

fn finish(json: bool, summary: &serde_json::Value) -> anyhow::Result<ExitCode> {
    if json {
        super::out(serde_json::to_string_pretty(summary)? + "\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn commit_per_name(per: migrate::CommitPer) -> &'static str {
    match per {
        migrate::CommitPer::Recipe => "recipe",
        migrate::CommitPer::ChangeSet => "change-set",
        migrate::CommitPer::All => "all",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
