//! `strata recipes list|show|test`.

use std::process::ExitCode;

use anyhow::{anyhow, Context};

use crate::cli::{GlobalArgs, RecipesCommand};

pub fn run(global: &GlobalArgs, command: &RecipesCommand) -> anyhow::Result<ExitCode> {
    let project = super::load_project(global, None)?;
    match command {
        RecipesCommand::List => {
            for loaded in &project.recipes {
                let r = &loaded.recipe;
                let fix = if !r.include.is_empty() {
                    format!("composite: {}", r.include.join(", "))
                } else {
                    let mut kinds: Vec<&str> = r.fix.iter().map(|f| f.applicability.as_str()).collect();
                    kinds.sort();
                    kinds.dedup();
                    if kinds.is_empty() {
                        "detect only".to_string()
                    } else {
                        format!("fix: {}", kinds.join("/"))
                    }
                };
                let scope = if r.scope.layers.is_empty() { "all files".to_string() } else { r.scope.layers.join(",") };
                println!("{:<24} {:<8} {:<10} {:<28} {}", r.id, r.severity.as_str(), scope, fix, r.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Show { id } => {
            let loaded = project
                .recipes
                .iter()
                .find(|r| &r.recipe.id == id)
                .ok_or_else(|| anyhow!("unknown recipe `{id}`; `strata recipes list` shows the known ids"))?;
            println!("# {}", loaded.origin);
            print!("{}", toml::to_string_pretty(&loaded.recipe).context("cannot print the recipe")?);
            Ok(ExitCode::SUCCESS)
        }
        RecipesCommand::Test { ids } => crate::fix::recipe_tests::run(&project, ids),
    }
}
