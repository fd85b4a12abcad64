//! A recipe compiled for matching: scope, literal prefilter, matcher, relations and classifications.

use globset::{Glob, GlobSet, GlobSetBuilder};
use thiserror::Error;
use tree_sitter::Node;

use super::{Bindings, CompiledRelations, FileContext, Matcher};
use crate::layers::Placement;
use crate::recipe::{EditSpec, FixCase, LoadedRecipe, Recipe};

#[derive(Debug, Error)]
#[error("recipe `{id}` ({origin}): {message}")]
pub struct RuleError {
    pub id: String,
    pub origin: String,
    pub message: String,
}

/// One fix case with its conditions and edit selectors compiled.
#[derive(Debug)]
pub struct CompiledFix {
    pub case: FixCase,
    pub when: CompiledRelations,
    /// The `target.select` matcher of each edit, by edit index.
    pub selects: Vec<Option<Matcher>>,
}

#[derive(Debug)]
pub struct Rule {
    pub recipe: Recipe,
    pub origin: String,
    layers: Vec<String>,
    paths: Option<GlobSet>,
    exclude: Option<GlobSet>,
    prefilter: Option<Vec<Vec<String>>>,
    matcher: Matcher,
    relations: CompiledRelations,
    classify: Vec<(String, CompiledRelations)>,
    pub fixes: Vec<CompiledFix>,
}

/// A match of a rule in a file, alive as long as the file's tree.
pub struct RuleMatch<'t> {
    pub node: Node<'t>,
    pub bindings: Bindings<'t>,
    /// The justified pattern this match follows, if a classification applied.
    pub classification: Option<String>,
}

fn glob_set(globs: &[String]) -> Result<Option<GlobSet>, String> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob).map_err(|e| format!("invalid glob `{glob}`: {e}"))?);
    }
    builder.build().map(Some).map_err(|e| e.to_string())
}

impl Rule {
    pub fn compile(loaded: &LoadedRecipe, known_layers: &[&str]) -> Result<Self, RuleError> {
        let recipe = &loaded.recipe;
        let error = |message: String| RuleError { id: recipe.id.clone(), origin: loaded.origin.to_string(), message };
        let Some(spec) = &recipe.matcher else {
            return Err(error("a composite recipe cannot be run directly".into()));
        };
        for layer in &recipe.scope.layers {
            if !known_layers.contains(&layer.as_str()) {
                return Err(error(format!(
                    "scope names layer `{layer}`, but the configuration defines only: {}",
                    known_layers.join(", ")
                )));
            }
        }
        let matcher = Matcher::compile(spec).map_err(|e| error(format!("[match] {e}")))?;
        let relations = CompiledRelations::compile(&recipe.relations).map_err(|e| error(format!("[where] {e}")))?;
        let classify = recipe
            .classify
            .iter()
            .map(|c| {
                CompiledRelations::compile(&c.when)
                    .map(|r| (c.label.clone(), r))
                    .map_err(|e| error(format!("[[classify]] `{}`: {e}", c.label)))
            })
            .collect::<Result<_, _>>()?;
        let fixes = recipe
            .fix
            .iter()
            .enumerate()
            .map(|(i, case)| compile_fix(case).map_err(|e| error(format!("[[fix]] case {}: {e}", i + 1))))
            .collect::<Result<_, _>>()?;
        let mut prefilter = matcher.literal_alternatives();
        if !recipe.scope.file_contains.is_empty() {
            prefilter = Some(match prefilter {
                Some(alternatives) => alternatives
                    .into_iter()
                    .map(|mut alt| {
                        alt.extend(recipe.scope.file_contains.iter().cloned());
                        alt
                    })
                    .collect(),
                None => vec![recipe.scope.file_contains.clone()],
            });
        }
        Ok(Rule {
            recipe: recipe.clone(),
            origin: loaded.origin.to_string(),
            layers: recipe.scope.layers.clone(),
            paths: glob_set(&recipe.scope.paths).map_err(|m| error(format!("[scope] paths: {m}")))?,
            exclude: glob_set(&recipe.scope.exclude).map_err(|m| error(format!("[scope] exclude: {m}")))?,
            prefilter,
            matcher,
            relations,
            classify,
            fixes,
        })
    }

    pub fn id(&self) -> &str {
        &self.recipe.id
    }

    /// The metavariables every match of the rule has: the match's and those its `where` adds.
    pub fn metavariables(&self) -> Vec<String> {
        let mut names = self.matcher.metavariables();
        names.extend(self.relations.bound_metavariables());
        names.sort();
        names.dedup();
        names
    }

    /// Decided from the path alone, before the file is read.
    pub fn in_scope(&self, rel_path: &str, placement: &Placement) -> bool {
        let layer_ok = self.layers.is_empty() || placement.layer.as_ref().is_some_and(|l| self.layers.contains(l));
        layer_ok
            && self.paths.as_ref().is_none_or(|set| set.is_match(rel_path))
            && !self.exclude.as_ref().is_some_and(|set| set.is_match(rel_path))
    }

    /// Alternatives of literals, one of which must occur whole in a file for the rule to match;
    /// `None` when the rule requires no literal.
    pub fn prefilter(&self) -> Option<&[Vec<String>]> {
        self.prefilter.as_deref()
    }

    /// Every match in the file that satisfies the relations, classified where a classification applies.
    pub fn run<'t>(&self, ctx: &FileContext<'t>) -> Vec<RuleMatch<'t>> {
        let root = ctx.file.tree.root_node();
        let mut matches = Vec::new();
        let mut seen = Vec::new();
        for (node, mut bindings) in self.matcher.find_all(root, ctx, &Bindings::default()) {
            // Alternatives may match the same node twice; one site is one violation.
            if seen.contains(&node.id()) || !self.relations.hold(node, ctx, &mut bindings) {
                continue;
            }
            seen.push(node.id());
            let classification = self
                .classify
                .iter()
                .find(|(_, relations)| relations.hold(node, ctx, &mut bindings.clone()))
                .map(|(label, _)| label.clone());
            matches.push(RuleMatch { node, bindings, classification });
            if self.recipe.once_per_file {
                break;
            }
        }
        matches
    }
}

fn compile_fix(case: &FixCase) -> Result<CompiledFix, String> {
    let when = CompiledRelations::compile(&case.when).map_err(|e| format!("when: {e}"))?;
    let selects = case
        .edits
        .iter()
        .map(|edit| {
            let target = match edit {
                EditSpec::Replace { target, .. }
                | EditSpec::Delete { target }
                | EditSpec::InsertBefore { target, .. }
                | EditSpec::InsertAfter { target, .. } => target,
                _ => return Ok(None),
            };
            let anchor = target.node.as_str();
            if !matches!(anchor, "match" | "statement" | "function") && !anchor.starts_with('$') {
                return Err(format!("edit target `{anchor}` must be match, statement, function or $NAME"));
            }
            target.select.as_ref().map(Matcher::compile).transpose().map_err(|e| format!("target.select: {e}"))
        })
        .collect::<Result<_, _>>()?;
    if case.applicability != crate::recipe::Applicability::Manual && case.edits.is_empty() && case.transform.is_none() {
        return Err("a safe or unsafe fix needs `edits` or a `transform`".into());
    }
    Ok(CompiledFix { case: case.clone(), when, selects })
}

impl Rule {
    /// The first fix case whose conditions hold for the match, with the bindings its conditions add.
    pub fn fix_case<'t>(&self, m: &RuleMatch<'t>, ctx: &FileContext<'t>) -> Option<(usize, Bindings<'t>)> {
        self.fixes.iter().enumerate().find_map(|(i, fix)| {
            let mut env = m.bindings.clone();
            fix.when.hold(m.node, ctx, &mut env).then_some((i, env))
        })
    }
}
