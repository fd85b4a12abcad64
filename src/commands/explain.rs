//! `strata explain RULE`: what a rule finds, why (the layer rule it enforces), an example and its fix,
//! like `ruff rule`. Everything comes from the recipe and the project's layer configuration.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::cli::{ExplainArgs, ExplainFormat, GlobalArgs};
use crate::engine::Project;
use crate::recipe::{Constraint, FixCase, MatchSpec, Recipe, RecipeTest, Relations};

/// The rule every layer follows, whatever the recipe.
const LAYERS_POINT_DOWN: &str =
    "Layers point down: a module may import from a layer below it (a higher number), never from one above it.";

pub fn run(global: &GlobalArgs, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(global, None)?;
    let loaded = super::recipes::find(&project, &args.rule)?;
    let recipe = &loaded.recipe;
    match args.format {
        ExplainFormat::Text => super::out(text(&project, recipe))?,
        ExplainFormat::Json => {
            let mut value = document(&project, recipe);
            value["origin"] = json!(loaded.origin.to_string());
            super::out(serde_json::to_string_pretty(&value)? + "\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The layers a recipe looks at, each with the project's description of it and its path patterns.
fn layers(project: &Project, recipe: &Recipe) -> Vec<(String, String, Vec<String>)> {
    recipe
        .scope
        .layers
        .iter()
        .map(|name| match project.config.file.layers.get(name) {
            Some(layer) => (name.clone(), layer.description.clone(), layer.paths.clone()),
            None => (name.clone(), String::new(), Vec::new()),
        })
        .collect()
}

/// The example shown: the first of the recipe's own test cases that matches, else its first one.
fn example(recipe: &Recipe) -> Option<&RecipeTest> {
    recipe.tests.iter().find(|t| t.matches > 0).or_else(|| recipe.tests.first())
}

fn patterns(spec: &MatchSpec) -> Vec<String> {
    let mut out: Vec<String> = spec.pattern.iter().chain(spec.any.iter()).cloned().collect();
    if let Some(query) = &spec.query {
        out.push(format!("(tree-sitter query) {}", one_line(query)));
    }
    if let Some(kind) = &spec.kind {
        out.push(format!("(node kind) {kind}"));
    }
    out
}

fn constraint(name: &str, c: &Constraint) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(re) = &c.regex {
        out.push(format!("`${name}` matches `{re}`"));
    }
    if let Some(re) = &c.not_regex {
        out.push(format!("`${name}` does not match `{re}`"));
    }
    if let Some(re) = &c.module {
        out.push(format!("`${name}` imports a module matching `{re}`"));
    }
    if let Some(layers) = &c.module_layer {
        out.push(format!("`${name}` imports a project module in layer {}", layers.join(" or ")));
    }
    match c.registered {
        Some(true) => out.push(format!("`${name}` names an operation a running registration provides")),
        Some(false) => out.push(format!("`${name}` names an operation no running registration provides")),
        None => {}
    }
    out
}

fn constraints(spec: &MatchSpec) -> Vec<String> {
    spec.constraints.iter().flat_map(|(name, c)| constraint(name, c)).collect()
}

/// A pattern on one line: multi-line patterns keep their first line.
fn one_line(text: &str) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default().trim().to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// Each condition of a `where` (or a fix's `when`) in words.
fn conditions(relations: &Relations) -> Vec<String> {
    let specs: [(&str, &Option<MatchSpec>); 9] = [
        ("inside", &relations.inside),
        ("not inside", &relations.not_inside),
        ("containing", &relations.has),
        ("not containing", &relations.not_has),
        ("in a file that has", &relations.file_has),
        ("in a file that lacks", &relations.file_lacks),
        ("followed by", &relations.followed_by),
        ("preceded by", &relations.preceded_by),
        ("every caller of the function then has", &relations.callers_have),
    ];
    let mut out = Vec::new();
    for (what, spec) in specs {
        let Some(spec) = spec else { continue };
        let alternatives: Vec<String> = patterns(spec).iter().map(|p| format!("`{}`", one_line(p))).collect();
        let mut line = format!("{what} {}", alternatives.join(" or "));
        for c in constraints(spec) {
            let _ = write!(line, " where {c}");
        }
        out.push(line);
    }
    out.extend(relations.constraints.iter().flat_map(|(name, c)| constraint(name, c)));
    out
}

fn fix_case(case: &FixCase) -> Value {
    json!({
        "applicability": case.applicability.as_str(),
        "description": case.description.trim(),
        "reason": case.reason.trim(),
        "follow_up": case.follow_up.trim(),
        "transform": case.transform.as_ref().map(|t| t.name.clone()),
        "when": conditions(&case.when),
    })
}

/// The explanation as one JSON document (the text form renders the same facts).
fn document(project: &Project, recipe: &Recipe) -> Value {
    let layers: Vec<Value> = layers(project, recipe)
        .into_iter()
        .map(|(name, description, paths)| json!({"name": name, "description": description, "paths": paths}))
        .collect();
    let matcher = recipe.matcher.as_ref();
    json!({
        "id": recipe.id,
        "title": recipe.title,
        "severity": recipe.severity.as_str(),
        "fixability": super::recipes::fixability(recipe),
        "includes": recipe.include,
        "finds": {
            "patterns": matcher.map(patterns).unwrap_or_default(),
            "constraints": matcher.map(constraints).unwrap_or_default(),
            "where": conditions(&recipe.relations),
            "paths": recipe.scope.paths,
            "exclude": recipe.scope.exclude,
            "message": recipe.message.trim(),
            "classified": recipe.classify.iter().map(|c| json!({"label": c.label, "when": conditions(&c.when)})).collect::<Vec<_>>(),
        },
        "why": {
            "layers": layers,
            "rule": LAYERS_POINT_DOWN,
            "help": recipe.help.trim(),
        },
        "example": example(recipe).map(|t| json!({
            "name": t.name,
            "path": t.path,
            "code": t.code.trim_start_matches('\n'),
            "matches": t.matches,
            "fixed": t.fixed.as_deref().map(|f| f.trim_start_matches('\n')),
        })),
        "fix": recipe.fix.iter().map(fix_case).collect::<Vec<_>>(),
    })
}

fn indented(out: &mut String, text: &str, prefix: &str) {
    for line in text.trim_end().lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{prefix}{line}");
        }
    }
}

fn text(project: &Project, recipe: &Recipe) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", recipe.id, recipe.title);
    if !recipe.include.is_empty() {
        let _ = writeln!(out, "\nA composite: it runs these rules, in order.");
        for id in &recipe.include {
            let title = project.recipes.iter().find(|r| &r.recipe.id == id).map(|r| r.recipe.title.as_str());
            let _ = writeln!(out, "  {id:<24} {}", title.unwrap_or(""));
        }
        let _ = writeln!(out, "\n`strata explain ID` explains each one.");
        return out;
    }
    let scope = if recipe.scope.layers.is_empty() { "any file".to_string() } else { recipe.scope.layers.join(", ") };
    let fixability = super::recipes::fixability(recipe);
    let _ = writeln!(out, "severity: {}; layers: {scope}; {fixability}", recipe.severity.as_str());

    let _ = writeln!(out, "\nWhat it finds");
    let matcher = recipe.matcher.as_ref();
    for pattern in matcher.map(patterns).unwrap_or_default() {
        indented(&mut out, &pattern, "  ");
    }
    for (i, c) in matcher.map(constraints).unwrap_or_default().into_iter().enumerate() {
        let _ = writeln!(out, "    {} {c}", if i == 0 { "where" } else { "and" });
    }
    for c in conditions(&recipe.relations) {
        let _ = writeln!(out, "    {c}");
    }
    if !recipe.scope.paths.is_empty() {
        let _ = writeln!(out, "  in files matching {}", recipe.scope.paths.join(", "));
    }
    if !recipe.scope.exclude.is_empty() {
        let _ = writeln!(out, "  except files matching {}", recipe.scope.exclude.join(", "));
    }
    if recipe.once_per_file {
        let _ = writeln!(out, "  (reported once per file)");
    }
    let _ = writeln!(out, "  reported as: {}", recipe.message.trim());
    for c in &recipe.classify {
        let when = conditions(&c.when).join("; ");
        let _ = writeln!(out, "  counted as classified `{}`, not as a violation, {when}", c.label);
    }

    let _ = writeln!(out, "\nWhy");
    if !recipe.help.trim().is_empty() {
        indented(&mut out, &recipe.help, "  ");
        out.push('\n');
    }
    let _ =
        writeln!(out, "  The layer rule it enforces (the layers it looks in, as the configuration describes them):");
    for (name, description, paths) in layers(project, recipe) {
        let description =
            if description.is_empty() { "(no description in the configuration)".into() } else { description };
        let _ = writeln!(out, "  - {name}: {description}");
        if !paths.is_empty() {
            let _ = writeln!(out, "      files: {}", paths.join(", "));
        }
    }
    let _ = writeln!(out, "  - {LAYERS_POINT_DOWN}");

    let _ = writeln!(out, "\nExample");
    match example(recipe) {
        None => {
            let _ = writeln!(out, "  (the recipe has no test case)");
        }
        Some(case) => {
            let matches = match case.matches {
                0 => "no match".to_string(),
                1 => "1 match".to_string(),
                n => format!("{n} matches"),
            };
            let _ = writeln!(out, "  in {} ({}), expected: {matches}", case.path, case.name);
            indented(&mut out, case.code.trim_start_matches('\n'), "    ");
            if let Some(fixed) = &case.fixed {
                let _ = writeln!(out, "  after `strata fix`:");
                indented(&mut out, fixed.trim_start_matches('\n'), "    ");
            }
        }
    }

    let _ = writeln!(out, "\nFix");
    if recipe.fix.is_empty() {
        let _ = writeln!(out, "  none: `strata fix` reports it only; the help above says how to fix it by hand.");
    } else {
        let _ = writeln!(out, "  cases tried in order; the first whose conditions hold decides:");
        for case in &recipe.fix {
            let what = if case.applicability == crate::recipe::Applicability::Manual {
                &case.reason
            } else {
                &case.description
            };
            let _ = write!(out, "  - {}: {}", case.applicability.as_str(), what.trim());
            if let Some(transform) = &case.transform {
                let _ = write!(out, " (transform `{}`)", transform.name);
            }
            out.push('\n');
            for c in conditions(&case.when) {
                let _ = writeln!(out, "      when {c}");
            }
            if !case.follow_up.trim().is_empty() {
                let _ = writeln!(out, "      follow-up: {}", case.follow_up.trim());
            }
        }
        let _ = writeln!(
            out,
            "  `strata fix` applies the safe cases, `strata fix --unsafe` the unsafe ones too; manual ones are reported with their reason."
        );
    }
    out
}
