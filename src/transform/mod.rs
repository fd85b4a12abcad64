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
    /// The transform removes from the match's file what its rewrite left unused (helpers,
    /// imports), judged on that file alone: when several of its change sets rewrite one file in a
    /// pass, what they left unused together is removed by a follow-on change set.
    pub tidies_source: bool,
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
/// Each is checked against the variables the transform renders it with (and the layer `captures`),
/// so a misspelt name in an override fails at load time with its file, line and name.
pub fn register_templates(
    templates: &mut Templates,
    recipe_dirs: &[PathBuf],
    captures: &[String],
) -> Result<(), TemplateError> {
    let names = extract::TEMPLATE_VARS.iter().map(|v| v.to_string()).chain(captures.iter().cloned()).collect();
    let scope = crate::templates::Scope { names, config: None };
    for (name, builtin) in extract::TEMPLATES {
        let overridden = recipe_dirs.iter().find_map(|dir| {
            let path = dir.join("templates").join(name);
            std::fs::read_to_string(&path).ok().map(|text| (path, text))
        });
        let (file, text) = match &overridden {
            Some((path, text)) => (path.display().to_string(), text.as_str()),
            None => (format!("<shipped>/templates/{name}"), *builtin),
        };
        if let Err(problem) = templates.check(text, &scope) {
            return Err(crate::templates::load_error(&file, Some(text), Some(0..text.len()), name, problem));
        }
        templates.add(&format!("extract/{name}"), text)?;
    }
    Ok(())
}

/// How a transform's reason starts when a template failed to render: an error in the project's
/// templates, reported as an error for that change set, never as a site to fix by hand.
pub const TEMPLATE_FAILURE: &str = "template error: ";

/// The reason for a template that failed to render (see [`TEMPLATE_FAILURE`]).
pub fn template_failure(error: TemplateError) -> ManualReason {
    format!("{TEMPLATE_FAILURE}{error}")
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
