//! `strata check`: report violations in the chosen format.

use std::process::ExitCode;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::diagnostics;
use crate::fix::{self, sources::Sources, Contents};
use crate::output::{github, json, sarif, text, Format, PathStyle};

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(global, Some(&args.selection))?;
    let (candidates, unreadable) = project.walk(&args.selection.paths)?;
    if args.selection.paths.is_empty() {
        let layers = &project.config.layers;
        for layer in layers.unmatched(candidates.iter().map(|c| c.rel_path.as_str())) {
            crate::progress::say(format!(
                "warning: layer `{layer}` matches no file under {}; check its globs in {}",
                project.root().display(),
                project.config.source.as_ref().map_or("the built-in layout".to_string(), |p| p.display().to_string())
            ));
        }
    }
    let contents = Contents::new();
    let sources = Sources::new(&project, &contents);
    let mut report =
        diagnostics::check(&project, &candidates, &|analysed| fix::plan_hints(analysed, &sources, args.plan));
    report.skipped.extend(unreadable);
    report.show_paths(&PathStyle::new(project.root()));
    let color = global.color.enabled_for_stdout();
    let rendered = match args.format {
        Format::Text => text::render(&report, color),
        Format::Json => json::render(&report),
        Format::Sarif => sarif::render(&report, &project.rules),
        Format::Github => github::render(&report),
    };
    super::out(&rendered)?;
    for skipped in &report.skipped {
        crate::progress::say(format!("warning: skipped {}: {}", skipped.path, skipped.reason));
    }
    if args.statistics {
        let table = text::statistics(&report);
        // Machine formats keep stdout parseable: the table goes to stderr there.
        if args.format == Format::Text {
            super::out(format!("\n{table}"))?;
        } else {
            eprint!("{table}");
        }
    }
    // A file that could not be read leaves the result incomplete: that is an error, not a pass.
    if report.skipped.iter().any(|s| s.unreadable) {
        eprintln!("error: some files could not be read (listed above); the check is incomplete");
        return Ok(ExitCode::from(2));
    }
    let failed = report.violations().next().is_some() || (args.strict && report.has_stale_or_expired());
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
