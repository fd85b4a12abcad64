//! Commands: one function per subcommand, glueing the pipeline stages together (the anyhow edge).

mod baseline;
mod batch;
mod check;
mod completions;
mod explain;
mod fix;
mod init;
mod migrate;
mod recipes;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Cli, Command, GlobalArgs, Selection};
use crate::engine::{Project, ProjectOptions};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::progress::set_verbosity(if cli.global.quiet { -1 } else { cli.global.verbose.min(100) as i8 });
    match cli.command {
        Command::Check(args) => check::run(&cli.global, &args),
        Command::Baseline(args) => baseline::run(&cli.global, &args),
        Command::Batch(args) => batch::run(&cli.global, &args),
        Command::Fix(args) => fix::run(&cli.global, &args),
        Command::Migrate(args) => migrate::run(&cli.global, &args),
        Command::Report(args) => report::run(&cli.global, &args),
        Command::Recipes { command } => recipes::run(&cli.global, &command),
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Explain(args) => explain::run(&cli.global, &args),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// Writes to stdout. A closed pipe (`strata check | head -1`) surfaces as an `io::Error` of kind
/// `BrokenPipe`, which the binary ends on quietly; `print!` would panic instead.
fn out(text: impl std::fmt::Display) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{text}")?;
    stdout.flush()
}

/// Whether an error is stdout having been closed by its reader, which ends a run quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Loads the project for a command working on `selection`.
fn load_project(global: &GlobalArgs, selection: Option<&Selection>) -> anyhow::Result<Project> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let start = selection.and_then(|s| s.paths.first().cloned()).unwrap_or_else(|| cwd.clone());
    // As ruff and git: without a configuration, the project is the repository the paths are in,
    // so `strata check sub/dir` reports what `strata check` at the top reports under `sub/dir`.
    let absolute = std::fs::canonicalize(&start).unwrap_or_else(|_| cwd.join(&start));
    let default_root = crate::git::toplevel(&absolute).unwrap_or_else(|| {
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd.clone());
        if absolute.starts_with(&cwd) {
            cwd
        } else if absolute.is_dir() {
            absolute.clone()
        } else {
            absolute.parent().map_or_else(|| absolute.clone(), std::path::Path::to_path_buf)
        }
    });
    let options = ProjectOptions {
        config: global.config.clone(),
        start,
        default_root,
        recipe_dirs: global.recipe_dirs.clone(),
        select: selection.map(|s| s.select.clone()).unwrap_or_default(),
        ignore: selection.map(|s| s.ignore.clone()).unwrap_or_default(),
    };
    Ok(Project::load(&options)?)
}
