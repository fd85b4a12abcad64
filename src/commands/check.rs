//! `strata check`: report violations in the chosen format.

use std::process::ExitCode;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::diagnostics;
use crate::fix::{self, sources::Sources, Contents};
use crate::output::{github, json, sarif, text, Format};

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(global, Some(&args.selection))?;
    let candidates = project.candidates(&args.selection.paths)?;
    let contents = Contents::new();
    let sources = Sources::new(&project, &contents);
    let report = diagnostics::check(&project, &candidates, &|analysed| fix::plan_hints(analysed, &sources, args.plan));
    let color = global.color.enabled_for_stdout();
    let rendered = match args.format {
        Format::Text => text::render(&report, color),
        Format::Json => json::render(&report),
        Format::Sarif => sarif::render(&report, &project.rules),
        Format::Github => github::render(&report),
    };
    print!("{rendered}");
    if args.format != Format::Text {
        for skipped in &report.skipped {
            eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
        }
    }
    if args.statistics {
        let table = text::statistics(&report);
        // Machine formats keep stdout parseable: the table goes to stderr there.
        if args.format == Format::Text {
            print!("\n{table}");
        } else {
            eprint!("{table}");
        }
    }
    let failed = report.violations().next().is_some() || (args.strict && report.has_stale_or_expired());
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
