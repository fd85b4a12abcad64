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
use crate::output::evidence::{ManualSite, Revision};
use crate::verify::Verifier;

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
    /// The working directory's path from the repository's top.
    pub workdir: PathBuf,
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
        let workdir = cwd.strip_prefix(&top).map(Path::to_path_buf).unwrap_or_default();
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
        Ok(Workspace { repo, checkout, project, paths, prefix, workdir })
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
    let verification = match &args.verify {
        Some(command) => Some(verify(&workspace, &mut plan, args, command)?),
        None => None,
    };
    let mut summary = serde_json::json!({
        "branch": args.branch,
        "base": workspace.checkout.revision.commit,
        "head": previous.map(|o| o.to_string()),
        "commits": plan.commits.len(),
        "change_sets": plan.kept().len(),
        "manual": plan.evidence.manual.len(),
        "remaining": plan.remaining,
        "updated": false,
        "pushed": false,
    });
    if let Some(outcome) = &verification {
        let dropped: Vec<serde_json::Value> = outcome
            .dropped
            .iter()
            .map(|d| serde_json::json!({ "change_set": d.culprit, "with": d.with, "test": d.failure.test }))
            .collect();
        summary["verification"] = serde_json::json!({
            "runs": outcome.runs,
            "verified": outcome.verified,
            "flaky": outcome.flaky.as_ref().map(|f| &f.test),
            "dropped": dropped,
        });
    }
    if plan.commits.is_empty() {
        say(format!("nothing to fix on {} ({short}); branch `{}` left as it was", args.base, args.branch));
        return finish(json, &summary);
    }
    let who = git::signature(repo, args.author.as_deref())?;
    // The evidence goes with the branch: in the last commit's body, or in the file asked for.
    plan.evidence.head = Some(Revision { name: args.branch.clone(), commit: String::new() });
    let report = crate::output::report::markdown(&plan.evidence);
    let in_body = if args.report.is_some() { None } else { Some(report.as_str()) };
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
        let applied = plan.kept().len();
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
    // The files come after the branch, so a failed rebuild leaves no report of a branch that is not
    // there; written afterwards, they can name the branch's head.
    let head_id = summary["head"].as_str().unwrap_or_default().to_string();
    plan.evidence.head = Some(Revision { name: args.branch.clone(), commit: head_id });
    let report = crate::output::report::markdown(&plan.evidence);
    if let Some(path) = &args.report {
        std::fs::write(path, &report).with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    if let Some(path) = &args.pr_body_file {
        std::fs::write(path, &report).with_context(|| format!("cannot write the body to {}", path.display()))?;
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
    // A flaky verify command proves nothing: the branch is written, and the run says so by its code.
    if verification.is_some_and(|v| v.flaky.is_some()) {
        finish(json, &summary)?;
        return Ok(ExitCode::from(1));
    }
    finish(json, &summary)
}

/// Runs `--verify` on the plan: drops the change sets the command fails with, and writes what it
/// found into the evidence (per change set, the manual sites, and how the migration was verified).
fn verify(
    workspace: &Workspace,
    plan: &mut Plan,
    args: &MigrateArgs,
    command: &str,
) -> anyhow::Result<crate::verify::Outcome> {
    let bar = crate::progress::bar(None, "{spinner} verifying with `{prefix}`: {msg}", true);
    bar.set_prefix(command.to_string());
    let mut verifier = Verifier::new(
        &workspace.repo,
        workspace.checkout.commit,
        workspace.prefix.clone(),
        workspace.workdir.clone(),
        command.to_string(),
    );
    verifier.timeout = std::time::Duration::from_secs(args.verify_timeout);
    verifier.jobs = args.jobs.max(1);
    verifier.on_run = Box::new(|runs| bar.set_message(format!("{runs} runs")));
    let outcome = crate::verify::verify(plan, &workspace.project, &workspace.paths, &verifier)?;
    bar.finish_and_clear();
    let kept = plan.kept();
    let dropped_count = plan.dropped.len();
    let evidence = &mut plan.evidence;
    for dropped in &outcome.dropped {
        let culprit = evidence.change_sets.iter().find(|cs| cs.id == dropped.culprit).cloned();
        for id in std::iter::once(dropped.culprit).chain(dropped.with.iter().copied()) {
            let Some(cs) = evidence.change_sets.iter_mut().find(|cs| cs.id == id) else { continue };
            let why = if id == dropped.culprit {
                format!("dropped: `{command}` fails with it ({})", dropped.failure.test)
            } else {
                format!("dropped with change set {}, which it depends on", dropped.culprit)
            };
            cs.verification = Some(why.clone());
            evidence.manual.push(ManualSite {
                rule: cs.rule.clone(),
                location: cs.location.clone(),
                reason: format!("{why}; its last output:\n{}", dropped.failure.tail),
            });
        }
        if let Some(cs) = culprit {
            crate::progress::say(format!(
                "verify: dropped change set {} ({} at {}): `{command}` fails with it ({}){}",
                cs.id,
                cs.rule,
                cs.location,
                dropped.failure.test,
                if dropped.with.is_empty() {
                    String::new()
                } else {
                    format!(", and the {} that depend on it", dropped.with.len())
                }
            ));
        }
    }
    for cs in &mut evidence.change_sets {
        if cs.verification.is_none() {
            let verified = outcome.verified && kept.contains(&cs.id);
            cs.verification = Some(if verified { "verified" } else { "not verified" }.to_string());
        }
    }
    let line = match &outcome.flaky {
        Some(failure) => format!(
            "`{command}` is flaky: it failed ({}) and then passed on the same tree, so it cannot judge the \
             change sets; none was dropped and {} are not verified ({} runs)",
            failure.test,
            kept.len(),
            outcome.runs
        ),
        None => format!(
            "verified with `{command}`: it passes on the base and on the {} change sets kept; {} dropped; {} runs",
            kept.len(),
            dropped_count,
            outcome.runs
        ),
    };
    crate::progress::say(format!("verify: {line}"));
    evidence.verification = Some(line);
    Ok(outcome)
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
