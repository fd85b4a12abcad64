//! Commands: one function per subcommand, glueing the pipeline stages together (the anyhow edge).

mod baseline;
mod check;
mod completions;
mod explain;
mod fix;
mod init;
mod recipes;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{Cli, Command, GlobalArgs, Selection};
use crate::engine::{Project, ProjectOptions};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(&cli.global, &args),
        Command::Baseline(args) => baseline::run(&cli.global, &args),
        Command::Fix(args) => fix::run(&cli.global, &args),
        Command::Recipes { command } => recipes::run(&cli.global, &command),
        Command::Init { dir, force } => init::run(&dir, force),
        Command::Explain(args) => explain::run(&cli.global, &args),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// Loads the project for a command working on `selection`.
fn load_project(global: &GlobalArgs, selection: Option<&Selection>) -> anyhow::Result<Project> {
    let start = selection
        .and_then(|s| s.paths.first().cloned())
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
    let options = ProjectOptions {
        config: global.config.clone(),
        start,
        recipe_dirs: global.recipe_dirs.clone(),
        select: selection.map(|s| s.select.clone()).unwrap_or_default(),
        ignore: selection.map(|s| s.ignore.clone()).unwrap_or_default(),
    };
    Ok(Project::load(&options)?)
}
