//! `strata.toml`: the project's layers, registry conventions, recipe selection and exceptions file.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::layers::{LayerPatternError, Layers};
use crate::tomlfile::{self, TomlFileError};

pub const FILE_NAME: &str = "strata.toml";

/// The default configuration: the HOC layout of docs/design.md §1. `strata init` writes exactly this.
pub const DEFAULT_TOML: &str = include_str!("default_config.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Toml(#[from] TomlFileError),
    #[error("{path}: {error}")]
    Layer { path: String, error: LayerPatternError },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub python: PythonConfig,
    /// Layer name → path patterns with captures, tried in the order the file lists them: a file
    /// both a layer's and a later layer's globs match belongs to the first.
    pub layers: IndexMap<String, LayerConfig>,
    pub registry: RegistryConfig,
    #[serde(default)]
    pub naming: NamingConfig,
    #[serde(default)]
    pub recipes: RecipeSelection,
    #[serde(default)]
    pub migrate: MigrateConfig,
    #[serde(default = "default_exceptions_file")]
    pub exceptions: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PythonConfig {
    /// Directories that are roots of the import path (`backend` makes `backend/app/x.py` module `app.x`).
    pub import_roots: Vec<String>,
    /// The line length generated code is wrapped to; unset: the project's `pyproject.toml`
    /// (`[tool.ruff]`, then `[tool.black]` `line-length`), else 88.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_length: Option<usize>,
}

impl Default for PythonConfig {
    fn default() -> Self {
        PythonConfig { import_roots: vec![".".to_string()], line_length: None }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    #[serde(default)]
    pub description: String,
    pub paths: Vec<String>,
    /// Structural patterns, one of which a file must contain to be in the layer (an L2 router
    /// creates an `APIRouter` or a `FastAPI` app); a file in `paths` without any of them falls
    /// through to the next layer whose paths match, or to none.
    #[serde(default)]
    pub requires: Vec<String>,
}

/// How the operation registry is spelled in this project (used by generated code).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub module: String,
    pub getter: String,
    pub context: String,
    pub result: String,
    pub handlers_dir: String,
    pub handlers_package: String,
    pub register_all: String,
    /// The `error_code` a failed result carries for a handler's exception of type `{{ exception }}`.
    /// With it, a narrow `except ValueError` around moved code still sees a builtin exception of
    /// that type (re-raised with the same message); empty: such code stays manual.
    #[serde(default = "default_error_code")]
    pub error_code: String,
    /// The attribute of the handler's context that holds the request's session (`ctx.session`).
    #[serde(default = "default_context_session")]
    pub context_session: String,
    /// Whether that session is async (then a sync driver cannot use it: its owner opens one).
    #[serde(default = "default_true")]
    pub context_session_async: bool,
    /// The types an injected session parameter is annotated with (`module.Name`), async and sync.
    #[serde(default = "default_async_session_type")]
    pub async_session_type: String,
    #[serde(default = "default_sync_session_type")]
    pub sync_session_type: String,
}

fn default_async_session_type() -> String {
    "sqlalchemy.ext.asyncio.AsyncSession".into()
}

fn default_sync_session_type() -> String {
    "sqlalchemy.orm.Session".into()
}

fn default_context_session() -> String {
    "session".into()
}

fn default_true() -> bool {
    true
}

fn default_error_code() -> String {
    "HANDLER_EXCEPTION:{{ exception }}".into()
}

/// Naming templates for generated files and operations (minijinja over layer captures).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamingConfig {
    pub driver_path: String,
    pub handler_module: String,
    #[serde(default = "default_handler_class")]
    pub handler_class: String,
    pub operation: String,
    /// Where an L2 module's classes (response models) move when moved code needs them: a module
    /// below L2 that both L2 and the driver import. Empty: such code stays manual.
    #[serde(default = "default_schemas_path")]
    pub schemas_path: String,
}

fn default_schemas_path() -> String {
    "backend/app/hoc/cus/{{ domain }}/L5_schemas/{{ module }}_schemas.py".into()
}

/// The handler class of a domain and module: `CatalogWidgetsHandler`; a module named like its
/// domain is not repeated (`ActivityHandler`, not `ActivityActivityHandler`).
fn default_handler_class() -> String {
    "{{ domain | camel }}{% if module != domain %}{{ module | camel }}{% endif %}Handler".into()
}

impl Default for NamingConfig {
    fn default() -> Self {
        NamingConfig {
            driver_path: "backend/app/hoc/cus/{{ domain }}/L6_drivers/{{ module }}_driver.py".into(),
            handler_module: "{{ domain }}_handler".into(),
            handler_class: default_handler_class(),
            schemas_path: default_schemas_path(),
            operation: "{{ domain }}.{{ module }}".into(),
        }
    }
}

/// Templates of what `migrate` writes: commit messages and the pull request's title.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateConfig {
    /// A commit's subject; sees `rules`, `change_sets` and `manual` (as the body does).
    #[serde(default = "default_subject")]
    pub subject: String,
    /// A commit's body; sees `rules` (ids), `change_sets` (`id`, `rule`, `location`,
    /// `description`) and `manual` (`rule`, `location`, `reason`: the sites of its rules left
    /// for a person, listed in the last commit of their rule).
    #[serde(default = "default_body")]
    pub body: String,
    /// The pull request's title; sees `branch`, `rules` and `change_sets` (all of them).
    #[serde(default = "default_pr_title")]
    pub pr_title: String,
}

impl Default for MigrateConfig {
    fn default() -> Self {
        // The built-in layout's [migrate] table is the one source of these defaults (it sets
        // every key, so no field default runs here).
        let table: toml::Table = toml::from_str(DEFAULT_TOML).expect("the built-in configuration parses");
        table["migrate"].clone().try_into().expect("the built-in [migrate] table is complete")
    }
}

fn default_subject() -> String {
    MigrateConfig::default().subject
}

fn default_body() -> String {
    MigrateConfig::default().body
}

fn default_pr_title() -> String {
    MigrateConfig::default().pr_title
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeSelection {
    /// Recipe ids to run; empty means every recipe that is not a composite.
    #[serde(default)]
    pub enabled: Vec<String>,
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Directories (relative to the config file) with the project's own recipes.
    #[serde(default)]
    pub dirs: Vec<String>,
}

fn default_exceptions_file() -> String {
    "strata-exceptions.toml".to_string()
}

/// A loaded configuration and the directory it is relative to (the project root).
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    /// The file it came from; `None` for the built-in default.
    pub source: Option<PathBuf>,
    pub file: ConfigFile,
    pub layers: Layers,
    /// The project's line length, read from `pyproject.toml` once (see [`Config::line_length`]).
    line_length: std::sync::OnceLock<usize>,
}

impl Config {
    /// Loads `explicit`, or the nearest `strata.toml` above `start`, or the built-in default rooted at `start`.
    /// Without a `strata.toml` above `start`, the built-in layout is rooted at `default_root`.
    pub fn discover(explicit: Option<&Path>, start: &Path, default_root: &Path) -> Result<Self, ConfigError> {
        if let Some(path) = explicit {
            let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            return Self::from_file(path, root);
        }
        let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Self::from_file(&candidate, dir.to_path_buf());
            }
        }
        Self::from_text(DEFAULT_TOML, Path::new("<default strata.toml>"), default_root.to_path_buf(), None)
    }

    /// The line length generated code is wrapped to (see [`PythonConfig::line_length`]).
    pub fn line_length(&self) -> usize {
        *self.line_length.get_or_init(|| self.read_line_length())
    }

    fn read_line_length(&self) -> usize {
        if let Some(n) = self.file.python.line_length {
            return n;
        }
        let dirs = std::iter::once(".".to_string()).chain(self.file.python.import_roots.iter().cloned());
        let from_pyproject = |dir: String| {
            let text = std::fs::read_to_string(self.root.join(dir).join("pyproject.toml")).ok()?;
            let table: toml::Table = text.parse().ok()?;
            let tool = table.get("tool")?.as_table()?;
            ["ruff", "black"].iter().find_map(|t| tool.get(*t)?.get("line-length")?.as_integer())
        };
        dirs.filter_map(from_pyproject).next().and_then(|n| usize::try_from(n).ok()).unwrap_or(88)
    }

    fn from_file(path: &Path, root: PathBuf) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| TomlFileError::Read { path: path.to_path_buf(), error })?;
        let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
        Self::from_text(&text, path, root, Some(path.to_path_buf()))
    }

    fn from_text(text: &str, label: &Path, root: PathBuf, source: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file: ConfigFile = tomlfile::parse(text, label)?;
        let patterns: Vec<(String, Vec<String>)> =
            file.layers.iter().map(|(name, layer)| (name.clone(), layer.paths.clone())).collect();
        let layers = Layers::compile(&patterns)
            .map_err(|error| ConfigError::Layer { path: label.display().to_string(), error })?;
        if file.python.import_roots.is_empty() {
            return Err(ConfigError::Invalid {
                path: label.display().to_string(),
                message: "`python.import_roots` is empty; list at least one directory (\".\" for the root)".into(),
            });
        }
        Ok(Config { root, source, file, layers, line_length: std::sync::OnceLock::new() })
    }

    pub fn recipe_dirs(&self) -> Vec<PathBuf> {
        self.file.recipes.dirs.iter().map(|d| self.root.join(d)).collect()
    }

    pub fn exceptions_path(&self) -> PathBuf {
        self.root.join(&self.file.exceptions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses_and_has_the_hoc_layers() {
        let config = Config::from_text(DEFAULT_TOML, Path::new("d"), PathBuf::from("."), None).unwrap();
        let names: Vec<&str> = config.layers.names().collect();
        assert_eq!(names, vec!["l2", "l4", "l5", "l6"]);
        let placed = config.layers.classify("backend/app/hoc/api/cus/catalog/widgets.py");
        assert_eq!(placed.layer.as_deref(), Some("l2"));
        assert_eq!(placed.captures["domain"], "catalog");
        assert_eq!(placed.captures["module"], "widgets");
    }

    #[test]
    fn layers_keep_the_order_of_the_file() {
        let text =
            DEFAULT_TOML.replace("[layers.l2]", "[layers.zz]\npaths = [\"backend/**/{module}.py\"]\n\n[layers.l2]");
        let config = Config::from_text(&text, Path::new("d"), PathBuf::from("."), None).unwrap();
        let names: Vec<&str> = config.layers.names().collect();
        assert_eq!(names, vec!["zz", "l2", "l4", "l5", "l6"]);
        let placed = config.layers.classify("backend/app/hoc/api/cus/catalog/widgets.py");
        assert_eq!(placed.layer.as_deref(), Some("zz"));
    }
}
