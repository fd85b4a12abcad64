//! `strata report`: the evidence of a migration (from a base, to a migrated head or to what
//! migrating the base would give), as Markdown, JSON or one HTML page.

use std::process::ExitCode;

use anyhow::Context;

use super::migrate::Workspace;
use crate::cli::{GlobalArgs, ReportArgs, ReportFormat};
use crate::migrate::{self, CommitPer};
use crate::output::evidence::{Evidence, FileStatus, FileTouched};

pub fn run(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let evidence = evidence(global, args)?;
    let rendered = match args.format {
        ReportFormat::Md => crate::output::report::markdown(&evidence),
        ReportFormat::Json => crate::output::report::json(&evidence),
        ReportFormat::Html => crate::output::report::html(&evidence),
    };
    match &args.output {
        Some(path) => std::fs::write(path, rendered).with_context(|| format!("cannot write {}", path.display()))?,
        None => super::out(rendered)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn evidence(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<Evidence> {
    let workspace = Workspace::open(global, &args.selection, &args.base)?;
    let plan = workspace.plan(args.unsafe_fixes, CommitPer::Recipe)?;
    let mut evidence = plan.evidence;
    let short = workspace.checkout.revision.commit[..10].to_string();
    let Some(head) = &args.head else {
        evidence.commands = super::migrate::reproduce(&args.selection, &short, "fix --dry-run");
        return Ok(evidence);
    };
    // The head's own tree is the truth for the counts after and the files touched; the change
    // sets and manual sites are those migrating the base gives.
    let theirs = Workspace::open(global, &args.selection, head)?;
    let after = migrate::check(&theirs.project, &theirs.paths, &Default::default())?;
    for row in &mut evidence.rules {
        row.after = after.counts().get(&row.rule).map_or(0, |c| c.violations);
    }
    evidence.exceptions = migrate::exception_rows(&after);
    evidence.files = workspace
        .repo
        .diff_stat(workspace.checkout.commit, theirs.checkout.commit)?
        .into_iter()
        .map(|(path, status, added_lines, removed_lines)| FileTouched {
            path,
            status: match status {
                'A' => FileStatus::Added,
                'D' => FileStatus::Deleted,
                _ => FileStatus::Modified,
            },
            added_lines,
            removed_lines,
        })
        .collect();
    evidence.head = Some(theirs.checkout.revision.clone());
    evidence.commands =
        super::migrate::reproduce(&args.selection, &short, &format!("report --base {short} --head {head}"));
    Ok(evidence)
}
