//! The pipeline: load a project, walk and classify files, prefilter by literal, parse once, run every rule.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use thiserror::Error;

use crate::callers::ProjectCallers;
use crate::config::{Config, ConfigError};
use crate::discover::{self, Candidate, DiscoverError};
use crate::exceptions::{self, Exceptions, ExceptionsError};
use crate::layers::Placement;
use crate::matching::prefilter::LiteralIndex;
use crate::matching::rule::{Rule, RuleError, RuleMatch};
use crate::matching::{FileContext, Matcher};
use crate::python::{self, SourceFile};
use crate::recipe::{self, EditSpec, LoadedRecipe, RecipeError};
use crate::templates::{self, Scope, TemplateError, Templates};
use crate::tomlfile::{self, Key};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Exceptions(#[from] ExceptionsError),
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error("recipe `{recipe}`: {message}")]
    Transform { recipe: String, message: String },
    #[error("{config}: layer `{layer}`: `requires`: {message}")]
    Requirement { config: String, layer: String, message: String },
    #[error("{flag} `{item}` matches no rule id (an id or the start of ids); known ids: {known}")]
    Selection { flag: &'static str, item: String, known: String },
}

/// Runs over fewer files finish too fast for a progress bar to help.
const PROGRESS_THRESHOLD: usize = 2000;

/// How to find the project and which recipes to run.
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    pub config: Option<PathBuf>,
    /// Where to look for `strata.toml` upward from (the first path argument, else the working directory).
    pub start: PathBuf,
    /// The project root when no `strata.toml` is found (the git top level, else the working directory).
    pub default_root: PathBuf,
    pub recipe_dirs: Vec<PathBuf>,
    /// Recipe ids or id prefixes chosen on the command line; empty means the configuration's selection.
    pub select: Vec<String>,
    /// Recipe ids or id prefixes left out on the command line (`--ignore`).
    pub ignore: Vec<String>,
}

/// Everything a run needs, compiled once: configuration, rules, templates and exceptions.
pub struct Project {
    pub config: Config,
    pub recipes: Vec<LoadedRecipe>,
    pub rules: Vec<Rule>,
    pub templates: Templates,
    pub exceptions: Exceptions,
    literals: LiteralIndex,
    /// What a file must contain to be in a layer, by layer (`requires` in `strata.toml`).
    requirements: HashMap<String, Matcher>,
    /// The configuration as templates see it (`{{ config.registry.module }}`), built once.
    config_value: minijinja::Value,
}

/// A file that could not be analysed; reported as a warning, the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
    /// It could not be read at all (an I/O error), so the run's result is incomplete: exit 2.
    pub unreadable: bool,
}

/// Counts that show how much work the prefilters saved.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct WalkStats {
    pub discovered: usize,
    pub read: usize,
    pub parsed: usize,
}

/// One parsed file and what each applicable rule matched in it.
pub struct Analysed<'f> {
    pub ctx: FileContext<'f>,
    pub placement: Placement,
    pub matches: Vec<(&'f Rule, Vec<RuleMatch<'f>>)>,
}

impl Project {
    pub fn load(options: &ProjectOptions) -> Result<Self, EngineError> {
        let config = Config::discover(options.config.as_deref(), &options.start, &options.default_root)?;
        let mut dirs = config.recipe_dirs();
        dirs.extend(options.recipe_dirs.iter().cloned());
        let recipes = recipe::load(&dirs)?;
        let selected = select_ids(&config, &recipes, &options.select)?;
        let ignored: Vec<String> =
            recipe::expand(&resolve_selectors("--ignore", &options.ignore, &recipes)?, &recipes)?
                .into_iter()
                .map(|r| r.recipe.id.clone())
                .collect();
        let layer_names: Vec<&str> = config.layers.names().collect();
        let config_json = serde_json::to_value(&config.file).unwrap_or_default();
        let mut templates = Templates::default();
        crate::transform::register_templates(&mut templates, &dirs, &config.layers.capture_names(None))?;
        check_config_templates(&templates, &config)?;
        let rules = recipe::expand(&selected, &recipes)?
            .into_iter()
            .filter(|loaded| !ignored.contains(&loaded.recipe.id))
            .map(|loaded| {
                let rule = Rule::compile(loaded, &layer_names)?;
                register_templates(&mut templates, &rule, loaded, &config, &config_json)?;
                Ok(rule)
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let exceptions = Exceptions::load(&config.exceptions_path(), exceptions::today())?;
        check_exception_rules(&exceptions, &recipes, &config.exceptions_path())?;
        let literals = LiteralIndex::build(&rules);
        let requirements = layer_requirements(&config)?;
        let config_value = minijinja::Value::from_serialize(&config.file);
        Ok(Project { config, recipes, rules, templates, exceptions, literals, requirements, config_value })
    }

    /// What a recipe's template renders with: a match's variables and `config`.
    pub fn template_context(&self, vars: &BTreeMap<String, String>) -> minijinja::Value {
        minijinja::context! { config => self.config_value.clone(), ..minijinja::Value::from_serialize(vars) }
    }

    /// Renders a template given as text (a configuration value) with structured variables.
    pub fn render_str(&self, source: &str, context: &minijinja::Value) -> Result<String, TemplateError> {
        self.templates.render_str(source, context)
    }

    /// Renders a recipe's template (named by [`template_name`]) for a match's variables.
    pub fn render(&self, name: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        self.templates.render(name, &self.template_context(vars))
    }

    pub fn root(&self) -> &Path {
        &self.config.root
    }

    pub fn candidates(&self, paths: &[PathBuf]) -> Result<Vec<Candidate>, EngineError> {
        Ok(discover::python_files(self.root(), paths)?)
    }

    /// Places files by their paths alone (recipe test cases are snippets).
    pub fn ignore_layer_requirements(&mut self) {
        self.requirements.clear();
    }

    /// [`Project::candidates`], and the entries the walk could not read, as skipped.
    pub fn walk(&self, paths: &[PathBuf]) -> Result<(Vec<Candidate>, Vec<Skipped>), EngineError> {
        let found = discover::walk(self.root(), paths)?;
        let unreadable =
            found.unreadable.into_iter().map(|(path, reason)| Skipped { path, reason, unreadable: true }).collect();
        Ok((found.files, unreadable))
    }

    /// Runs every applicable rule on each candidate in parallel and hands each parsed file to `visit`.
    /// Files outside every rule's scope are not read; files without the rules' literals are not parsed.
    pub fn analyse<T: Send>(
        &self,
        candidates: &[Candidate],
        visit: impl Fn(&Analysed<'_>) -> T + Sync,
    ) -> (Vec<T>, Vec<Skipped>, WalkStats) {
        self.analyse_with(candidates, &BTreeMap::new(), visit)
    }

    /// Like [`Project::analyse`], reading files from `contents` (a fix run's in-memory state) first.
    pub fn analyse_with<T: Send>(
        &self,
        candidates: &[Candidate],
        contents: &BTreeMap<String, String>,
        visit: impl Fn(&Analysed<'_>) -> T + Sync,
    ) -> (Vec<T>, Vec<Skipped>, WalkStats) {
        // Only long runs get a bar, on stderr and only when it is a terminal (indicatif hides itself otherwise).
        let bar = crate::progress::bar(
            Some(candidates.len() as u64),
            "{bar:40} {pos}/{len} files",
            candidates.len() >= PROGRESS_THRESHOLD,
        );
        let callers = ProjectCallers::new(self, contents);
        let facts = crate::guard::GuardFacts::new(&self.config, contents);
        let outcomes: Vec<FileOutcome<T>> = candidates
            .par_iter()
            .map(|candidate| {
                let outcome = self.analyse_one(candidate, contents, &callers, &facts, &visit);
                bar.inc(1);
                outcome
            })
            .collect();
        bar.finish_and_clear();
        let mut results = Vec::new();
        let mut skipped = Vec::new();
        let mut stats = WalkStats { discovered: candidates.len(), ..WalkStats::default() };
        for outcome in outcomes {
            match outcome {
                FileOutcome::OutOfScope => {}
                FileOutcome::Filtered => stats.read += 1,
                FileOutcome::Skipped(s) => {
                    stats.read += 1;
                    skipped.push(s);
                }
                FileOutcome::Done(value) => {
                    stats.read += 1;
                    stats.parsed += 1;
                    results.push(value);
                }
            }
        }
        (results, skipped, stats)
    }

    fn analyse_one<T>(
        &self,
        candidate: &Candidate,
        contents: &BTreeMap<String, String>,
        callers: &ProjectCallers,
        facts: &crate::guard::GuardFacts,
        visit: &impl Fn(&Analysed<'_>) -> T,
    ) -> FileOutcome<T> {
        let rel = &candidate.rel_path;
        // The layers the file may be in; which one it is in may depend on its code (`requires`).
        let mut placements = self.config.layers.candidates(rel);
        placements.push(Placement::default());
        let in_scope: Vec<&Rule> =
            self.rules.iter().filter(|r| placements.iter().any(|p| r.in_scope(rel, p))).collect();
        if in_scope.is_empty() {
            return FileOutcome::OutOfScope;
        }
        let skipped = |reason: String, unreadable: bool| {
            FileOutcome::Skipped(Skipped { path: candidate.rel_path.clone(), reason, unreadable })
        };
        let skip = |reason: String| skipped(reason, false);
        let read = match contents.get(&candidate.rel_path) {
            Some(text) => Ok(text.clone().into_bytes()),
            None => std::fs::read(&candidate.abs_path),
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return skipped(format!("cannot read: {e}"), true),
        };
        // Bytes that are not UTF-8 source are reported even when the prefilter would drop the file
        // unparsed: one validation pass, cheap next to reading it.
        if let Err(e) = python::check_encoding(&bytes) {
            return skip(e.to_string());
        }
        let found = self.literals.scan(&bytes);
        let to_run: Vec<&Rule> = in_scope.into_iter().filter(|r| self.literals.passes(r, &found)).collect();
        // A file no rule needs to parse is still parsed when it may hold an inline suppression,
        // so that one which suppresses nothing there is reported stale.
        if to_run.is_empty() && !exceptions::inline::may_contain(&bytes) {
            return FileOutcome::Filtered;
        }
        let file = match SourceFile::parse(candidate.rel_path.clone(), candidate.abs_path.clone(), bytes) {
            Ok(file) => file,
            Err(e) => return skip(e.to_string()),
        };
        let placement = placements
            .into_iter()
            .find(|p| {
                let required = p.layer.as_ref().and_then(|layer| self.requirements.get(layer));
                required.is_none_or(|m| {
                    m.find_first(file.tree.root_node(), &FileContext::alone(&file), &mut Default::default(), |_| true)
                })
            })
            .unwrap_or_default();
        let to_run: Vec<&Rule> = to_run.into_iter().filter(|r| r.in_scope(rel, &placement)).collect();
        let module = python::module_name(&file.rel_path, &self.config.file.python.import_roots);
        let is_package = file.rel_path.ends_with("__init__.py");
        let ctx = FileContext { file: &file, module, is_package, callers: Some(callers), facts: Some(facts) };
        let matches = to_run.into_iter().map(|rule| (rule, rule.run(&ctx))).collect();
        FileOutcome::Done(visit(&Analysed { ctx, placement, matches }))
    }
}

enum FileOutcome<T> {
    OutOfScope,
    Filtered,
    Skipped(Skipped),
    Done(T),
}

/// The recipe ids a run uses: the command line's, else the configuration's, else every simple recipe.
fn select_ids(config: &Config, recipes: &[LoadedRecipe], cli: &[String]) -> Result<Vec<String>, EngineError> {
    let chosen: Vec<String> = if cli.iter().any(|item| !item.trim().is_empty()) {
        resolve_selectors("--select", cli, recipes)?
    } else if !config.file.recipes.enabled.is_empty() {
        config.file.recipes.enabled.clone()
    } else {
        recipes.iter().filter(|r| r.recipe.include.is_empty()).map(|r| r.recipe.id.clone()).collect()
    };
    Ok(chosen.into_iter().filter(|id| !config.file.recipes.disabled.contains(id)).collect())
}

/// The recipe ids that command-line items name: each item (spaces around it ignored, empty ones
/// skipped) is an id, or else the start of ids (`l6` names every id beginning with `l6`).
/// An item that names nothing is an error listing the known ids.
pub fn resolve_selectors(
    flag: &'static str,
    items: &[String],
    recipes: &[LoadedRecipe],
) -> Result<Vec<String>, EngineError> {
    let mut ids: Vec<String> = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let found: Vec<&str> = if recipes.iter().any(|r| r.recipe.id == item) {
            vec![item]
        } else {
            recipes.iter().map(|r| r.recipe.id.as_str()).filter(|id| id.starts_with(item)).collect()
        };
        if found.is_empty() {
            let mut known: Vec<&str> = recipes.iter().map(|r| r.recipe.id.as_str()).collect();
            known.sort_unstable();
            return Err(EngineError::Selection { flag, item: item.to_string(), known: known.join(", ") });
        }
        for id in found {
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
    }
    Ok(ids)
}

/// The name a recipe's template is registered, rendered and reported under: its TOML key path
/// (`l6-transaction.message`, `l6-transaction.fix[2].description`, `....fix[0].edits[1].with`).
pub fn template_name(id: &str, part: &str) -> String {
    format!("{id}.{part}")
}

/// The variables every recipe template sees besides metavariables (see `diagnostics::match_vars`).
const MATCH_VARS: &[&str] = &["path", "layer", "module_name", "module", "function", "class", "config"];

/// Compiles each template a rule declares and checks the variables it reads against those it can
/// see, so a broken template or a misspelt name fails at load time (with the recipe file, line and
/// name), never mid-run as manual sites or text in generated code.
fn register_templates(
    templates: &mut Templates,
    rule: &Rule,
    loaded: &LoadedRecipe,
    config: &Config,
    config_json: &serde_json::Value,
) -> Result<(), EngineError> {
    let id = rule.id();
    let layers = &rule.recipe.scope.layers;
    let mut captures = config.layers.capture_names(None);
    if !layers.is_empty() {
        captures = layers.iter().flat_map(|l| config.layers.capture_names(Some(l))).collect();
    }
    let base = Scope {
        names: captures.into_iter().chain(MATCH_VARS.iter().map(|v| v.to_string())).collect(),
        config: Some(config_json),
    };
    let mut site = RecipeTemplates { templates, loaded, text: None };
    let matched = base.with(rule.metavariables());
    site.add(&template_name(id, "message"), &rule.recipe.message, &[Key::Name("message")], &matched)?;
    for (i, fix) in rule.fixes.iter().enumerate() {
        let when = matched.with(fix.when.bound_metavariables());
        for (part, source) in
            [("description", &fix.case.description), ("reason", &fix.case.reason), ("follow_up", &fix.case.follow_up)]
        {
            let path = [Key::Name("fix"), Key::Index(i), Key::Name(part)];
            site.add(&template_name(id, &format!("fix[{i}].{part}")), source, &path, &when)?;
        }
        if let Some(transform) = &fix.case.transform {
            crate::transform::validate(&transform.name, &transform.params)
                .map_err(|message| EngineError::Transform { recipe: id.to_string(), message })?;
        }
        for (j, edit) in fix.case.edits.iter().enumerate() {
            let sources: Vec<(&str, &str)> = match edit {
                EditSpec::Replace { with, .. }
                | EditSpec::InsertBefore { with, .. }
                | EditSpec::InsertAfter { with, .. } => vec![("with", with)],
                EditSpec::CreateFile { path, with } => vec![("path", path), ("with", with)],
                EditSpec::EditFile { path, append } => vec![("path", path), ("append", append)],
                EditSpec::AddImport { module, .. } | EditSpec::RemoveImport { module, .. } => vec![("module", module)],
                EditSpec::Delete { .. } => vec![],
            };
            let selected = fix.selects[j].as_ref().map(|m| m.metavariables()).unwrap_or_default();
            let scope = when.with(selected);
            for (part, source) in sources {
                let path = [Key::Name("fix"), Key::Index(i), Key::Name("edits"), Key::Index(j), Key::Name(part)];
                site.add(&template_name(id, &format!("fix[{i}].edits[{j}].{part}")), source, &path, &scope)?;
            }
        }
    }
    Ok(())
}

/// Compiles each layer's `requires` patterns (any of them) into one matcher.
fn layer_requirements(config: &Config) -> Result<HashMap<String, Matcher>, EngineError> {
    let label = config.source.as_ref().map_or("the built-in layout".to_string(), |p| p.display().to_string());
    config
        .file
        .layers
        .iter()
        .filter(|(_, layer)| !layer.requires.is_empty())
        .map(|(name, layer)| {
            let spec = crate::recipe::MatchSpec { any: layer.requires.clone(), ..Default::default() };
            let matcher = Matcher::compile(&spec).map_err(|e| EngineError::Requirement {
                config: label.clone(),
                layer: name.clone(),
                message: e.to_string(),
            })?;
            Ok((name.clone(), matcher))
        })
        .collect()
}

/// A recipe's templates being registered; its file is read only to place an error.
struct RecipeTemplates<'a> {
    templates: &'a mut Templates,
    loaded: &'a LoadedRecipe,
    text: Option<Option<String>>,
}

impl RecipeTemplates<'_> {
    fn add(&mut self, name: &str, source: &str, path: &[Key], scope: &Scope) -> Result<(), TemplateError> {
        let problem = match self.templates.check(source, scope) {
            Ok(()) => return self.templates.add(name, source),
            Err(problem) => problem,
        };
        let text = self.text.get_or_insert_with(|| recipe::source_text(&self.loaded.origin)).as_deref();
        let span = text.and_then(|t| tomlfile::value_span(t, path));
        let key = name.split_once('.').map_or(name, |(_, key)| key);
        let file = self.loaded.origin.to_string();
        Err(templates::load_error(&file, text, span, &format!("{key}` of recipe `{}", self.loaded.recipe.id), problem))
    }
}

/// Checks the naming templates of `strata.toml` (`[naming]`, `registry.error_code`) against the
/// variables they are rendered with: the layer captures, `domain`, `module` and `registry`.
fn check_config_templates(templates: &Templates, config: &Config) -> Result<(), TemplateError> {
    let (file, text) = match &config.source {
        Some(path) => (path.display().to_string(), std::fs::read_to_string(path).ok()),
        None => ("<default strata.toml>".to_string(), Some(crate::config::DEFAULT_TOML.to_string())),
    };
    let naming = &config.file.naming;
    let mut names: std::collections::BTreeSet<String> = config.layers.capture_names(None).into_iter().collect();
    names.extend(["domain", "module", "registry"].map(String::from));
    let scope = Scope { names, config: None };
    let exception = Scope { names: ["exception".to_string()].into(), config: None };
    let commit = Scope { names: ["rules", "change_sets", "manual"].map(String::from).into(), config: None };
    let pr = Scope { names: ["branch", "rules", "change_sets"].map(String::from).into(), config: None };
    let migrate = &config.file.migrate;
    let checks = [
        ("migrate", "subject", &migrate.subject, &commit),
        ("migrate", "body", &migrate.body, &commit),
        ("migrate", "pr_title", &migrate.pr_title, &pr),
        ("naming", "driver_path", &naming.driver_path, &scope),
        ("naming", "handler_module", &naming.handler_module, &scope),
        ("naming", "handler_class", &naming.handler_class, &scope),
        ("naming", "operation", &naming.operation, &scope),
        ("naming", "schemas_path", &naming.schemas_path, &scope),
        ("registry", "error_code", &config.file.registry.error_code, &exception),
    ];
    for (table, key, source, scope) in checks {
        if let Err(problem) = templates.check(source, scope) {
            let span = text.as_deref().and_then(|t| tomlfile::value_span(t, &[Key::Name(table), Key::Name(key)]));
            return Err(templates::load_error(&file, text.as_deref(), span, &format!("{table}.{key}"), problem));
        }
    }
    Ok(())
}

/// An exception for a rule that does not exist can never apply: an error (a typo, or a rule that
/// was renamed), not a stale exception.
fn check_exception_rules(
    exceptions: &Exceptions,
    recipes: &[LoadedRecipe],
    path: &Path,
) -> Result<(), ExceptionsError> {
    let rules: Vec<String> =
        recipes.iter().filter(|r| r.recipe.include.is_empty()).map(|r| r.recipe.id.clone()).collect();
    for (i, exception) in exceptions.items.iter().enumerate() {
        let rule = &exception.entry.rule;
        if rules.contains(rule) {
            continue;
        }
        let message = match recipes.iter().find(|r| &r.recipe.id == rule) {
            Some(composite) => format!(
                "`{rule}` is a composite of {}; an exception names one of those rules",
                composite.recipe.include.join(", ")
            ),
            None => {
                let hint =
                    templates::closest(rule, &rules).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                format!("no rule has the id `{rule}`{hint}; the known ids are: {}", rules.join(", "))
            }
        };
        return Err(ExceptionsError::Invalid { path: path.to_path_buf(), index: i + 1, rule: rule.clone(), message });
    }
    Ok(())
}
