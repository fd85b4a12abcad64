//! The semantic guard: what rewritten code means beyond parsing. Names bound, imports resolved,
//! dispatched operations registered by code that runs, layers pointing down, calls that fit the
//! function they reach. `fix` drops a change set that adds such a fact; `check` reports them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tree_sitter::Node;

use crate::config::Config;
use crate::matching::for_each_node;
use crate::python::scope;
use crate::python::{self, first_parameter, parameter_name, SourceFile};

/// The project's files as a rewrite would leave them.
pub trait ProjectFiles {
    /// The parsed file at a project-relative path; `None` when it does not exist or does not parse.
    fn parsed(&self, rel: &str) -> Option<Arc<SourceFile>>;
    /// Whether a directory exists (namespace packages need no `__init__.py`).
    fn dir_exists(&self, rel: &str) -> bool;
    /// Whether a file exists, parsing nothing where the view can tell without.
    fn file_exists(&self, rel: &str) -> bool {
        self.parsed(rel).is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    UnboundName,
    UnresolvedImport,
    UnregisteredOperation,
    LayerImport,
    CallSignature,
    DuplicateRegistration,
    ImportFails,
}

impl Check {
    pub fn id(self) -> &'static str {
        match self {
            Check::UnboundName => "unbound-name",
            Check::UnresolvedImport => "unresolved-import",
            Check::UnregisteredOperation => "unregistered-operation",
            Check::LayerImport => "layer-import",
            Check::CallSignature => "call-signature",
            Check::DuplicateRegistration => "duplicate-registration",
            Check::ImportFails => "import-fails",
        }
    }
}

/// One fact about the meaning of a file that makes it fail at run time or break the layering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub check: Check,
    pub path: String,
    pub line: usize,
    pub message: String,
    /// Identity across edits (no line numbers): a fact present before a rewrite is not new after it.
    #[serde(skip)]
    pub key: String,
    /// For an import of a module outside the project: that module, which only the caller can
    /// judge (it knows which modules the code came with).
    #[serde(skip)]
    pub external: Option<String>,
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: [{}] {}", self.path, self.line, self.check.id(), self.message)
    }
}

/// The guard for one project: its import roots, layers and registry conventions.
pub struct Guard<'c> {
    config: &'c Config,
    /// Why importing a module's own body fails (`None`: it does not), per module: many imports
    /// share their packages.
    body_failures: Mutex<HashMap<String, Option<String>>>,
}

/// A module a file imports, resolved to an absolute dotted name.
struct ImportSite {
    module: String,
    names: Vec<String>,
    line: usize,
}

impl<'c> Guard<'c> {
    pub fn new(config: &'c Config) -> Self {
        Guard { config, body_failures: Mutex::new(HashMap::new()) }
    }

    fn roots(&self) -> &[String] {
        &self.config.file.python.import_roots
    }

    /// Facts about one file: unbound names in every scope, imports that do not resolve or that
    /// point up the layers, and calls of project functions that do not fit their signature.
    /// Imports of modules outside the project are facts with `external` set, for the caller to judge.
    pub fn file_facts(&self, files: &dyn ProjectFiles, file: &SourceFile) -> Vec<Fact> {
        let mut facts = self.unbound_names(file);
        facts.extend(self.imports(files, file));
        facts.extend(self.call_signatures(files, file));
        facts
    }

    fn fact(&self, check: Check, file: &SourceFile, line: usize, message: String, key: String) -> Fact {
        let key = format!("{}|{}|{key}", check.id(), file.rel_path);
        Fact { check, path: file.rel_path.clone(), line, message, key, external: None }
    }

    fn unbound_names(&self, file: &SourceFile) -> Vec<Fact> {
        scope::unbound_reads(&file.tree, file.bytes())
            .into_iter()
            .map(|(owner, read)| {
                let owner = owner.unwrap_or_else(|| "<module>".into());
                let message = if read.before_assignment {
                    format!("`{}` is read in `{owner}` before any assignment to it", read.name)
                } else {
                    format!("`{}` is not bound where `{owner}` reads it", read.name)
                };
                let key = format!("{owner}|{}|{}", read.name, read.before_assignment);
                self.fact(Check::UnboundName, file, read.line, message, key)
            })
            .collect()
    }

    /// Every import statement of the file (nested ones too: they run when their function runs).
    fn import_sites(&self, file: &SourceFile) -> Vec<ImportSite> {
        let importer = python::module_name(&file.rel_path, self.roots());
        let mut out = Vec::new();
        for_each_node(file.tree.root_node(), |n| self.import_sites_of(file, importer.as_deref(), n, &mut out));
        out
    }

    /// The import statements of the module's own body (not in a function, `try` or `if`): they
    /// run, and must succeed, whenever the module is imported.
    fn top_level_import_sites(&self, file: &SourceFile) -> Vec<ImportSite> {
        let importer = python::module_name(&file.rel_path, self.roots());
        let mut out = Vec::new();
        let root = file.tree.root_node();
        let mut cursor = root.walk();
        for n in root.named_children(&mut cursor) {
            self.import_sites_of(file, importer.as_deref(), n, &mut out);
        }
        out
    }

    /// The modules statement `n` imports, if it is an import statement (`importer`: the file's
    /// own dotted name, which relative imports resolve against).
    fn import_sites_of(&self, file: &SourceFile, importer: Option<&str>, n: Node, out: &mut Vec<ImportSite>) {
        let line = file.line_col(n.start_byte()).0;
        let imported = |name: Node| {
            let target = if name.kind() == "aliased_import" { name.child_by_field_name("name") } else { Some(name) };
            target.map(|t| file.node_text(t).to_string())
        };
        match n.kind() {
            "import_statement" => {
                let mut cursor = n.walk();
                for module in n.children_by_field_name("name", &mut cursor).filter_map(imported) {
                    out.push(ImportSite { module, names: Vec::new(), line });
                }
            }
            "import_from_statement" => {
                let Some(m) = n.child_by_field_name("module_name") else { return };
                let reference = file.node_text(m).split_whitespace().collect::<String>();
                let absolute = match importer {
                    Some(importer) => {
                        python::resolve_module(&reference, importer, file.rel_path.ends_with("__init__.py"))
                    }
                    None if reference.starts_with('.') => return,
                    None => reference,
                };
                let mut cursor = n.walk();
                let names = n.children_by_field_name("name", &mut cursor).filter_map(imported).collect();
                out.push(ImportSite { module: absolute, names, line });
            }
            _ => {}
        }
    }

    /// The file of a project module, if it is one: `a/b.py` or `a/b/__init__.py` under an import root.
    pub fn module_file(&self, files: &dyn ProjectFiles, module: &str) -> Option<Arc<SourceFile>> {
        let rel = module.replace('.', "/");
        self.roots().iter().find_map(|root| {
            let base = if root.is_empty() || root == "." { rel.clone() } else { format!("{root}/{rel}") };
            files.parsed(&format!("{base}.py")).or_else(|| files.parsed(&format!("{base}/__init__.py")))
        })
    }

    pub fn module_exists(&self, files: &dyn ProjectFiles, module: &str) -> bool {
        let rel = module.replace('.', "/");
        self.module_file(files, module).is_some()
            || self.roots().iter().any(|root| {
                let base = if root.is_empty() || root == "." { rel.clone() } else { format!("{root}/{rel}") };
                files.dir_exists(&base)
            })
    }

    /// Whether `import module` / `from module import name` resolves, for a project module (an
    /// outside module is taken as resolving: only the environment knows).
    pub fn import_resolves(&self, files: &dyn ProjectFiles, module: &str, name: Option<&str>) -> bool {
        if !self.is_project_module(files, module) {
            return true;
        }
        let Some(name) = name else { return self.module_exists(files, module) };
        if self.module_exists(files, &format!("{module}.{name}")) {
            return true;
        }
        self.module_file(files, module).is_some_and(|target| {
            target.text.contains("import *") || target.module_bindings().iter().any(|b| b.name == name)
        })
    }

    /// Whether the module's first segment is a package or module of this project.
    pub fn is_project_module(&self, files: &dyn ProjectFiles, module: &str) -> bool {
        let top = module.split('.').next().unwrap_or(module);
        self.module_exists(files, top)
    }

    /// The layer rank of a file: the number in its layer's name (`l6` → 6); lower ranks sit above.
    pub fn rank(&self, rel: &str) -> Option<(u32, String)> {
        let layer = self.config.layers.classify(rel).layer?;
        let digits: String = layer.chars().filter(char::is_ascii_digit).collect();
        Some((digits.parse().ok()?, layer))
    }

    fn imports(&self, files: &dyn ProjectFiles, file: &SourceFile) -> Vec<Fact> {
        let mut facts = Vec::new();
        let own_rank = self.rank(&file.rel_path);
        for site in self.import_sites(file) {
            if !self.is_project_module(files, &site.module) {
                let message =
                    format!("`{}` is neither a project module nor imported by the code it came from", site.module);
                let mut fact = self.fact(Check::UnresolvedImport, file, site.line, message, site.module.clone());
                fact.external = Some(site.module);
                facts.push(fact);
                continue;
            }
            let Some(target) = self.module_file(files, &site.module) else {
                if !self.module_exists(files, &site.module) {
                    let message = format!("module `{}` does not exist in the project", site.module);
                    facts.push(self.fact(Check::UnresolvedImport, file, site.line, message, site.module.clone()));
                }
                continue;
            };
            if let Some(why) = self.import_failure(files, &site.module) {
                let message = format!("importing `{}` fails: {why}", site.module);
                // Keyed by the module alone: a module that already failed to import is no new fact when a
                // change set makes it fail at another import first (one removed from above it).
                facts.push(self.fact(Check::ImportFails, file, site.line, message, site.module.clone()));
            }
            if let (Some((mine, my_layer)), Some((theirs, their_layer))) = (&own_rank, self.rank(&target.rel_path)) {
                if theirs < *mine {
                    let message = format!(
                        "{my_layer} module imports `{}`, which is in {their_layer} ({}): layers point down",
                        site.module, target.rel_path
                    );
                    facts.push(self.fact(Check::LayerImport, file, site.line, message, site.module.clone()));
                }
            }
            let bindings = target.module_bindings();
            let star = target.text.contains("import *");
            for name in &site.names {
                let bound = bindings.iter().any(|b| &b.name == name)
                    || star
                    || self.module_exists(files, &format!("{}.{name}", site.module));
                if !bound {
                    let message = format!("`{name}` is not defined in `{}` ({})", site.module, target.rel_path);
                    facts.push(self.fact(
                        Check::UnresolvedImport,
                        file,
                        site.line,
                        message,
                        format!("{}.{name}", site.module),
                    ));
                }
            }
        }
        facts
    }

    /// Why importing project module `module` fails, if it does: Python runs the body of every
    /// package on its path and then the module's own, so a top-level import in one of them of a
    /// project module that does not exist raises `ImportError` before anything of `module` can be
    /// used. One hop only: the modules those bodies import are not followed further (nor is it
    /// checked that they define the names imported from them, which would mean parsing them all).
    fn import_failure(&self, files: &dyn ProjectFiles, module: &str) -> Option<String> {
        let parts: Vec<&str> = module.split('.').collect();
        (1..=parts.len()).find_map(|n| self.body_failure(files, &parts[..n].join(".")))
    }

    /// Why running the body of `module` fails at one of its top-level imports (see
    /// [`Self::import_failure`]); remembered per module.
    fn body_failure(&self, files: &dyn ProjectFiles, module: &str) -> Option<String> {
        if let Some(known) = self.body_failures.lock().ok().and_then(|m| m.get(module).cloned()) {
            return known;
        }
        let why = self.module_file(files, module).and_then(|body| {
            self.top_level_import_sites(&body).into_iter().find_map(|site| {
                if !self.is_project_module(files, &site.module) {
                    return None;
                }
                // Whether the module is there, without parsing it: the bodies' imports reach far.
                let there = self.roots().iter().any(|root| {
                    let rel = site.module.replace('.', "/");
                    let base = if root.is_empty() || root == "." { rel } else { format!("{root}/{rel}") };
                    files.file_exists(&format!("{base}.py"))
                        || files.file_exists(&format!("{base}/__init__.py"))
                        || files.dir_exists(&base)
                });
                (!there).then(|| {
                    format!("{} imports `{}`, which does not exist in the project", body.rel_path, site.module)
                })
            })
        });
        if let Ok(mut memo) = self.body_failures.lock() {
            memo.insert(module.to_string(), why.clone());
        }
        why
    }

    /// Calls of top-level functions of project modules (`module.f(...)` or an imported `f(...)`)
    /// whose arguments the function's parameters cannot take.
    fn call_signatures(&self, files: &dyn ProjectFiles, file: &SourceFile) -> Vec<Fact> {
        // Names bound to project modules or project functions anywhere in the file.
        let mut modules: BTreeMap<String, String> = BTreeMap::new();
        let mut functions: BTreeMap<String, (String, String)> = BTreeMap::new();
        for site in self.import_sites(file) {
            for name in &site.names {
                let sub = format!("{}.{name}", site.module);
                if self.module_file(files, &sub).is_some() {
                    modules.insert(name.clone(), sub);
                } else {
                    functions.insert(name.clone(), (site.module.clone(), name.clone()));
                }
            }
        }
        let mut facts = Vec::new();
        for_each_node(file.tree.root_node(), |n| {
            if n.kind() != "call" {
                return;
            }
            let Some(callee) = n.child_by_field_name("function") else { return };
            let target = match callee.kind() {
                "attribute" => {
                    let object = callee.child_by_field_name("object").map(|o| file.node_text(o)).unwrap_or_default();
                    let attr = callee.child_by_field_name("attribute").map(|a| file.node_text(a)).unwrap_or_default();
                    modules.get(object).map(|m| (m.clone(), attr.to_string()))
                }
                "identifier" => functions.get(file.node_text(callee)).cloned(),
                _ => None,
            };
            let Some((module, function)) = target else { return };
            let Some(target_file) = self.module_file(files, &module) else { return };
            let Some(def) = python::top_level_definition(&target_file, "function_definition", &function) else {
                return;
            };
            if let Some(problem) = signature_mismatch(file, n, &target_file, def) {
                let line = file.line_col(n.start_byte()).0;
                let message = format!("call of `{module}.{function}`: {problem}");
                facts.push(self.fact(
                    Check::CallSignature,
                    file,
                    line,
                    message,
                    format!("{module}.{function}|{problem}"),
                ));
            }
        });
        facts
    }

    /// Operation names dispatched with a string literal in `file`: `<...registry...>.execute("op", ...)`.
    pub fn dispatched(&self, file: &SourceFile) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for_each_node(file.tree.root_node(), |n| {
            if n.kind() != "call" {
                return;
            }
            let Some(callee) = n.child_by_field_name("function").filter(|c| c.kind() == "attribute") else { return };
            let attr = callee.child_by_field_name("attribute").map(|a| file.node_text(a)).unwrap_or_default();
            let object = callee.child_by_field_name("object").map(|o| file.node_text(o)).unwrap_or_default();
            if attr != "execute" || !object.to_ascii_lowercase().contains("registry") {
                return;
            }
            let first = n.child_by_field_name("arguments").and_then(|a| a.named_child(0));
            if let Some(op) = first.and_then(|a| string_literal(file, a)) {
                out.push((op, file.line_col(n.start_byte()).0));
            }
        });
        out
    }

    /// Operation names registered by statements that run from the configured `register_all`
    /// function: its calls `m.register(p)` of handler modules it imports, and in each such
    /// module's `register(p)`, the statements `p.register("op", ...)`. An annotation
    /// (`p: T.register(...)`) is never evaluated and registers nothing.
    /// Each name maps to how many running statements register it (more than one fails at start-up).
    pub fn registered(&self, files: &dyn ProjectFiles) -> BTreeMap<String, usize> {
        let registry = &self.config.file.registry;
        let mut out = BTreeMap::new();
        let Some(init) = files.parsed(&format!("{}/__init__.py", registry.handlers_dir)) else { return out };
        let Some(all) = python::top_level_definition(&init, "function_definition", &registry.register_all) else {
            return out;
        };
        let Some(param) = first_parameter(&init, all) else { return out };
        for (object, method, args) in statement_calls(&init, all) {
            if method != "register" || args.first().map(String::as_str) != Some(param.as_str()) {
                continue;
            }
            let Some(object) = object else { continue };
            let module = format!("{}.{object}", registry.handlers_package);
            let Some(handler) = self.module_file(files, &module) else { continue };
            let Some(register) = python::top_level_definition(&handler, "function_definition", "register") else {
                continue;
            };
            let Some(reg_param) = first_parameter(&handler, register) else { continue };
            for (obj, method, args) in statement_calls(&handler, register) {
                if method == "register" && obj.as_deref() == Some(reg_param.as_str()) {
                    if let Some(op) = args.first().and_then(|a| unquote(a)) {
                        *out.entry(op).or_insert(0) += 1;
                    }
                }
            }
        }
        out
    }

    /// Dispatched operations of `file` that no running registration provides.
    pub fn unregistered(&self, file: &SourceFile, registered: &BTreeMap<String, usize>) -> Vec<Fact> {
        self.dispatched(file)
            .into_iter()
            .filter(|(op, _)| !registered.contains_key(op))
            .map(|(op, line)| {
                let message = format!(
                    "operation `{op}` is dispatched but no registration reached from `{}` registers it",
                    self.config.file.registry.register_all
                );
                self.fact(Check::UnregisteredOperation, file, line, message, op)
            })
            .collect()
    }
}

/// The project's files as they are on disk, with a run's in-memory changes first; parsed on use.
pub struct DiskFiles<'a> {
    config: &'a Config,
    contents: &'a BTreeMap<String, String>,
    parsed: Mutex<HashMap<String, Option<Arc<SourceFile>>>>,
}

impl<'a> DiskFiles<'a> {
    pub fn new(config: &'a Config, contents: &'a BTreeMap<String, String>) -> Self {
        DiskFiles { config, contents, parsed: Mutex::new(HashMap::new()) }
    }
}

impl ProjectFiles for DiskFiles<'_> {
    fn parsed(&self, rel: &str) -> Option<Arc<SourceFile>> {
        if let Some(known) = self.parsed.lock().ok().and_then(|p| p.get(rel).cloned()) {
            return known;
        }
        let abs = self.config.root.join(rel);
        let text = match self.contents.get(rel) {
            Some(text) => Some(text.clone()),
            None => std::fs::read_to_string(&abs).ok(),
        };
        let file = text.and_then(|t| SourceFile::parse(rel.to_string(), abs, t.into_bytes()).ok()).map(Arc::new);
        if let Ok(mut cache) = self.parsed.lock() {
            cache.insert(rel.to_string(), file.clone());
        }
        file
    }

    fn dir_exists(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.config.root.join(rel).is_dir() || self.contents.keys().any(|k| k.starts_with(&prefix))
    }
}

/// Project-wide facts for recipe constraints (`module_layer`, `registered`), computed on first use.
pub struct GuardFacts<'a> {
    files: DiskFiles<'a>,
    registered: OnceLock<BTreeMap<String, usize>>,
}

impl<'a> GuardFacts<'a> {
    pub fn new(config: &'a Config, contents: &'a BTreeMap<String, String>) -> Self {
        GuardFacts { files: DiskFiles::new(config, contents), registered: OnceLock::new() }
    }
}

impl crate::matching::ProjectFacts for GuardFacts<'_> {
    fn module_layer(&self, module: &str) -> Option<String> {
        let config = self.files.config;
        let rel = module.replace('.', "/");
        config.file.python.import_roots.iter().find_map(|root| {
            let base = if root.is_empty() || root == "." { rel.clone() } else { format!("{root}/{rel}") };
            [format!("{base}.py"), format!("{base}/__init__.py")]
                .into_iter()
                .filter(|path| self.files.contents.contains_key(path) || config.root.join(path).is_file())
                .find_map(|path| config.layers.classify(&path).layer)
        })
    }

    fn is_registered(&self, operation: &str) -> bool {
        let config = self.files.config;
        self.registered.get_or_init(|| Guard::new(config).registered(&self.files)).contains_key(operation)
    }
}

/// Operations registered more than once by running statements (the registry refuses the second).
pub fn duplicates(registered: &BTreeMap<String, usize>) -> BTreeSet<String> {
    registered.iter().filter(|(_, n)| **n > 1).map(|(op, _)| op.clone()).collect()
}

/// The modules a file imports (absolute, dotted), for judging what a rewrite may import.
pub fn imported_modules(config: &Config, file: &SourceFile) -> BTreeSet<String> {
    Guard::new(config).import_sites(file).into_iter().map(|s| s.module).collect()
}

/// Facts in `after` that `before` did not have (compared without line numbers).
pub fn new_facts(before: &[Fact], after: Vec<Fact>) -> Vec<Fact> {
    let mut budget: BTreeMap<&str, usize> = BTreeMap::new();
    for f in before {
        *budget.entry(f.key.as_str()).or_default() += 1;
    }
    after
        .into_iter()
        .filter(|f| match budget.get_mut(f.key.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

fn string_literal(file: &SourceFile, node: Node) -> Option<String> {
    (node.kind() == "string").then(|| unquote(file.node_text(node))).flatten()
}

/// The value of a plain one-part string literal (`"a.b"` or `'a.b'`), no prefixes.
fn unquote(text: &str) -> Option<String> {
    let t = text.trim();
    let quote = t.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    (t.len() >= 2 && t.ends_with(quote)).then(|| t[1..t.len() - 1].to_string())
}

/// Calls that are whole expression statements in `function`'s body (at any depth of its blocks,
/// not inside nested functions): `(object, method, argument texts)`.
fn statement_calls(file: &SourceFile, function: Node) -> Vec<(Option<String>, String, Vec<String>)> {
    let mut out = Vec::new();
    let Some(body) = function.child_by_field_name("body") else { return out };
    for_each_node(body, |n| {
        if n.kind() != "expression_statement" {
            return;
        }
        let in_nested = std::iter::successors(n.parent(), |p| p.parent())
            .take_while(|p| p.id() != function.id())
            .any(|p| matches!(p.kind(), "function_definition" | "class_definition" | "lambda"));
        let call = n.named_child(0).filter(|c| c.kind() == "call");
        let (Some(call), false) = (call, in_nested) else { return };
        let Some(callee) = call.child_by_field_name("function") else { return };
        let (object, method) = match callee.kind() {
            "attribute" => (
                callee.child_by_field_name("object").map(|o| file.node_text(o).to_string()),
                callee.child_by_field_name("attribute").map(|a| file.node_text(a).to_string()).unwrap_or_default(),
            ),
            "identifier" => (None, file.node_text(callee).to_string()),
            _ => return,
        };
        let args = call
            .child_by_field_name("arguments")
            .map(|a| {
                let mut cursor = a.walk();
                let list: Vec<String> = a
                    .named_children(&mut cursor)
                    .filter(|c| c.kind() != "comment")
                    .map(|c| file.node_text(c).to_string())
                    .collect();
                list
            })
            .unwrap_or_default();
        out.push((object, method, args));
    });
    out
}

/// Why a call's arguments cannot bind to `def`'s parameters, if they cannot.
fn signature_mismatch(file: &SourceFile, call: Node, target: &SourceFile, def: Node) -> Option<String> {
    let args = call.child_by_field_name("arguments")?;
    let mut positional = 0usize;
    let mut keywords = Vec::new();
    let mut cursor = args.walk();
    for a in args.named_children(&mut cursor) {
        match a.kind() {
            "keyword_argument" => keywords.push(a.child_by_field_name("name").map(|n| file.node_text(n).to_string())?),
            // `*xs` / `**kw` at the call: the counts are unknown.
            "list_splat" | "dictionary_splat" => return None,
            "comment" => {}
            _ => positional += 1,
        }
    }
    let params = def.child_by_field_name("parameters")?;
    let mut cursor = params.walk();
    let mut slots: Vec<(String, bool, bool)> = Vec::new(); // (name, positional, required)
    let mut keyword_only = false;
    let (mut var_args, mut var_kwargs) = (false, false);
    for p in params.named_children(&mut cursor) {
        match p.kind() {
            "list_splat_pattern" => {
                var_args = true;
                keyword_only = true;
            }
            "keyword_separator" => keyword_only = true,
            "dictionary_splat_pattern" => var_kwargs = true,
            "positional_separator" | "comment" => {}
            kind => {
                let name = parameter_name(target, p)?;
                let required = matches!(kind, "identifier" | "typed_parameter");
                slots.push((name, !keyword_only, required));
            }
        }
    }
    let positional_slots = slots.iter().filter(|s| s.1).count();
    if positional > positional_slots && !var_args {
        return Some(format!("{positional} positional arguments for {positional_slots} parameters"));
    }
    for kw in &keywords {
        let slot = slots.iter().position(|s| &s.0 == kw);
        match slot {
            None if !var_kwargs => return Some(format!("no parameter named `{kw}`")),
            Some(i) if slots[i].1 && i < positional => return Some(format!("`{kw}` is given twice")),
            _ => {}
        }
    }
    for (i, (name, is_positional, required)) in slots.iter().enumerate() {
        let given = (*is_positional && i < positional) || keywords.contains(name);
        if *required && !given {
            return Some(format!("required parameter `{name}` is not given"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_facts_ignore_what_was_there_before_whatever_the_line() {
        let fact = |line, key: &str| Fact {
            check: Check::UnboundName,
            path: "a.py".into(),
            line,
            message: String::new(),
            key: key.into(),
            external: None,
        };
        let before = vec![fact(3, "x")];
        let after = vec![fact(9, "x"), fact(9, "x"), fact(4, "y")];
        let keys: Vec<String> = new_facts(&before, after).into_iter().map(|f| f.key).collect();
        assert_eq!(keys, vec!["x", "y"]);
    }

    #[test]
    fn the_first_parameter_is_named_whatever_its_annotation() {
        for (src, want) in [
            ("def register(registry: OperationRegistry) -> None:\n    pass\n", "registry"),
            ("def register_all(reg: \"OperationRegistry\") -> None:\n    pass\n", "reg"),
            ("def f(r=None):\n    pass\n", "r"),
            ("def f(r: \"T\" = None):\n    pass\n", "r"),
        ] {
            let file = SourceFile::parse("h.py".into(), "h.py".into(), src.as_bytes().to_vec()).unwrap();
            let def = file.tree.root_node().named_child(0).unwrap();
            assert_eq!(first_parameter(&file, def).as_deref(), Some(want), "{src}");
        }
    }

    #[test]
    fn plain_string_literals_only() {
        assert_eq!(unquote("\"a.b\"").as_deref(), Some("a.b"));
        assert_eq!(unquote("'a'").as_deref(), Some("a"));
        assert_eq!(unquote("name"), None);
    }
}
