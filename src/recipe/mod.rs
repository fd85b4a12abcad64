//! Recipes: serde types that mirror the recipe TOML format, loading (shipped and project), validation.

mod builtin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tomlfile::{self, TomlFileError};

/// One recipe file (`recipes/*.toml`). Unknown keys are errors so typos never pass silently.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub severity: Severity,
    /// Message template over metavariables (`{{ RECV }}`) and layer captures (`{{ domain }}`).
    #[serde(default)]
    pub message: String,
    /// Longer help text: why the rule exists and how to fix by hand (SARIF `help`, `recipes show`).
    #[serde(default)]
    pub help: String,
    /// Composite recipes list other recipe ids, run in order, and have no match of their own.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(rename = "match")]
    pub matcher: Option<MatchSpec>,
    /// Extra conditions every match must satisfy (inside, not_inside, file_lacks...).
    #[serde(default, rename = "where")]
    pub relations: Relations,
    /// Report only the first match of each file (file-level rules).
    #[serde(default)]
    pub once_per_file: bool,
    /// Labels for matches that follow a justified pattern: counted as classified, not as violations.
    #[serde(default)]
    pub classify: Vec<Classification>,
    /// Fix cases, tried in order: the first whose `when` holds decides the fix of a match.
    #[serde(default)]
    pub fix: Vec<FixCase>,
    #[serde(default)]
    pub tests: Vec<RecipeTest>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    #[default]
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Which files a recipe looks at: decided by path before a file is read, then by literal before parsing.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Layer names from the configuration (`l2`, `l6`...); empty means any file.
    #[serde(default)]
    pub layers: Vec<String>,
    /// Path globs relative to the project root; when set, a file must match one.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Literal texts that must all occur in the file (checked before parsing).
    #[serde(default)]
    pub file_contains: Vec<String>,
}

/// What to match: a pattern, several alternative patterns, or a raw tree-sitter query; plus constraints.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub pattern: Option<String>,
    #[serde(default)]
    pub any: Vec<String>,
    /// A tree-sitter query; the capture `@match` (or the first capture) is the matched node.
    pub query: Option<String>,
    /// Restricts matches to a node kind (alone: every node of that kind).
    pub kind: Option<String>,
    /// Constraints on metavariables, by name without `$`.
    #[serde(default)]
    pub constraints: BTreeMap<String, Constraint>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub regex: Option<String>,
    pub not_regex: Option<String>,
    /// Regex on the module an import brings in: the reference is resolved against the importing
    /// file (relative imports), and for `from M import n` both `M` and `M.n` are tried.
    pub module: Option<String>,
    /// The module an import brings in is a project file in one of these layers.
    pub module_layer: Option<Vec<String>>,
    /// The metavariable is a string literal naming an operation that a running registration
    /// (reached from the configured `register_all` function) provides (`true`) or not (`false`).
    pub registered: Option<bool>,
}

/// Relations of a match to other code; each names a `MatchSpec` sharing metavariables with the match.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Relations {
    /// Some ancestor matches.
    pub inside: Option<MatchSpec>,
    /// No ancestor matches.
    pub not_inside: Option<MatchSpec>,
    /// Some node within the match matches.
    pub has: Option<MatchSpec>,
    pub not_has: Option<MatchSpec>,
    /// Somewhere in the file (anywhere) a node matches / none does.
    pub file_has: Option<MatchSpec>,
    pub file_lacks: Option<MatchSpec>,
    /// A node after / before the match within the same function (or module) matches.
    pub followed_by: Option<MatchSpec>,
    pub preceded_by: Option<MatchSpec>,
    /// The function around the match is called somewhere in the project, and after every call
    /// its calling function has a node that matches (e.g. the caller commits the session).
    pub callers_have: Option<MatchSpec>,
    /// Constraints on metavariables already bound by the match (e.g. `METHOD` is `commit`).
    #[serde(default)]
    pub constraints: BTreeMap<String, Constraint>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    pub label: String,
    #[serde(flatten)]
    pub when: Relations,
}

/// How trustworthy a fix is, as in ruff: safe fixes apply by default, unsafe with `--unsafe`,
/// manual ones are only reported with their reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    Manual,
    Unsafe,
    Safe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
            Applicability::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixCase {
    /// Conditions for this case; an empty `when` always holds.
    #[serde(default)]
    pub when: Relations,
    pub applicability: Applicability,
    /// Template describing the change set (summary and interactive review).
    #[serde(default)]
    pub description: String,
    /// Template explaining a manual case.
    #[serde(default)]
    pub reason: String,
    /// Template for what someone must do after the fix (listed in the fix summary).
    #[serde(default)]
    pub follow_up: String,
    #[serde(default)]
    pub edits: Vec<EditSpec>,
    pub transform: Option<TransformSpec>,
}

/// A primitive edit declared by a recipe.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum EditSpec {
    Replace {
        #[serde(default)]
        target: Target,
        with: String,
    },
    Delete {
        #[serde(default)]
        target: Target,
    },
    InsertBefore {
        #[serde(default)]
        target: Target,
        with: String,
    },
    InsertAfter {
        #[serde(default)]
        target: Target,
        with: String,
    },
    AddImport {
        module: String,
        name: Option<String>,
        alias: Option<String>,
    },
    RemoveImport {
        module: String,
        name: Option<String>,
    },
    CreateFile {
        path: String,
        with: String,
    },
    /// Appends rendered text to another file (created if missing).
    EditFile {
        path: String,
        append: String,
    },
}

/// What an edit applies to: the match, its statement, a metavariable, and optionally every node
/// within that which matches `select`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `match` (default), `statement`, `function`, or a metavariable `$NAME`.
    #[serde(default = "default_anchor")]
    pub node: String,
    pub select: Option<MatchSpec>,
}

fn default_anchor() -> String {
    "match".to_string()
}

impl Default for Target {
    fn default() -> Self {
        Target { node: default_anchor(), select: None }
    }
}

/// A built-in transform with its parameters (the whole TOML table is passed through).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TransformSpec {
    pub name: String,
    #[serde(flatten)]
    pub params: toml::Table,
}

/// A recipe's own example: code at a path, the number of matches expected, and optionally the fixed code.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeTest {
    pub name: String,
    pub path: String,
    pub code: String,
    pub matches: usize,
    pub fixed: Option<String>,
}

/// Where a recipe came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Shipped(&'static str),
    Project(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Shipped(name) => write!(f, "<shipped>/{name}"),
            Origin::Project(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadedRecipe {
    pub recipe: Recipe,
    pub origin: Origin,
}

#[derive(Debug, Error)]
pub enum RecipeError {
    #[error(transparent)]
    Toml(#[from] TomlFileError),
    #[error("cannot read recipe directory {path}: {error}")]
    ReadDir { path: PathBuf, error: std::io::Error },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("recipe id `{id}` is defined twice: {first} and {second}; rename one")]
    Duplicate { id: String, first: String, second: String },
    #[error("unknown recipe `{0}`; `strata recipes list` shows the known ids")]
    Unknown(String),
}

/// Loads the shipped recipes, then each project directory; a project recipe with a shipped id replaces it.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<LoadedRecipe>, RecipeError> {
    let mut recipes: Vec<LoadedRecipe> = Vec::new();
    for (name, text) in builtin::SHIPPED {
        let recipe = tomlfile::parse::<Recipe>(text, Path::new(name))?;
        recipes.push(LoadedRecipe { recipe, origin: Origin::Shipped(name) });
    }
    for dir in dirs {
        let mut project: Vec<LoadedRecipe> = Vec::new();
        for path in recipe_files(dir)? {
            let recipe = tomlfile::read::<Recipe>(&path)?;
            if let Some(other) = project.iter().find(|r| r.recipe.id == recipe.id) {
                return Err(RecipeError::Duplicate {
                    id: recipe.id,
                    first: other.origin.to_string(),
                    second: path.display().to_string(),
                });
            }
            project.push(LoadedRecipe { recipe, origin: Origin::Project(path) });
        }
        for loaded in project {
            match recipes.iter_mut().find(|r| r.recipe.id == loaded.recipe.id) {
                Some(existing) => *existing = loaded,
                None => recipes.push(loaded),
            }
        }
    }
    for loaded in &recipes {
        validate_shape(loaded, &recipes)?;
    }
    Ok(recipes)
}

fn recipe_files(dir: &Path) -> Result<Vec<PathBuf>, RecipeError> {
    let read_err = |error| RecipeError::ReadDir { path: dir.to_path_buf(), error };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Checks what serde cannot: a recipe either matches or includes, ids are well formed, includes exist.
fn validate_shape(loaded: &LoadedRecipe, all: &[LoadedRecipe]) -> Result<(), RecipeError> {
    let recipe = &loaded.recipe;
    let invalid = |message: String| RecipeError::Invalid { origin: loaded.origin.to_string(), message };
    if recipe.id.is_empty() || !recipe.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(invalid(format!("recipe id `{}` must be lowercase letters, digits and `-`", recipe.id)));
    }
    match (&recipe.matcher, recipe.include.is_empty()) {
        (None, true) => return Err(invalid(format!("recipe `{}` needs a [match] section or `include`", recipe.id))),
        (Some(_), false) => {
            return Err(invalid(format!("recipe `{}` has both [match] and `include`; choose one", recipe.id)))
        }
        _ => {}
    }
    if let Some(name) = reused_list_metavariable(recipe) {
        return Err(invalid(format!(
            "recipe `{}`: a relation reuses `$$${name}` from [match]; relations share metavariables with the match, so the two lists would have to be equal (they almost never are): give the relation's its own name",
            recipe.id
        )));
    }
    for id in &recipe.include {
        let target = all
            .iter()
            .find(|r| &r.recipe.id == id)
            .ok_or_else(|| invalid(format!("recipe `{}` includes unknown recipe `{id}`", recipe.id)))?;
        if !target.recipe.include.is_empty() {
            return Err(invalid(format!("recipe `{}` includes composite `{id}`; include its parts", recipe.id)));
        }
    }
    Ok(())
}

/// A `$$$NAME` of the match pattern that a relation's pattern uses too (`where` or a fix's `when`).
fn reused_list_metavariable(recipe: &Recipe) -> Option<String> {
    let list = regex::Regex::new(r"\$\$\$([A-Z_][A-Z0-9_]*)").expect("constant regex");
    let names = |spec: &MatchSpec| -> Vec<String> {
        let patterns = spec.pattern.iter().chain(spec.any.iter());
        patterns.flat_map(|p| list.captures_iter(p).map(|c| c[1].to_string()).collect::<Vec<_>>()).collect()
    };
    let matched = names(recipe.matcher.as_ref()?);
    let relations = std::iter::once(&recipe.relations).chain(recipe.fix.iter().map(|f| &f.when));
    relations
        .flat_map(|r| {
            [
                &r.inside,
                &r.not_inside,
                &r.has,
                &r.not_has,
                &r.file_has,
                &r.file_lacks,
                &r.followed_by,
                &r.preceded_by,
                &r.callers_have,
            ]
            .into_iter()
            .flatten()
            .flat_map(&names)
            .collect::<Vec<_>>()
        })
        .find(|name| matched.contains(name))
}

/// Expands recipe ids (composites to their parts, in order) and drops duplicates.
pub fn expand<'r>(ids: &[String], all: &'r [LoadedRecipe]) -> Result<Vec<&'r LoadedRecipe>, RecipeError> {
    let mut out: Vec<&LoadedRecipe> = Vec::new();
    for id in ids {
        let loaded = all.iter().find(|r| &r.recipe.id == id).ok_or_else(|| RecipeError::Unknown(id.clone()))?;
        let parts: Vec<&LoadedRecipe> = if loaded.recipe.include.is_empty() {
            vec![loaded]
        } else {
            loaded.recipe.include.iter().filter_map(|part| all.iter().find(|r| &r.recipe.id == part)).collect()
        };
        for part in parts {
            if !out.iter().any(|r| r.recipe.id == part.recipe.id) {
                out.push(part);
            }
        }
    }
    Ok(out)
}

/// The TOML text a recipe was read from, to point an error at its line; `None` when it cannot be
/// read again.
pub fn source_text(origin: &Origin) -> Option<String> {
    match origin {
        Origin::Shipped(name) => builtin::SHIPPED.iter().find(|(n, _)| n == name).map(|(_, text)| text.to_string()),
        Origin::Project(path) => std::fs::read_to_string(path).ok(),
    }
}
