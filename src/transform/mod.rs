//! Transforms: built-in multi-step rewrites that recipes invoke by name, with TOML parameters.

pub mod extract;
mod session;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::edit::FileEdits;
use crate::engine::{Analysed, Project};
use crate::fix::sources::Sources;
use crate::matching::rule::{Rule, RuleMatch};
use crate::matching::Bindings;
use crate::templates::{TemplateError, Templates};

/// Everything a transform may look at for one match.
pub struct TransformCall<'a, 't> {
    pub project: &'a Project,
    pub analysed: &'a Analysed<'t>,
    pub rule: &'a Rule,
    pub m: &'a RuleMatch<'t>,
    pub env: &'a Bindings<'t>,
    pub params: &'a toml::Table,
    pub sources: &'a Sources<'a>,
    pub vars: &'a BTreeMap<String, String>,
}

/// The edits of a transform, possibly in several files, and what people must do afterwards.
#[derive(Debug, Default, Clone)]
pub struct TransformOutput {
    pub files: Vec<FileEdits>,
    pub follow_ups: Vec<String>,
    /// Replaces the recipe's description when the transform knows better (e.g. the operation name).
    pub description: Option<String>,
}

/// A reason why the match must be fixed by hand (the change set becomes `manual`).
pub type ManualReason = String;

/// `base`, or `base_2`, `base_3`... whichever `taken` does not contain.
fn fresh(base: &str, taken: &dyn Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}_{i}")).find(|c| !taken(c)).unwrap_or_else(|| base.to_string())
}

const KNOWN: &[&str] = &["inject-session", "extract-to-driver"];

/// Checks at load time that a recipe names a known transform with parameters it accepts.
pub fn validate(name: &str, params: &toml::Table) -> Result<(), String> {
    let allowed: &[&str] = match name {
        "inject-session" => session::PARAMS,
        "extract-to-driver" => extract::PARAMS,
        _ => return Err(format!("unknown transform `{name}`; known transforms: {}", KNOWN.join(", "))),
    };
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!("transform `{name}` has no parameter `{key}` (accepted: {})", allowed.join(", "))),
        None if name == "extract-to-driver" => extract::validate(params),
        None if name == "inject-session" => session::validate(params),
        None => Ok(()),
    }
}

/// Registers the templates of generated code, preferring a project's override in `<recipe dir>/templates/`.
pub fn register_templates(templates: &mut Templates, recipe_dirs: &[PathBuf]) -> Result<(), TemplateError> {
    for (name, builtin) in extract::TEMPLATES {
        let override_text =
            recipe_dirs.iter().find_map(|dir| std::fs::read_to_string(dir.join("templates").join(name)).ok());
        templates.add(&format!("extract/{name}"), override_text.as_deref().unwrap_or(builtin))?;
    }
    Ok(())
}

/// What a transform's result depends on besides the file: matches with the same key get the same
/// rewrite (`None` when every match must be planned on its own).
pub fn memo_key(name: &str, call: &TransformCall) -> Option<(usize, String)> {
    let around = |kind: &str| {
        std::iter::successors(call.m.node.parent(), |n| n.parent()).find(|n| n.kind() == kind).map(|n| n.start_byte())
    };
    match name {
        "extract-to-driver" => {
            Some((around("function_definition")?, call.env.text("RECV", &call.analysed.ctx.file.text)?.to_string()))
        }
        "inject-session" => Some((session::unit_start(call.m.node)?, String::new())),
        _ => None,
    }
}

pub fn run(name: &str, call: &TransformCall) -> Result<TransformOutput, ManualReason> {
    match name {
        "inject-session" => session::run(call),
        "extract-to-driver" => extract::run(call),
        other => Err(format!("unknown transform `{other}`")),
    }
}
