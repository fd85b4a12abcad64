//! `strata recipes list|show|test`.

use std::process::ExitCode;

use anyhow::{anyhow, Context};

use crate::cli::{GlobalArgs, RecipesCommand};
use crate::engine::Project;
use crate::recipe::{LoadedRecipe, Recipe};

pub fn run(global: &GlobalArgs, command: &RecipesCommand) -> anyhow::Result<ExitCode> {
    let project = super::load_project(global, None)?;
    match command {
        RecipesCommand::List => {
            for loaded in &project.recipes {
                let r = &loaded.recipe;
                let scope = if r.scope.layers.is_empty() { "all files".to_string() } else { r.scope.layers.join(",") };
                super::out(
                    format!("{:<24} {:<8} {:<10} {:<28} {}", r.id, r.severity.as_str(), scope, fixability(r), r.title)
                        + "\n",
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Show { id } => {
            let loaded = find(&project, id)?;
            super::out(format!("# {}", loaded.origin) + "\n")?;
            super::out(toml::to_string_pretty(&loaded.recipe).context("cannot print the recipe")?)?;
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Test { ids } => crate::fix::recipe_tests::run(&project, ids),
    }
}

/// The recipe with this id (shipped or the project's); an unknown id is an error listing the known ones.
pub(super) fn find<'p>(project: &'p Project, id: &str) -> anyhow::Result<&'p LoadedRecipe> {
    project.recipes.iter().find(|r| r.recipe.id == id).ok_or_else(|| {
        let known: Vec<&str> = project.recipes.iter().map(|r| r.recipe.id.as_str()).collect();
        anyhow!(
            "no rule or recipe has the id `{id}`; the known ids are: {} (`strata recipes list` describes them)",
            known.join(", ")
        )
    })
}

/// What `fix` can do with a recipe's matches: `composite: ...`, `detect only` or `fix: safe/manual...`.
pub(super) fn fixability(recipe: &Recipe) -> String {
    if !recipe.include.is_empty() {
        return format!("composite: {}", recipe.include.join(", "));
    }
    let mut kinds: Vec<&str> = recipe.fix.iter().map(|f| f.applicability.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        "detect only".to_string()
    } else {
        format!("fix: {}", kinds.join("/"))
    }
}
