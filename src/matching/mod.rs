//! Matching: compiled patterns, queries, constraints and relations, run on one parsed file.

pub mod pattern;
pub mod prefilter;
pub mod rule;

use regex::Regex;
use streaming_iterator::StreamingIterator;
use thiserror::Error;
use tree_sitter::{Node, Query, QueryCursor};

pub use pattern::{Bindings, Bound, Pattern, PatternError};

use crate::python::{self, SourceFile};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::recipe::{Constraint, MatchSpec, Relations};

#[derive(Debug, Error)]
pub enum MatchError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("invalid tree-sitter query at line {line}, column {column}: {message}")]
    Query { line: usize, column: usize, message: String },
    #[error("constraint on `${name}`: invalid regex: {message}")]
    Regex { name: String, message: String },
    #[error("unknown node kind `{0}` (see the tree-sitter-python grammar for node kinds)")]
    Kind(String),
    #[error("a match needs `pattern`, `any`, `query` or `kind`")]
    Empty,
    #[error("use only one of `pattern`, `any` and `query`")]
    Ambiguous,
}

/// What a matcher needs to know about the file besides its tree.
pub struct FileContext<'f> {
    pub file: &'f SourceFile,
    /// Dotted module name (for resolving relative imports), when the file is under an import root.
    pub module: Option<String>,
    pub is_package: bool,
    /// Where the rest of the project calls a function (for `callers_have`); `None` outside a project run.
    pub callers: Option<&'f dyn CallerLookup>,
    /// Project-wide facts for `module_layer` and `registered` constraints; `None` outside a project run.
    pub facts: Option<&'f dyn ProjectFacts>,
}

/// Facts about the whole project that a constraint may ask about.
pub trait ProjectFacts: Sync {
    /// The layer of a module's file, when the module is a project file in a layer.
    fn module_layer(&self, module: &str) -> Option<String>;
    /// Whether a registration that runs provides the operation.
    fn is_registered(&self, operation: &str) -> bool;
}

/// A call of a function by name somewhere in the project.
pub struct CallSite {
    pub file: Arc<SourceFile>,
    /// The dotted module of `file`, when it is under an import root.
    pub module: Option<String>,
    /// Byte range of the call expression in `file` (of the import statement, for an alias).
    pub call: std::ops::Range<usize>,
}

impl CallSite {
    /// For an aliased import site (`from m import f as g`): whether `m` may be `module` (also when
    /// either cannot be resolved), so that calls through the alias may reach the function.
    pub fn may_import_from(&self, module: Option<&str>) -> bool {
        let root = self.file.tree.root_node();
        let stmt = root.descendant_for_byte_range(self.call.start, self.call.end);
        let reference = stmt.and_then(|s| s.child_by_field_name("module_name")).map(|m| self.file.node_text(m));
        match (reference, &self.module, module) {
            (Some(reference), Some(importer), Some(wanted)) => {
                python::resolve_module(reference, importer, self.file.rel_path.ends_with("__init__.py")) == wanted
            }
            _ => true,
        }
    }
}

/// Finds the call sites of a function by name across the project.
pub trait CallerLookup: Sync {
    fn call_sites(&self, name: &str) -> Vec<CallSite>;
    /// `from m import name as other` statements: calls through `other` are not indexed by name.
    fn aliased_imports(&self, name: &str) -> Vec<CallSite>;
    /// Where matchers match in caller functions, remembered for the lookup's lifetime.
    fn caller_matches(&self) -> &CallerMatches;
}

/// Start bytes of a matcher's matches in a caller function, by (matcher, file, function start):
/// the many sites of one driver share their callers, and a caller with n calls must not be
/// searched n times.
#[derive(Default)]
pub struct CallerMatches(Mutex<HashMap<CallerKey, Arc<Vec<usize>>>>);

/// (matcher address, caller file, caller function start byte).
type CallerKey = (usize, String, usize);

impl CallerMatches {
    fn starts<'t>(&self, m: &Matcher, file: &'t SourceFile, function: Node<'t>) -> Arc<Vec<usize>> {
        // The matcher's address identifies it: matchers live in the project for the whole run.
        let key = (m as *const Matcher as usize, file.rel_path.clone(), function.start_byte());
        if let Some(known) = self.0.lock().ok().and_then(|memo| memo.get(&key).cloned()) {
            return known;
        }
        let ctx = FileContext::alone(file);
        let mut starts = Vec::new();
        for_each_node(function, |n| {
            if m.matches_at(n, &ctx, &mut Bindings::default()) {
                starts.push(n.start_byte());
            }
        });
        let starts = Arc::new(starts);
        if let Ok(mut memo) = self.0.lock() {
            memo.insert(key, starts.clone());
        }
        starts
    }
}

impl<'f> FileContext<'f> {
    /// A file on its own, for questions about its code alone (no callers, no project facts).
    pub fn alone(file: &'f SourceFile) -> Self {
        FileContext { file, module: None, is_package: false, callers: None, facts: None }
    }

    fn text(&self) -> &str {
        &self.file.text
    }
}

#[derive(Debug)]
struct CompiledConstraint {
    name: String,
    regex: Option<Regex>,
    not_regex: Option<Regex>,
    module: Option<Regex>,
    module_layer: Option<Vec<String>>,
    registered: Option<bool>,
}

impl CompiledConstraint {
    fn holds(&self, env: &Bindings, ctx: &FileContext) -> bool {
        // A constraint on an unbound metavariable (e.g. an empty `$$$` run) holds vacuously for `not_regex`.
        let Some(text) = env.text(&self.name, ctx.text()) else {
            return self.regex.is_none()
                && self.module.is_none()
                && self.module_layer.is_none()
                && self.registered.is_none();
        };
        let text = text.as_ref();
        if self.regex.as_ref().is_some_and(|r| !r.is_match(text)) {
            return false;
        }
        if self.not_regex.as_ref().is_some_and(|r| r.is_match(text)) {
            return false;
        }
        if let Some(module_regex) = &self.module {
            if !imported_modules(text, env.get(&self.name), ctx).iter().any(|m| module_regex.is_match(m)) {
                return false;
            }
        }
        if let Some(layers) = &self.module_layer {
            // Outside a project run nothing is known about other files: the constraint fails.
            let Some(facts) = ctx.facts else { return false };
            let in_layer = imported_modules(text, env.get(&self.name), ctx)
                .iter()
                .any(|m| facts.module_layer(m).is_some_and(|layer| layers.contains(&layer)));
            if !in_layer {
                return false;
            }
        }
        if let Some(wanted) = self.registered {
            let t = text.trim();
            let quoted =
                t.len() >= 2 && (t.starts_with('"') && t.ends_with('"') || t.starts_with('\'') && t.ends_with('\''));
            let (Some(facts), true) = (ctx.facts, quoted) else { return false };
            if facts.is_registered(&t[1..t.len() - 1]) != wanted {
                return false;
            }
        }
        true
    }
}

/// The modules an import reference brings in: `M` itself, and `M.n` for each `n` of `from M import n`.
fn imported_modules(reference: &str, bound: Option<&Bound>, ctx: &FileContext) -> Vec<String> {
    let reference: String = reference.chars().filter(|c| !c.is_whitespace()).collect();
    let resolved = match &ctx.module {
        Some(importer) => python::resolve_module(&reference, importer, ctx.is_package),
        None => reference,
    };
    let mut modules = vec![resolved.clone()];
    let statement = match bound {
        Some(Bound::Node(node)) => node.parent().filter(|p| p.kind() == "import_from_statement"),
        _ => None,
    };
    if let Some(statement) = statement {
        let mut cursor = statement.walk();
        for name in statement.children_by_field_name("name", &mut cursor) {
            let name = match name.kind() {
                "aliased_import" => name.child_by_field_name("name").unwrap_or(name),
                _ => name,
            };
            modules.push(format!("{resolved}.{}", &ctx.text()[name.byte_range()]));
        }
    }
    modules
}

fn compile_constraints(constraints: &BTreeMap<String, Constraint>) -> Result<Vec<CompiledConstraint>, MatchError> {
    constraints
        .iter()
        .map(|(name, c)| {
            let compile = |r: &Option<String>| {
                r.as_deref()
                    .map(Regex::new)
                    .transpose()
                    .map_err(|e| MatchError::Regex { name: name.clone(), message: e.to_string() })
            };
            Ok(CompiledConstraint {
                name: name.trim_start_matches('$').to_string(),
                regex: compile(&c.regex)?,
                not_regex: compile(&c.not_regex)?,
                module: compile(&c.module)?,
                module_layer: c.module_layer.clone(),
                registered: c.registered,
            })
        })
        .collect()
}

/// The words of a constraint regex that ends in a plain alternation such as `^(commit|rollback)$`:
/// one of them must occur in any matching file, so they serve as a literal prefilter.
fn alternation_literals(regex: &str) -> Option<Vec<String>> {
    let body = regex.strip_suffix(")$")?;
    let open = body.rfind('(')?;
    let words: Vec<String> = body[open + 1..].trim_start_matches("?:").split('|').map(str::to_string).collect();
    let plain = words.iter().all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    plain.then_some(words)
}

#[derive(Debug)]
enum Finder {
    Patterns(Vec<Pattern>),
    Query(Box<Query>),
    KindOnly,
}

/// A compiled `MatchSpec`: alternatives, an optional kind restriction and metavariable constraints.
#[derive(Debug)]
pub struct Matcher {
    finder: Finder,
    kind: Option<&'static str>,
    constraints: Vec<CompiledConstraint>,
}

impl Matcher {
    pub fn compile(spec: &MatchSpec) -> Result<Self, MatchError> {
        let language = python::language();
        let kind = match &spec.kind {
            Some(kind) => {
                let id = language.id_for_node_kind(kind, true);
                if id == 0 {
                    return Err(MatchError::Kind(kind.clone()));
                }
                language.node_kind_for_id(id)
            }
            None => None,
        };
        let sources: Vec<&String> = spec.pattern.iter().chain(spec.any.iter()).collect();
        let finder = match (sources.is_empty(), &spec.query) {
            (false, Some(_)) => return Err(MatchError::Ambiguous),
            (false, None) if spec.pattern.is_some() && !spec.any.is_empty() => return Err(MatchError::Ambiguous),
            (false, None) => {
                Finder::Patterns(sources.into_iter().map(|s| Pattern::compile(s)).collect::<Result<_, _>>()?)
            }
            (true, Some(query)) => {
                Finder::Query(Box::new(Query::new(&language, query).map_err(|e| MatchError::Query {
                    line: e.row + 1,
                    column: e.column + 1,
                    message: e.message,
                })?))
            }
            (true, None) if kind.is_some() => Finder::KindOnly,
            (true, None) => return Err(MatchError::Empty),
        };
        let constraints = compile_constraints(&spec.constraints)?;
        Ok(Matcher { finder, kind, constraints })
    }

    /// The names a match binds: the patterns' metavariables, or the query's capture names.
    pub fn metavariables(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.finder {
            Finder::Patterns(patterns) => patterns.iter().flat_map(Pattern::metavariables).collect(),
            Finder::Query(query) => query.capture_names().iter().map(|n| n.to_string()).collect(),
            Finder::KindOnly => Vec::new(),
        };
        names.sort();
        names.dedup();
        names
    }

    /// For each alternative, the identifiers a file must contain; `None` when no literal is required.
    pub fn literal_alternatives(&self) -> Option<Vec<Vec<String>>> {
        match &self.finder {
            Finder::Patterns(patterns) => {
                let mut alternatives = Vec::new();
                for pattern in patterns {
                    let literals = pattern.literals();
                    let vars = pattern.metavariables();
                    let words = self
                        .constraints
                        .iter()
                        .filter(|c| vars.contains(&c.name))
                        .find_map(|c| c.regex.as_ref().and_then(|r| alternation_literals(r.as_str())));
                    match words {
                        Some(words) => alternatives.extend(words.into_iter().map(|w| {
                            let mut alt = literals.clone();
                            alt.push(w);
                            alt
                        })),
                        None if literals.is_empty() => return None,
                        None => alternatives.push(literals),
                    }
                }
                Some(alternatives)
            }
            _ => None,
        }
    }

    /// Whether the matcher matches exactly `node`, extending `env` on success.
    pub fn matches_at<'t>(&self, node: Node<'t>, ctx: &FileContext<'t>, env: &mut Bindings<'t>) -> bool {
        if self.kind.is_some_and(|k| node.kind() != k) {
            return false;
        }
        let mut trial = env.clone();
        let found = match &self.finder {
            Finder::Patterns(patterns) => patterns
                .iter()
                .any(|p| p.root_kind().is_none_or(|k| k == node.kind()) && p.match_node(node, ctx.text(), &mut trial)),
            Finder::Query(query) => query_at(query, node, ctx, &mut trial),
            Finder::KindOnly => true,
        };
        if found && self.constraints.iter().all(|c| c.holds(&trial, ctx)) {
            *env = trial;
            true
        } else {
            false
        }
    }

    /// Every node under `root` (inclusive) that matches, in document order, each with its bindings.
    pub fn find_all<'t>(
        &self,
        root: Node<'t>,
        ctx: &FileContext<'t>,
        base: &Bindings<'t>,
    ) -> Vec<(Node<'t>, Bindings<'t>)> {
        let mut found = Vec::new();
        for_each_node(root, |node| {
            let mut env = base.clone();
            if self.matches_at(node, ctx, &mut env) {
                found.push((node, env));
            }
        });
        found
    }

    /// The first node under `root` (inclusive) accepted by `keep` that matches.
    pub fn find_first<'t>(
        &self,
        root: Node<'t>,
        ctx: &FileContext<'t>,
        env: &mut Bindings<'t>,
        keep: impl Fn(Node<'t>) -> bool,
    ) -> bool {
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if keep(node) && self.matches_at(node, ctx, env) {
                return true;
            }
            let mut cursor = node.walk();
            let children: Vec<Node> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        false
    }
}

fn query_at<'t>(query: &Query, node: Node<'t>, ctx: &FileContext<'t>, env: &mut Bindings<'t>) -> bool {
    let match_index = query.capture_index_for_name("match").unwrap_or(0);
    let mut cursor = QueryCursor::new();
    cursor.set_byte_range(node.byte_range());
    let mut matches = cursor.matches(query, node, ctx.text().as_bytes());
    while let Some(m) = matches.next() {
        if m.captures.iter().any(|c| c.index == match_index && c.node.id() == node.id()) {
            for capture in m.captures {
                let name = query.capture_names()[capture.index as usize].to_string();
                env.insert(name, Bound::Node(capture.node));
            }
            return true;
        }
    }
    false
}

/// Whether the function around `node` has call sites in the project, and each call is followed,
/// within its calling function, by a node `m` matches (e.g. the caller commits after the call).
/// Whether every call that reaches the function around `node` (resolved through each caller's
/// own imports and bindings, see [`python::calls`]) is followed in its caller by a match of `m`.
/// A call that might reach it but cannot be resolved, an import of it under another name, or no
/// caller at all: not every caller is known, so the relation does not hold.
fn every_caller_has(m: &Matcher, node: Node, ctx: &FileContext) -> bool {
    use python::calls::{reaches, Reach, Target};
    let Some(lookup) = ctx.callers else { return false };
    let Some(function) = python::enclosing_function(node) else { return false };
    let Some(name) = function.child_by_field_name("name").map(|n| ctx.file.node_text(n).to_string()) else {
        return false;
    };
    let class = python::calls::enclosing_class(function.child_by_field_name("body").unwrap_or(function))
        .and_then(|c| c.child_by_field_name("name"))
        .map(|n| ctx.file.node_text(n).to_string());
    let target =
        Target { file: &ctx.file.rel_path, module: ctx.module.as_deref(), class: class.as_deref(), name: &name };
    if lookup.aliased_imports(&name).iter().any(|site| site.may_import_from(target.module)) {
        return false;
    }
    let mut reached = 0;
    for site in lookup.call_sites(&name) {
        let root = site.file.tree.root_node();
        let Some(call) = root.descendant_for_byte_range(site.call.start, site.call.end) else { return false };
        match reaches(&site.file, site.module.as_deref(), call, &target) {
            Reach::No => continue,
            Reach::Unknown => return false,
            Reach::Yes => reached += 1,
        }
        let Some(caller) = python::enclosing_function(call) else { return false };
        let after = site.call.end;
        if !lookup.caller_matches().starts(m, &site.file, caller).iter().any(|&start| start >= after) {
            return false;
        }
    }
    reached > 0
}

pub use crate::python::for_each_node;

/// Compiled `where`/`when` relations of a match to the code around it.
#[derive(Debug, Default)]
pub struct CompiledRelations {
    inside: Option<Matcher>,
    not_inside: Option<Matcher>,
    has: Option<Matcher>,
    not_has: Option<Matcher>,
    file_has: Option<Matcher>,
    file_lacks: Option<Matcher>,
    followed_by: Option<Matcher>,
    preceded_by: Option<Matcher>,
    callers_have: Option<Matcher>,
    constraints: Vec<CompiledConstraint>,
}

#[derive(Debug, Error)]
#[error("`{relation}`: {source}")]
pub struct RelationError {
    pub relation: &'static str,
    pub source: MatchError,
}

impl CompiledRelations {
    pub fn compile(relations: &Relations) -> Result<Self, RelationError> {
        let compile = |relation: &'static str, spec: &Option<MatchSpec>| {
            spec.as_ref().map(Matcher::compile).transpose().map_err(|source| RelationError { relation, source })
        };
        Ok(CompiledRelations {
            inside: compile("inside", &relations.inside)?,
            not_inside: compile("not_inside", &relations.not_inside)?,
            has: compile("has", &relations.has)?,
            not_has: compile("not_has", &relations.not_has)?,
            file_has: compile("file_has", &relations.file_has)?,
            file_lacks: compile("file_lacks", &relations.file_lacks)?,
            followed_by: compile("followed_by", &relations.followed_by)?,
            preceded_by: compile("preceded_by", &relations.preceded_by)?,
            callers_have: compile("callers_have", &relations.callers_have)?,
            constraints: compile_constraints(&relations.constraints)
                .map_err(|source| RelationError { relation: "constraints", source })?,
        })
    }

    /// The metavariables the relations add to a match's bindings: those of the positive relations
    /// (`inside`, `has`, `file_has`, `followed_by`, `preceded_by`); negative ones bind nothing.
    pub fn bound_metavariables(&self) -> Vec<String> {
        [&self.inside, &self.has, &self.file_has, &self.followed_by, &self.preceded_by]
            .into_iter()
            .flatten()
            .flat_map(Matcher::metavariables)
            .collect()
    }

    /// Whether every relation holds for `node`; bindings made by positive relations are kept in `env`.
    pub fn hold<'t>(&self, node: Node<'t>, ctx: &FileContext<'t>, env: &mut Bindings<'t>) -> bool {
        let root = ctx.file.tree.root_node();
        let ancestors = || std::iter::successors(node.parent(), |n| n.parent());
        let scope = python::enclosing_function(node).unwrap_or(root);
        let (start, end) = (node.start_byte(), node.end_byte());
        if let Some(m) = &self.inside {
            if !ancestors().any(|a| m.matches_at(a, ctx, env)) {
                return false;
            }
        }
        if let Some(m) = &self.not_inside {
            if ancestors().any(|a| m.matches_at(a, ctx, &mut env.clone())) {
                return false;
            }
        }
        if let Some(m) = &self.has {
            if !m.find_first(node, ctx, env, |n| n.id() != node.id()) {
                return false;
            }
        }
        if let Some(m) = &self.not_has {
            if m.find_first(node, ctx, &mut env.clone(), |n| n.id() != node.id()) {
                return false;
            }
        }
        if let Some(m) = &self.file_has {
            if !m.find_first(root, ctx, env, |_| true) {
                return false;
            }
        }
        if let Some(m) = &self.file_lacks {
            if m.find_first(root, ctx, &mut env.clone(), |_| true) {
                return false;
            }
        }
        if let Some(m) = &self.followed_by {
            if !m.find_first(scope, ctx, env, |n| n.start_byte() >= end) {
                return false;
            }
        }
        if let Some(m) = &self.preceded_by {
            if !m.find_first(scope, ctx, env, |n| n.end_byte() <= start) {
                return false;
            }
        }
        if let Some(m) = &self.callers_have {
            if !every_caller_has(m, node, ctx) {
                return false;
            }
        }
        self.constraints.iter().all(|c| c.holds(env, ctx))
    }
}
