//! `extract-to-driver`: moves the database code of an L2 endpoint into an L6 driver function, adds
//! the L4 handler method and its registration, and rewrites the endpoint to dispatch through the
//! registry — four files, one change set.

use std::collections::{BTreeMap, HashMap};

use minijinja::Value;
use regex::Regex;
use tree_sitter::Node;

use super::{fresh, ManualReason, TransformCall, TransformOutput};
use crate::edit::{self, Edit, FileEdits};
use crate::fix::primitives;
use crate::fix::sources::Sources;
use crate::matching::for_each_node;
use crate::python::scope::{self, BindingKind, HazardKind, ModuleBinding, StatementRange};
use crate::python::{self, SourceFile};

/// Built-in templates of the generated code; a project overrides one by putting a file of the
/// same name in a `templates/` folder of one of its recipe directories.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("call_site.py.j2", include_str!("../../recipes/templates/call_site.py.j2")),
    ("on_failure.py.j2", include_str!("../../recipes/templates/on_failure.py.j2")),
    ("driver_module.py.j2", include_str!("../../recipes/templates/driver_module.py.j2")),
    ("driver_function.py.j2", include_str!("../../recipes/templates/driver_function.py.j2")),
    ("handler_module.py.j2", include_str!("../../recipes/templates/handler_module.py.j2")),
    ("handler_class.py.j2", include_str!("../../recipes/templates/handler_class.py.j2")),
    ("handler_branch.py.j2", include_str!("../../recipes/templates/handler_branch.py.j2")),
    ("handler_method.py.j2", include_str!("../../recipes/templates/handler_method.py.j2")),
    ("register_function.py.j2", include_str!("../../recipes/templates/register_function.py.j2")),
    ("register_call.py.j2", include_str!("../../recipes/templates/register_call.py.j2")),
    ("wiring_call.py.j2", include_str!("../../recipes/templates/wiring_call.py.j2")),
];

/// The variables the templates of generated code are rendered with (besides the L2 file's layer
/// captures); a project's override of a template may use only these (checked at load).
pub const TEMPLATE_VARS: &[&str] = &[
    "body",
    "class_name",
    "definitions",
    "domain",
    "driver_alias",
    "driver_async",
    "driver_module",
    "driver_package",
    "driver_path",
    "endpoint",
    "function",
    "handler_method",
    "handler_module",
    "handler_path",
    "imports",
    "inputs",
    "is_async",
    "l2_path",
    "lazy_import",
    "live_results",
    "method",
    "module",
    "on_failure",
    "operation",
    "outputs",
    "params",
    "registry",
    "registry_param",
    "reraise",
    "result_var",
    "returns",
    "session",
    "session_async",
    "tenant",
    "writes",
];

pub const PARAMS: &[&str] = &["endpoint_decorator", "http_names", "tenant_names"];

/// A route on an `APIRouter` (any name with `router` in it) or on the FastAPI application (`app`).
const DEFAULT_DECORATOR: &str = r"^(\w*router\w*|app)\.(get|post|put|patch|delete|head|options|api_route)$";
const DEFAULT_HTTP_NAMES: &[&str] = &[
    "HTTPException",
    "Request",
    "Response",
    "JSONResponse",
    "StreamingResponse",
    "RedirectResponse",
    "BackgroundTasks",
    "WebSocket",
    "status",
];

/// The transform's parameters from the recipe, with defaults.
struct Params {
    decorator: Regex,
    http_names: Vec<String>,
    tenant_names: Vec<String>,
}

fn strings(table: &toml::Table, key: &str) -> Option<Vec<String>> {
    table.get(key)?.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

impl Params {
    fn read(table: &toml::Table) -> Result<Self, String> {
        let decorator = table.get("endpoint_decorator").and_then(|v| v.as_str()).unwrap_or(DEFAULT_DECORATOR);
        Ok(Params {
            decorator: Regex::new(decorator).map_err(|e| format!("endpoint_decorator: {e}"))?,
            http_names: strings(table, "http_names")
                .unwrap_or_else(|| DEFAULT_HTTP_NAMES.iter().map(|s| s.to_string()).collect()),
            tenant_names: strings(table, "tenant_names").unwrap_or_else(|| vec!["tenant_id".into()]),
        })
    }
}

pub fn validate(table: &toml::Table) -> Result<(), String> {
    Params::read(table).map(|_| ())
}

fn line_of(file: &SourceFile, node: Node) -> usize {
    file.line_col(node.start_byte()).0
}

/// `Base`, or `Base2`, `Base3`... (class names take no separator).
fn fresh_class(base: &str, taken: &dyn Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}{i}")).find(|c| !taken(c)).unwrap_or_else(|| base.to_string())
}

fn identifiers(file: &SourceFile, root: Node) -> Vec<String> {
    let mut out = Vec::new();
    for_each_node(root, |n| {
        if n.kind() == "identifier" {
            out.push(file.node_text(n).to_string());
        }
    });
    out
}

/// The nodes of `endpoint` that use the session `recv` (not its binding sites, keyword names or attributes).
fn session_uses<'t>(file: &SourceFile, endpoint: Node<'t>, recv: &str) -> Vec<Node<'t>> {
    let params = endpoint.child_by_field_name("parameters");
    let body = endpoint.child_by_field_name("body");
    let mut uses = Vec::new();
    let Some(body) = body else { return uses };
    let dotted = recv.contains('.');
    for_each_node(body, |n| {
        let kind_ok = if dotted { n.kind() == "attribute" } else { n.kind() == "identifier" };
        if !kind_ok || file.node_text(n) != recv {
            return;
        }
        let parent = n.parent();
        let field_is =
            |field: &str| parent.and_then(|p| p.child_by_field_name(field)).is_some_and(|c| c.id() == n.id());
        let binding = parent.is_some_and(|p| p.kind() == "as_pattern_target")
            || (parent.is_some_and(|p| p.kind() == "keyword_argument") && field_is("name"))
            || (parent.is_some_and(|p| p.kind() == "attribute") && field_is("attribute"))
            || params.is_some_and(|p| n.start_byte() >= p.start_byte() && n.end_byte() <= p.end_byte());
        if !binding {
            uses.push(n);
        }
    });
    uses
}

/// The innermost block of `endpoint` containing every use, and the run of its statements that does.
fn extraction_range<'t>(endpoint: Node<'t>, uses: &[Node<'t>]) -> Option<StatementRange<'t>> {
    let first = uses.iter().min_by_key(|n| n.start_byte())?;
    let start = first.start_byte();
    let end = uses.iter().map(|n| n.end_byte()).max()?;
    let block = std::iter::successors(first.parent(), |n| n.parent())
        .take_while(|n| n.id() != endpoint.id())
        .find(|n| matches!(n.kind(), "block") && n.start_byte() <= start && n.end_byte() >= end)?;
    let stmts = primitives::statements(block);
    let first = stmts.iter().position(|s| s.end_byte() > start)?;
    let last = stmts.iter().rposition(|s| s.start_byte() < end)?;
    Some(StatementRange { block, first, last })
}

/// A line of an import the driver needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportLine {
    module: String,
    name: Option<String>,
    alias: Option<String>,
}

impl ImportLine {
    fn render(&self) -> String {
        let alias = self.alias.as_ref().map(|a| format!(" as {a}")).unwrap_or_default();
        match &self.name {
            Some(name) => format!("from {} import {name}{alias}", self.module),
            None => format!("import {}{alias}", self.module),
        }
    }
}

/// What one module needs so that the names its code reads are bound there.
#[derive(Debug, Default)]
struct Needs {
    /// Imports from where the L2 module got each name (relative imports made absolute).
    imports: Vec<ImportLine>,
    /// Definitions copied from the L2 module (constants, loggers, helper functions; in the
    /// schemas module also the classes moved there), in dependency order.
    definitions: Vec<(String, String)>,
}

/// What the driver needs, and what moves below L2 with it.
#[derive(Debug, Default)]
struct Carried {
    /// The driver's needs: layers point down, so it never imports the L2 module.
    driver: Needs,
    /// The schemas module's needs: the L2 module's classes that the moved code uses, with what
    /// they need in turn. L2 then imports them from there, so each stays one class.
    schema: Needs,
    /// The byte ranges of the L2 statements that define the moved classes, with their names.
    moved_classes: Vec<(String, std::ops::Range<usize>)>,
    /// Definitions being carried right now (a cycle between helpers ends here).
    visiting: Vec<String>,
    /// Stale relative imports resolved to the one module they can mean, for the follow-ups.
    repairs: Vec<String>,
}

/// Where a relative import that does not resolve can only have pointed: `(resolved, the
/// import's own path, the imported member)` to a module name.
type RepairImport<'r> = dyn Fn(&str, &str, Option<&str>) -> Option<String> + 'r;

/// Follows the module-level names moved code reads back to where the L2 module binds them.
struct Carrier<'c> {
    file: &'c SourceFile,
    bindings: &'c [ModuleBinding],
    l2_module: Option<&'c str>,
    http_names: &'c [String],
    repair: &'c RepairImport<'c>,
    /// The module the L2 module's classes move to (below L2), when the configuration names one.
    schemas_module: Option<String>,
    /// The layer of a project module when it sits above the driver's (which it cannot import).
    above_driver: &'c dyn Fn(&str) -> Option<String>,
    /// Whether an import of a project module resolves (the module exists and binds the name).
    resolves: &'c dyn Fn(&str, Option<&str>) -> bool,
    module_scope: &'c scope::ModuleScope,
}

impl<'c> Carrier<'c> {
    /// Adds what `names` need to the driver's needs (`into_schema` false) or the schemas module's.
    /// An L2 function or constant is copied; an L2 class moves to the schemas module and the
    /// driver imports it from there; a definition that reaches an HTTP name cannot move (manual).
    fn carry(&self, names: &[String], carried: &mut Carried, into_schema: bool) -> Result<(), ManualReason> {
        for name in names {
            let target = if into_schema { &carried.schema } else { &carried.driver };
            if target.definitions.iter().any(|(n, _)| n == name) || carried.visiting.contains(name) {
                continue;
            }
            let Some(binding) = self.bindings.iter().rev().find(|b| &b.name == name) else { continue };
            let line = match &binding.kind {
                BindingKind::Import { module, imported, level } => {
                    let line = self.import_line(name, module, imported.as_deref(), *level, carried)?;
                    if !(self.resolves)(&line.module, line.name.as_deref()) {
                        return Err(format!(
                            "the moved code reads `{name}` from `{}`, which does not resolve in the project (a router copied from elsewhere that Python never imports?); fix the import first",
                            line.render()
                        ));
                    }
                    let reached = line.name.as_ref().map(|n| format!("{}.{n}", line.module));
                    if let Some(layer) = (self.above_driver)(&line.module)
                        .or_else(|| reached.as_deref().and_then(|m| (self.above_driver)(m)))
                    {
                        return Err(format!(
                            "the moved code uses `{name}` from `{}`, which is in {layer}, above the driver; a driver cannot import it, so that call must stay above L6 (a handler or an engine)",
                            line.module
                        ));
                    }
                    line
                }
                BindingKind::Class => {
                    let Some(schemas) = self.schemas_module.clone() else {
                        return Err(format!(
                            "the moved code uses `{name}`, a class defined in the L2 module; move it to a module below L2 first"
                        ));
                    };
                    self.move_class(name, binding, carried)?;
                    if into_schema {
                        continue;
                    }
                    ImportLine { module: schemas, name: Some(name.clone()), alias: None }
                }
                BindingKind::Assignment | BindingKind::Function => {
                    let (stmt, needed) = self.definition(name, binding)?;
                    carried.visiting.push(name.clone());
                    self.carry(&needed, carried, into_schema)?;
                    carried.visiting.pop();
                    if binding.kind == BindingKind::Function {
                        let mut ends_transaction = false;
                        for_each_node(stmt, |n| {
                            ends_transaction |= n.kind() == "attribute"
                                && n.child_by_field_name("attribute")
                                    .is_some_and(|a| matches!(self.file.node_text(a), "commit" | "rollback"));
                        });
                        if ends_transaction {
                            return Err(format!(
                                "the moved code calls `{name}` of the L2 module, which commits or rolls back its caller's transaction; a driver never does, so it must be redesigned by hand"
                            ));
                        }
                    }
                    let mut text = self.file.node_text(stmt).to_string();
                    // `getLogger(__name__)` must name the same logger from its new home.
                    if let Some(module) = self.l2_module {
                        if text.contains("__name__") && binding.kind == BindingKind::Assignment {
                            text = text.replace("__name__", &crate::templates::python_string(module));
                        }
                    }
                    let target = if into_schema { &mut carried.schema } else { &mut carried.driver };
                    if !target.definitions.iter().any(|(n, _)| n == name) {
                        target.definitions.push((name.clone(), text.replace("\r\n", "\n")));
                    }
                    continue;
                }
            };
            let target = if into_schema { &mut carried.schema } else { &mut carried.driver };
            if !target.imports.contains(&line) {
                target.imports.push(line);
            }
        }
        Ok(())
    }

    /// Moves an L2 class (and what it reads) into the schemas module's needs, once.
    fn move_class(&self, name: &str, binding: &ModuleBinding, carried: &mut Carried) -> Result<(), ManualReason> {
        if carried.moved_classes.iter().any(|(n, _)| n == name) || carried.visiting.iter().any(|v| v == name) {
            return Ok(());
        }
        let (stmt, needed) = self.definition(name, binding)?;
        carried.visiting.push(name.to_string());
        self.carry(&needed, carried, true)?;
        carried.visiting.pop();
        carried.schema.definitions.push((name.to_string(), self.file.node_text(stmt).replace("\r\n", "\n")));
        carried.moved_classes.push((name.to_string(), stmt.byte_range()));
        Ok(())
    }

    /// The module-level statement that defines `name` and the module names it reads (its
    /// annotations included), refusing one that is conditional, repeated or reaches HTTP.
    fn definition(&self, name: &str, binding: &ModuleBinding) -> Result<(Node<'c>, Vec<String>), ManualReason> {
        let file = self.file;
        let stmt = statement_at(file, binding.stmt_byte_range.clone())
            .ok_or_else(|| format!("`{name}` is bound by a statement strata cannot move"))?;
        if stmt.parent().is_none_or(|p| p.kind() != "module") || binding_count(self.bindings, name) > 1 {
            return Err(format!(
                "`{name}` is defined conditionally or more than once in the L2 module; move it below L2 first"
            ));
        }
        let first = primitives::statements(file.tree.root_node())
            .iter()
            .position(|s| s.id() == stmt.id())
            .ok_or("internal: statement not at module level")?;
        let range = StatementRange { block: file.tree.root_node(), first, last: first };
        let flow = scope::analyse_range_in(self.module_scope, file.bytes(), &range, &[]);
        let mut needed: Vec<String> = flow.module_names.iter().filter(|n| *n != name).cloned().collect();
        // Annotations run when the def or class does: the names they read must be bound too.
        for_each_node(stmt, |n| {
            let in_annotation = std::iter::successors(n.parent(), |p| p.parent())
                .take_while(|p| p.id() != stmt.id())
                .any(|p| p.kind() == "type");
            let text = file.node_text(n).to_string();
            if n.kind() == "identifier"
                && in_annotation
                && text != name
                && self.bindings.iter().any(|b| b.name == text)
                && !needed.contains(&text)
            {
                needed.push(text);
            }
        });
        if let Some(http) = needed.iter().find(|n| self.http_names.contains(n)) {
            return Err(format!("the moved code uses `{name}` of the L2 module, which uses the HTTP name `{http}`"));
        }
        Ok((stmt, needed))
    }

    /// The import that binds `name` as the L2 module's import does, made absolute.
    fn import_line(
        &self,
        name: &str,
        module: &str,
        imported: Option<&str>,
        level: usize,
        carried: &mut Carried,
    ) -> Result<ImportLine, ManualReason> {
        let absolute = if level > 0 {
            let importer =
                self.l2_module.ok_or("the L2 file is outside the import roots; relative imports cannot be resolved")?;
            let reference = format!("{}{module}", ".".repeat(level));
            let resolved = python::resolve_module(&reference, importer, self.file.rel_path.ends_with("__init__.py"));
            match (self.repair)(&resolved, module, imported) {
                Some(repaired) if repaired != resolved => {
                    let note = format!(
                        "`from {reference} import ...` in {} does not resolve from where the file is (`{resolved}` does not exist), so Python never imported it; the driver imports `{repaired}`, the only project module of that name",
                        self.file.rel_path
                    );
                    if !carried.repairs.contains(&note) {
                        carried.repairs.push(note);
                    }
                    repaired
                }
                _ => resolved,
            }
        } else {
            module.to_string()
        };
        Ok(match imported {
            Some(member) => ImportLine {
                module: absolute,
                name: Some(member.to_string()),
                alias: (member != name).then(|| name.to_string()),
            },
            None => ImportLine {
                alias: (absolute.split('.').next() != Some(name)).then(|| name.to_string()),
                module: absolute,
                name: None,
            },
        })
    }
}

fn binding_count(bindings: &[ModuleBinding], name: &str) -> usize {
    bindings.iter().filter(|b| b.name == name).count()
}

/// The statement node spanning exactly `range`.
fn statement_at(file: &SourceFile, range: std::ops::Range<usize>) -> Option<Node<'_>> {
    primitives::statements(file.tree.root_node()).into_iter().find(|s| s.byte_range() == range)
}

/// A naming template (`naming.*_path`) rendered over this L2 module's layer captures; `None`
/// when the configuration leaves it empty.
fn naming_path(call: &TransformCall, template: &str) -> Result<Option<String>, ManualReason> {
    if template.trim().is_empty() {
        return Ok(None);
    }
    let context = minijinja::context! {
        registry => Value::from_serialize(&call.project.config.file.registry),
        ..Value::from_serialize(&call.analysed.placement.captures)
    };
    call.project.templates.render_str(template, &context).map(Some).map_err(super::template_failure)
}

/// Where a relative import of a router copied from elsewhere can only have pointed: `resolved`
/// itself when it exists; else the one project module whose dotted name ends with the import's
/// own path (`models.feedback`) and that binds `member`. `None` when there is not exactly one.
fn stale_import_target(
    sources: &Sources,
    config: &crate::config::Config,
    resolved: &str,
    remainder: &str,
    member: Option<&str>,
) -> Option<String> {
    let guard = crate::guard::Guard::new(config);
    if guard.module_exists(sources, resolved) || remainder.is_empty() {
        return Some(resolved.to_string());
    }
    let suffix = format!(".{remainder}");
    let modules = sources.modules();
    let mut found = modules.iter().filter(|m| m.ends_with(&suffix)).filter(|m| match member {
        None => true,
        Some(name) => {
            guard.module_exists(sources, &format!("{m}.{name}"))
                || guard.module_file(sources, m).is_some_and(|f| f.module_bindings().iter().any(|b| b.name == name))
        }
    });
    let first = found.next()?;
    found.next().is_none().then(|| first.clone())
}

/// The smallest edit turning `old` into `new` (one replaced middle), so unrelated change sets on the
/// same file conflict only where they really overlap.
fn minimal_edit(path: &str, old: Option<&str>, new: String) -> FileEdits {
    let Some(old) = old else {
        return FileEdits::create(path, new);
    };
    let prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let mut suffix = old.bytes().rev().zip(new.bytes().rev()).take_while(|(a, b)| a == b).count().min(max_suffix);
    let mut start = prefix;
    while !old.is_char_boundary(start) || !new.is_char_boundary(start) {
        start -= 1;
    }
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    FileEdits::edit(path, vec![Edit::replace(start..old.len() - suffix, new[start..new.len() - suffix].to_string())])
}

fn parse(path: &str, text: &str) -> Result<SourceFile, ManualReason> {
    SourceFile::parse(path.to_string(), path.into(), text.as_bytes().to_vec())
        .map_err(|e| format!("{path} does not parse ({e}); fix it before extracting into it"))
}

fn apply(text: &str, edits: &[Edit]) -> Result<String, ManualReason> {
    edit::apply(text, edits).map_err(|e| format!("internal edit conflict: {e}"))
}

/// Top-level function names of a module.
fn top_level_functions(file: &SourceFile) -> Vec<String> {
    primitives::statements(file.tree.root_node())
        .into_iter()
        .filter_map(|s| match s.kind() {
            "function_definition" => Some(s),
            "decorated_definition" => s.child_by_field_name("definition"),
            _ => None,
        })
        .filter_map(|f| f.child_by_field_name("name").map(|n| file.node_text(n).to_string()))
        .collect()
}

fn body_statements(def: Node) -> Vec<Node> {
    def.child_by_field_name("body").map(primitives::statements).unwrap_or_default()
}

/// Appends `text` (which starts with its own blank lines) at the end of `file`'s text.
fn append(file: &SourceFile, text: &str) -> Edit {
    let nl = file.newline();
    let lead = if file.text.is_empty() || file.text.ends_with('\n') { "" } else { nl };
    Edit::insert(file.text.len(), format!("{lead}{}", text.replace('\n', nl)))
}

/// Import statements for `lines`, one `from` statement per module, in first-seen order.
fn grouped_imports(lines: impl IntoIterator<Item = ImportLine>) -> Vec<String> {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    let mut plain = Vec::new();
    for line in lines {
        let Some(name) = &line.name else {
            plain.push(line.render());
            continue;
        };
        let member = match &line.alias {
            Some(alias) => format!("{name} as {alias}"),
            None => name.clone(),
        };
        match grouped.iter_mut().find(|(m, _)| *m == line.module) {
            Some((_, names)) => names.push(member),
            None => grouped.push((line.module.clone(), vec![member])),
        }
    }
    plain.extend(grouped.into_iter().map(|(module, names)| format!("from {module} import {}", names.join(", "))));
    plain
}

/// Adds the missing imports: merged into the file's own `from M import ...` line where it has
/// one, else as new lines after the module's imports, one `from` line per module.
fn import_edits(file: &SourceFile, lines: &[ImportLine]) -> Vec<Edit> {
    let missing: Vec<&ImportLine> = lines
        .iter()
        .filter(|l| !primitives::has_import(file, &l.module, l.name.as_deref(), l.alias.as_deref()))
        .collect();
    let mut edits = Vec::new();
    let mut fresh_lines = Vec::new();
    let mut modules: Vec<&str> = Vec::new();
    for line in &missing {
        if !modules.contains(&line.module.as_str()) {
            modules.push(&line.module);
        }
    }
    for module in modules {
        let members: Vec<String> = missing
            .iter()
            .filter(|l| l.module == module && l.name.is_some())
            .map(|l| match (&l.name, &l.alias) {
                (Some(name), Some(alias)) => format!("{name} as {alias}"),
                (Some(name), None) => name.clone(),
                _ => unreachable!("filtered to `from` imports"),
            })
            .collect();
        match (!members.is_empty()).then(|| primitives::merge_into_from_import(file, module, &members)).flatten() {
            Some(merged) => {
                edits.extend(merged);
                fresh_lines
                    .extend(missing.iter().filter(|l| l.module == module && l.name.is_none()).map(|l| (*l).clone()));
            }
            None => fresh_lines.extend(missing.iter().filter(|l| l.module == module).map(|l| (*l).clone())),
        }
    }
    let Some(first) = fresh_lines.first() else { return edits };
    let Some(anchor) = primitives::add_import(file, &first.module, first.name.as_deref(), first.alias.as_deref())
    else {
        return edits;
    };
    let nl = file.newline();
    let text: String = grouped_imports(fresh_lines).iter().map(|l| format!("{l}{nl}")).collect();
    // `add_import` decided where imports go (and whether a line break must lead).
    let lead = if anchor.content.starts_with(nl) && !text.starts_with(nl) { nl } else { "" };
    edits.push(Edit::insert(anchor.range.start, format!("{lead}{text}")));
    edits
}

/// One run of the endpoint's statements that moves into one driver function.
struct Segment<'t> {
    range: StatementRange<'t>,
    /// Builtin exception types that an L2 `except` around the run catches: a failure whose
    /// error code names one re-raises it, with the same message.
    reraise: Vec<String>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// Outputs that hold a result straight from `session.execute(...)`: the driver returns them
    /// materialised (`.freeze()()`), since the handler may commit and release the cursor.
    live_results: Vec<String>,
    is_async: bool,
    session_async: bool,
    writes: bool,
    /// The run ends with `return`: the dispatch returns the driver's value.
    returns: bool,
    /// Edits inside the run that turn it into driver code (commit → flush, rollback removed).
    driver_edits: Vec<Edit>,
    /// The expression the dispatch passes as the tenant.
    tenant: String,
    function: String,
    handler_method: String,
}

/// Everything the rewrite needs to know about one endpoint, gathered and checked up front.
struct Extraction<'a, 't> {
    call: &'a TransformCall<'a, 't>,
    file: &'t SourceFile,
    endpoint: Node<'t>,
    endpoint_name: String,
    session: String,
    /// The runs that move, in order; statements that must stay in L2 (a guard clause raising an
    /// HTTP error, an early `return`) separate them, and each run is one dispatch.
    segments: Vec<Segment<'t>>,
    /// What the driver needs for all runs together.
    carried: Carried,
    make_async: bool,
    /// Rollback statements in L2 `except` clauses that the handler's rollback replaces.
    handler_rollbacks: Vec<Node<'t>>,
    /// The module below L2 that the L2 module's classes move to, when configured.
    schemas_module: Option<String>,
    /// The project's line length, which generated lines are wrapped to.
    line_length: usize,
    vars: BTreeMap<String, Value>,
}

pub fn run(call: &TransformCall) -> Result<TransformOutput, ManualReason> {
    let params = Params::read(call.params)?;
    let mut x = Extraction::analyse(call, &params)?;
    let operation = x.str_var("operation");
    let mut files = vec![x.l2_file()?];
    files.extend(x.driver_files()?);
    files.extend(x.schema_files()?);
    files.push(x.handler_file()?);
    files.push(x.wiring_file()?);
    Ok(TransformOutput {
        files,
        follow_ups: x.carried.repairs.clone(),
        description: Some(format!(
            "move the database code of `{}`{} to {} and dispatch `{operation}` through the registry",
            x.endpoint_name,
            if x.segments.len() > 1 { format!(" ({} parts)", x.segments.len()) } else { String::new() },
            x.str_var("driver_path"),
        )),
        tidies_source: true,
    })
}

impl<'a, 't> Extraction<'a, 't> {
    fn analyse(call: &'a TransformCall<'a, 't>, params: &Params) -> Result<Self, ManualReason> {
        let file = call.analysed.ctx.file;
        let recv = call.env.text("RECV", &file.text).ok_or("the recipe must bind the session as $RECV")?.to_string();
        let function = python::enclosing_function(call.m.node).ok_or("the database code is not inside a function")?;
        // Database code in a helper that takes the session moves with the endpoints that call it.
        let (endpoint, session) = if is_endpoint(file, function, &params.decorator) {
            (function, recv)
        } else {
            match helper_root(file, function, &recv, &params.decorator) {
                Ok(root) => root,
                // An async helper that receives the session can dispatch itself: its callers
                // keep calling it, and what it does besides the database work stays in L2.
                Err(_) if is_async_helper_with(file, function, &recv) => (function, recv),
                Err(reason) => return Err(reason),
            }
        };
        let endpoint_name =
            endpoint.child_by_field_name("name").map(|n| file.node_text(n).to_string()).unwrap_or_default();
        let here = format!("`{endpoint_name}` (line {})", line_of(file, endpoint));
        let all_uses = session_uses(file, endpoint, &session);
        // A rollback in an `except` that raises, around other database code, is the handler's
        // rollback once that code is dispatched: it goes, and does not widen what moves.
        let handler_rollbacks: Vec<Node> =
            all_uses.iter().filter_map(|u| rollback_in_raising_handler(file, *u, &all_uses)).collect();
        // Another endpoint of this module that the endpoint calls with its session is migrated on
        // its own: the call stays in L2 as it is.
        let other_endpoints: Vec<String> = primitives::statements(file.tree.root_node())
            .into_iter()
            .filter_map(
                |s| if s.kind() == "decorated_definition" { s.child_by_field_name("definition") } else { Some(s) },
            )
            .filter(|f| f.kind() == "function_definition" && f.id() != endpoint.id())
            .filter(|f| is_endpoint(file, *f, &params.decorator))
            .filter_map(|f| f.child_by_field_name("name").map(|n| file.node_text(n).to_string()))
            .collect();
        let passed_to_endpoint = |u: &Node| {
            let argument = u.parent().filter(|p| p.kind() == "keyword_argument").unwrap_or(*u);
            let call = argument.parent().filter(|a| a.kind() == "argument_list").and_then(|a| a.parent());
            call.and_then(|c| c.child_by_field_name("function"))
                .is_some_and(|f| f.kind() == "identifier" && other_endpoints.iter().any(|e| e == file.node_text(f)))
        };
        let uses: Vec<Node> = all_uses
            .iter()
            .copied()
            .filter(|u| {
                !handler_rollbacks.iter().any(|s| s.start_byte() <= u.start_byte() && u.end_byte() <= s.end_byte())
                    && !passed_to_endpoint(u)
            })
            .collect();
        let range = extraction_range(endpoint, &uses)
            .ok_or_else(|| format!("{here}: the uses of `{session}` are not in one block of the endpoint"))?;
        let in_nested = std::iter::successors(range.block.parent(), |n| n.parent())
            .take_while(|n| n.id() != endpoint.id())
            .any(|n| matches!(n.kind(), "function_definition" | "lambda" | "class_definition"));
        if in_nested {
            return Err(format!("{here}: the database code sits in a nested function or class"));
        }
        let watched: Vec<&str> = if session.contains('.') { Vec::new() } else { vec![session.as_str()] };
        let http_params = http_parameters(file, endpoint);
        // `status` or `Response` are HTTP objects only where they come from the web framework.
        let from_web = |b: &&ModuleBinding| matches!(&b.kind, BindingKind::Import { module, .. } if module.starts_with("fastapi") || module.starts_with("starlette"));
        let http_imports: Vec<String> = file
            .module_bindings()
            .iter()
            .filter(from_web)
            .map(|b| b.name.clone())
            .filter(|name| params.http_names.contains(name))
            .collect();
        let is_http = |name: &str| http_imports.iter().any(|h| h == name) || http_params.iter().any(|p| p == name);
        let bindings = file.module_bindings();
        // An L2 class (a response model) stays in L2 with the statements that use it.
        let stays = |name: &str| {
            is_http(name)
                || other_endpoints.iter().any(|e| e == name)
                || bindings.iter().any(|b| b.name == name && b.kind == BindingKind::Class)
        };

        // The module's own bindings, walked once for every range analysed below.
        let module_scope = call.sources.module_scope(file);
        let repair = |resolved: &str, remainder: &str, member: Option<&str>| {
            stale_import_target(call.sources, &call.project.config, resolved, remainder, member)
        };
        let schemas_path = naming_path(call, &call.project.config.file.naming.schemas_path)?;
        let driver_path = naming_path(call, &call.project.config.file.naming.driver_path)?;
        let guard = crate::guard::Guard::new(&call.project.config);
        let driver_rank = driver_path.as_deref().and_then(|p| guard.rank(p)).map(|(rank, _)| rank);
        let above_driver = |module: &str| {
            let target = guard.module_file(call.sources, module)?;
            let (rank, layer) = guard.rank(&target.rel_path)?;
            (rank < driver_rank?).then_some(layer)
        };
        let carrier = Carrier {
            file,
            bindings,
            l2_module: call.analysed.ctx.module.as_deref(),
            http_names: &params.http_names,
            repair: &repair,
            schemas_module: schemas_path
                .as_deref()
                .and_then(|p| python::module_name(p, &call.project.config.file.python.import_roots)),
            above_driver: &above_driver,
            resolves: &|module: &str, name: Option<&str>| guard.import_resolves(call.sources, module, name),
            module_scope: &module_scope,
        };
        let mut carried = Carried::default();
        let mut segments = Vec::new();
        // Runs in one block grow backwards only down to where the previous run there ended.
        let mut floors: HashMap<usize, usize> = HashMap::new();
        for piece in split_at_barriers(file, range, &uses, &stays) {
            let error_codes = !call.project.config.file.registry.error_code.trim().is_empty();
            let reraise = l2_handlers(piece.block, endpoint, file, &http_imports, error_codes).map_err(|(line, kind)| {
                format!(
                    "{here}: the database code is inside a `try` whose `except {kind}` (line {line}) stays in L2; the registry reports the driver's errors as a failed result, which only a broad `except` (or one of builtin exceptions, through the error code) still sees"
                )
            })?;
            let floor = floors.get(&piece.block.id()).copied().unwrap_or(0);
            let (piece, flow) = grow_over_builders(file, &module_scope, piece, floor, &watched, &stays);
            floors.insert(piece.block.id(), piece.last + 1);
            let stmts = primitives::statements(piece.block);
            let first = stmts[piece.first];
            let mut is_async = false;
            let mut returns = false;
            for hazard in &flow.hazards {
                let line = hazard.line;
                let reason = match &hazard.kind {
                    HazardKind::Await => {
                        is_async = true;
                        continue;
                    }
                    // A `return` that ends the run returns the driver's value: the call site returns it too.
                    HazardKind::Return if hazard.byte_range == stmts[piece.last].byte_range() => {
                        returns = true;
                        continue;
                    }
                    HazardKind::Return => format!(
                        "`return` at line {line} is inside the database code; the driver cannot return from the endpoint"
                    ),
                    HazardKind::Yield => format!(
                        "`yield` at line {line}: a streaming endpoint cannot hand its database code to the registry"
                    ),
                    HazardKind::BreakOrContinue => format!("`break`/`continue` at line {line} leaves the database code"),
                    HazardKind::Global => {
                        format!("`global` at line {line}: the driver would not share the endpoint's module state")
                    }
                    HazardKind::Nonlocal => {
                        format!("`nonlocal` at line {line}: the driver would not share the enclosing scope")
                    }
                    HazardKind::Rebinds(name) => format!("the session `{name}` is rebound at line {line}"),
                };
                return Err(format!("{here}: {reason}"));
            }
            for stmt in &stmts[piece.first..=piece.last] {
                let mut http = None;
                for_each_node(*stmt, |n| {
                    if http.is_none() && n.kind() == "identifier" {
                        let text = file.node_text(n);
                        if is_http(text) {
                            http = Some(format!(
                                "`{text}` at line {} is an HTTP concern inside the database code",
                                line_of(file, n)
                            ));
                        }
                    }
                });
                if let Some(reason) = http {
                    return Err(format!("{here}: {reason}"));
                }
            }
            if let Some((name, line)) = declared_outside(file, endpoint, &stmts[piece.first..=piece.last]) {
                return Err(format!(
                    "{here}: `{name}` is declared `global`/`nonlocal` at line {line}; moved into the driver it would become a local"
                ));
            }
            let (driver_edits, writes, session_async) =
                transaction_edits(file, &stmts[piece.first..=piece.last], &session, &here)?;
            carrier.carry(&flow.module_names, &mut carried, false)?;
            let bound = bound_before(file, endpoint, first);
            // A name the endpoint imports in its body is imported by the driver, not passed to it.
            let mut inputs = Vec::new();
            for name in with_prior_values(&bound, flow.inputs, &flow.outputs).into_iter().filter(|n| n != &session) {
                match local_import(file, endpoint, &name) {
                    Some((module, imported, level)) => {
                        let line = carrier.import_line(&name, &module, imported.as_deref(), level, &mut carried)?;
                        if !carried.driver.imports.contains(&line) {
                            carried.driver.imports.push(line);
                        }
                    }
                    None => inputs.push(name),
                }
            }
            let live_results = live_results(file, &stmts[piece.first..=piece.last], &session, &flow.outputs);
            segments.push(Segment {
                range: piece,
                reraise,
                inputs,
                live_results,
                outputs: flow.outputs,
                is_async,
                session_async,
                writes,
                returns,
                driver_edits,
                tenant: tenant_expression(file, endpoint, &bound, &params.tenant_names),
                function: String::new(),
                handler_method: String::new(),
            });
        }
        if segments.is_empty() {
            return Err(format!("{here}: every statement with `{session}` must stay in L2"));
        }
        let make_async = !endpoint_is_async(endpoint);
        if make_async {
            check_can_become_async(file, endpoint, &endpoint_name, &here, &params.decorator)?;
        }
        let captures = &call.analysed.placement.captures;
        let (Some(domain), Some(module)) = (captures.get("domain"), captures.get("module")) else {
            return Err(format!(
                "{}: the L2 layer pattern must capture {{domain}} and {{module}} to name the driver and handler",
                file.rel_path
            ));
        };
        let mut x = Extraction {
            call,
            file,
            endpoint,
            endpoint_name: endpoint_name.clone(),
            session: session.clone(),
            segments,
            carried,
            make_async,
            handler_rollbacks,
            schemas_module: carrier.schemas_module.clone(),
            line_length: call.project.config.line_length(),
            vars: BTreeMap::new(),
        };
        x.name_things(domain, module)?;
        Ok(x)
    }

    fn str_var(&self, name: &str) -> String {
        self.vars.get(name).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    fn set(&mut self, name: &str, value: impl serde::Serialize) {
        self.vars.insert(name.to_string(), Value::from_serialize(value));
    }

    fn render(&self, template: &str) -> Result<String, ManualReason> {
        let context = Value::from_serialize(&self.vars);
        self.call.project.templates.render(&format!("extract/{template}"), &context).map_err(super::template_failure)
    }

    fn render_str(&self, source: &str) -> Result<String, ManualReason> {
        let context = Value::from_serialize(&self.vars);
        self.call.project.templates.render_str(source, &context).map_err(super::template_failure)
    }

    /// Names of everything generated: operation, files, class, methods, fresh locals.
    fn name_things(&mut self, domain: &str, module: &str) -> Result<(), ManualReason> {
        let config = &self.call.project.config.file;
        // Naming templates see every capture of the L2 file's layer pattern, as `naming_path` does.
        for (name, value) in &self.call.analysed.placement.captures {
            self.set(name, value);
        }
        self.set("domain", domain);
        self.set("module", module);
        self.set("registry", &config.registry);
        let operation = self.render_str(&config.naming.operation)?;
        let driver_path = self.render_str(&config.naming.driver_path)?;
        let handler_module = self.render_str(&config.naming.handler_module)?;
        let driver_module = python::module_name(&driver_path, &config.python.import_roots)
            .ok_or_else(|| format!("driver path {driver_path} is outside the import roots"))?;
        let (driver_package, driver_alias) = driver_module.rsplit_once('.').unwrap_or(("", &driver_module));
        let mut taken_functions =
            self.call.sources.parsed(&driver_path)?.map(|f| top_level_functions(&f)).unwrap_or_default();
        let endpoint_names = identifiers(self.file, self.endpoint);
        let result_var = fresh("op_result", &|c| endpoint_names.iter().any(|t| t == c));
        let handler_path = format!("{}/{handler_module}.py", config.registry.handlers_dir);
        let class_name = self.render_str(&config.naming.handler_class)?;
        // A class of that name that strata did not write has its own dispatch, which a new branch
        // would never reach: the new code gets a class (and operation) of its own.
        let existing = self.call.sources.parsed(&handler_path)?;
        self.set("class_name", &class_name);
        self.set("operation", &operation);
        let template_first = self.template_execute_start()?;
        let foreign = |name: &str| {
            existing
                .as_ref()
                .and_then(|f| python::top_level_definition(f, "class_definition", name).map(|c| (f, c)))
                .is_some_and(|(f, c)| execute_start(f, c).as_deref() != Some(template_first.as_str()))
        };
        let class_name = fresh_class(&class_name, &|c| foreign(c));
        // An operation another handler class already registers keeps its handler: take a fresh name.
        let handler_text = self.call.sources.text(&handler_path).unwrap_or_default();
        let operation = fresh(&operation, &|op| {
            ["\"", "'"].iter().any(|q| {
                let registered = format!("register({q}{op}{q}, ");
                handler_text.contains(&registered) && !handler_text.contains(&format!("{registered}{class_name}()"))
            })
        });
        let mut taken_methods: Vec<String> = existing
            .as_ref()
            .and_then(|f| python::top_level_definition(f, "class_definition", &class_name).map(|c| identifiers(f, c)))
            .unwrap_or_default();
        // A private helper's name is public in the driver, which the handler calls from outside.
        let base = match self.endpoint_name.trim_start_matches('_') {
            "" => self.endpoint_name.clone(),
            public => public.to_string(),
        };
        for segment in &mut self.segments {
            segment.function = fresh(&base, &|c| taken_functions.iter().any(|t| t == c));
            taken_functions.push(segment.function.clone());
            segment.handler_method =
                fresh(&format!("_{}", segment.function), &|c| taken_methods.iter().any(|t| t == c));
            taken_methods.push(segment.handler_method.clone());
        }
        self.set("operation", &operation);
        self.set("driver_path", &driver_path);
        self.set("driver_module", &driver_module);
        self.set("driver_package", driver_package);
        self.set("driver_alias", driver_alias);
        self.set("handler_module", &handler_module);
        self.set("handler_path", &handler_path);
        self.set("class_name", &class_name);
        self.set("endpoint", self.endpoint_name.clone());
        self.set("l2_path", self.file.rel_path.clone());
        self.set("session", self.session.clone());
        self.set("result_var", &result_var);
        Ok(())
    }

    /// The template variables of one run: its function, handler method, parameters and flow.
    fn enter_segment(&mut self, index: usize) -> Result<(), ManualReason> {
        // Each builtin exception type with the error code the registry gives it.
        let reraise: Vec<(String, String)> = self.segments[index]
            .reraise
            .iter()
            .map(|t| {
                let context = minijinja::context! { exception => t };
                let code = self
                    .call
                    .project
                    .templates
                    .render_str(&self.call.project.config.file.registry.error_code, &context)
                    .map_err(super::template_failure)?;
                Ok((t.clone(), code))
            })
            .collect::<Result<_, ManualReason>>()?;
        let segment = &self.segments[index];
        let mut params: Vec<(String, String)> =
            vec![("method".into(), crate::templates::python_string(&segment.handler_method[1..]))];
        params.extend(segment.inputs.iter().map(|i| (i.clone(), i.clone())));
        let values: Vec<(&str, Value)> = vec![
            ("method", Value::from(&segment.handler_method[1..])),
            ("handler_method", Value::from(segment.handler_method.as_str())),
            ("function", Value::from(segment.function.as_str())),
            ("tenant", Value::from(segment.tenant.as_str())),
            ("params", Value::from_serialize(&params)),
            ("inputs", Value::from_serialize(&segment.inputs)),
            ("outputs", Value::from_serialize(&segment.outputs)),
            ("live_results", Value::from_serialize(&segment.live_results)),
            ("is_async", Value::from(segment.is_async)),
            ("driver_async", Value::from(segment.is_async)),
            ("session_async", Value::from(segment.session_async)),
            ("writes", Value::from(segment.writes)),
            ("returns", Value::from(segment.returns)),
            ("reraise", Value::from_serialize(&reraise)),
        ];
        for (name, value) in values {
            self.vars.insert(name.to_string(), value);
        }
        Ok(())
    }

    /// The first statement of `execute` in the handler class template: a class whose `execute`
    /// starts the same way was written by strata and can be extended.
    fn template_execute_start(&self) -> Result<String, ManualReason> {
        let rendered = self.render("handler_class.py.j2")?;
        let template = parse("handler_class.py", &rendered)?;
        primitives::statements(template.tree.root_node())
            .into_iter()
            .find(|s| s.kind() == "class_definition")
            .and_then(|c| execute_start(&template, c))
            .ok_or_else(|| "the handler_class template must define a class with an `execute` method".to_string())
    }

    fn range_lines(&self, index: usize) -> std::ops::Range<usize> {
        let range = &self.segments[index].range;
        let stmts = primitives::statements(range.block);
        self.file.line_range(stmts[range.first].start_byte()..stmts[range.last].end_byte())
    }

    fn range_indent(&self, index: usize) -> String {
        let range = &self.segments[index].range;
        let stmts = primitives::statements(range.block);
        primitives::indentation(self.file, stmts[range.first]).unwrap_or_default()
    }

    /// The endpoint, dispatching through the registry; imports added and those left unused removed.
    fn l2_file(&mut self) -> Result<FileEdits, ManualReason> {
        let file = self.file;
        let mut edits = Vec::new();
        let mut on_failure = String::new();
        for index in 0..self.segments.len() {
            self.enter_segment(index)?;
            on_failure = self.render("on_failure.py.j2")?;
            // The call site puts it under `if not ...success:`; its later lines indent with it.
            self.set("on_failure", on_failure.trim().replace('\n', "\n    "));
            let indent = self.range_indent(index);
            let call_site = primitives::wrap_long_lines(
                &self.render("call_site.py.j2")?,
                self.line_length.saturating_sub(indent.len()),
            );
            edits.push(Edit::replace(
                self.range_lines(index),
                primitives::indent_lines(&call_site, &indent, file.newline()),
            ));
        }
        if self.make_async {
            edits.push(Edit::insert(self.endpoint.start_byte(), "async "));
        }
        // The clause still ends by raising, so its lines can simply go; one inside a run that
        // moves goes with it (the driver drops a rollback that re-raises).
        let moved: Vec<std::ops::Range<usize>> = (0..self.segments.len()).map(|i| self.range_lines(i)).collect();
        edits.extend(
            self.handler_rollbacks
                .iter()
                .filter(|r| !moved.iter().any(|m| m.start <= r.start_byte() && r.end_byte() <= m.end))
                .map(|r| Edit::delete(file.line_range(r.byte_range()))),
        );
        // Classes that moved below L2 are imported from there: still one class, used as before.
        for (_, range) in &self.carried.moved_classes {
            let stmt = statement_at(file, range.clone()).ok_or("internal: a moved class is not a statement")?;
            edits.extend(primitives::delete_statement(file, stmt));
        }
        let registry = &self.call.project.config.file.registry;
        let mut imports = vec![
            ImportLine { module: registry.module.clone(), name: Some(registry.getter.clone()), alias: None },
            ImportLine { module: registry.module.clone(), name: Some(registry.context.clone()), alias: None },
        ];
        if let Some(schemas) = &self.schemas_module {
            imports.extend(self.carried.moved_classes.iter().map(|(name, _)| ImportLine {
                module: schemas.clone(),
                name: Some(name.clone()),
                alias: None,
            }));
        }
        let bindings = self.file.module_bindings();
        let bound: Vec<&str> = bindings.iter().map(|b| b.name.as_str()).collect();
        if on_failure.contains("HTTPException") && !bound.contains(&"HTTPException") {
            imports.push(ImportLine { module: "fastapi".into(), name: Some("HTTPException".into()), alias: None });
        }
        edits.extend(import_edits(file, &imports));
        let rewritten = parse(&file.rel_path, &apply(&file.text, &edits)?)?;
        // Private helpers only the moved code called now live in the driver; then their imports go too.
        let unused_helpers = primitives::private_functions_made_unused(file, &rewritten);
        let without_helpers = if unused_helpers.is_empty() {
            rewritten
        } else {
            parse(&file.rel_path, &apply(&rewritten.text, &unused_helpers)?)?
        };
        let pruned = apply(&without_helpers.text, &primitives::imports_made_unused(file, &without_helpers))?;
        // A `try` whose only handler now re-raises (its rollback became the handler's) is a no-op:
        // unwrap it, unless the file already had such a `try` of its own to keep.
        let pruned =
            if primitives::has_reraising_try(file) { pruned } else { primitives::unwrap_reraising_try(&pruned) };
        Ok(FileEdits::between(&file.rel_path, &file.text, &pruned))
    }

    /// The driver module: created with its imports and carried definitions, or extended (imports
    /// merged, missing definitions and the function appended). A new package gets its `__init__.py`.
    fn driver_files(&mut self) -> Result<Vec<FileEdits>, ManualReason> {
        let file = self.file;
        let mut function = String::new();
        for index in 0..self.segments.len() {
            self.enter_segment(index)?;
            let lines = self.range_lines(index);
            // Only this run's own edits: the lines of the other runs are not in its text.
            let moved = apply(&file.text[lines.clone()], &shift(&self.segments[index].driver_edits, lines.start))?;
            let body = primitives::reindent(&moved, &self.range_indent(index), "    ").replace("\r\n", "\n");
            self.set("body", body.trim_end_matches('\n'));
            let text = primitives::unwrap_reraising_try(&self.render("driver_function.py.j2")?);
            // Only the generated lines wrap; the moved code keeps its own layout.
            let text: String = text
                .split_inclusive('\n')
                .map(|line| {
                    if body.lines().any(|b| !b.trim().is_empty() && b == line.trim_end_matches('\n')) {
                        line.to_string()
                    } else {
                        primitives::wrap_long_lines(line, self.line_length)
                    }
                })
                .collect();
            // Each rendered function brings its own leading blank lines.
            function.push_str(&text);
        }
        let path = self.str_var("driver_path");
        match self.call.sources.parsed(&path)? {
            None => {
                self.set("imports", grouped_imports(self.carried.driver.imports.clone()));
                let definitions: Vec<String> = self.carried.driver.definitions.iter().map(|(_, t)| t.clone()).collect();
                self.set("definitions", definitions);
                let module = self.render("driver_module.py.j2")?;
                let mut files = self.new_packages(&path);
                files.push(FileEdits::create(
                    path,
                    format!("{}\n\n\n{}", module.trim_end(), function.trim_start_matches('\n')),
                ));
                Ok(files)
            }
            Some(existing) => {
                self.check_no_clash(&existing)?;
                let mut edits = import_edits(&existing, &self.carried.driver.imports);
                let bound = existing.module_bindings();
                // Appended code commutes with another extraction's into the same driver, and one
                // insertion per definition makes a definition both carry the same edit, made once.
                // Imports do not commute: two change sets adding names to one line must not both
                // write it.
                for (name, text) in &self.carried.driver.definitions {
                    if !bound.iter().any(|b| &b.name == name) {
                        edits.push(append(&existing, &format!("\n\n{text}\n")).commuting());
                    }
                }
                edits.push(append(&existing, &function).commuting());
                apply(&existing.text, &edits)?;
                Ok(vec![FileEdits::edit(path, edits)])
            }
        }
    }

    /// The schemas module below L2 that the moved classes go to: created with their imports and
    /// what they read, or extended with the ones it lacks.
    fn schema_files(&self) -> Result<Vec<FileEdits>, ManualReason> {
        if self.carried.moved_classes.is_empty() {
            return Ok(Vec::new());
        }
        let path = naming_path(self.call, &self.call.project.config.file.naming.schemas_path)?
            .ok_or("internal: classes moved without a schemas module")?;
        let needs = &self.carried.schema;
        match self.call.sources.parsed(&path)? {
            None => {
                let future = if self.file.text.contains("from __future__ import annotations") {
                    "from __future__ import annotations\n\n"
                } else {
                    ""
                };
                let imports: String = grouped_imports(needs.imports.clone()).iter().map(|l| format!("{l}\n")).collect();
                let definitions: Vec<&str> = needs.definitions.iter().map(|(_, t)| t.as_str()).collect();
                let text = format!(
                    "\"\"\"Schemas moved below L2 from {} by strata: L2 and the drivers below it import them from here.\"\"\"\n\n{future}{imports}\n\n{}\n",
                    self.file.rel_path,
                    definitions.join("\n\n\n")
                );
                let mut files = self.new_packages(&path);
                files.push(FileEdits::create(path, text));
                Ok(files)
            }
            Some(existing) => {
                let bound = existing.module_bindings();
                let mut appended = String::new();
                for (name, text) in &needs.definitions {
                    match bound.iter().find(|b| &b.name == name) {
                        Some(b) if existing.text[b.stmt_byte_range.clone()].trim() != text.trim() => {
                            return Err(format!(
                                "{} already defines `{name}` differently from the L2 module; rename one of them first",
                                existing.rel_path
                            ))
                        }
                        Some(_) => {}
                        None => appended.push_str(&format!("\n\n{text}\n")),
                    }
                }
                let mut edits = import_edits(&existing, &needs.imports);
                edits.push(append(&existing, &appended));
                Ok(vec![minimal_edit(&path, Some(&existing.text), apply(&existing.text, &edits)?)])
            }
        }
    }

    /// `__init__.py` for every folder of `path` below the import roots that does not exist yet.
    fn new_packages(&self, path: &str) -> Vec<FileEdits> {
        let roots = &self.call.project.config.file.python.import_roots;
        let root = self.call.project.root();
        let mut out = Vec::new();
        let mut dir = std::path::Path::new(path).parent();
        while let Some(d) = dir {
            let rel = d.to_string_lossy().replace('\\', "/");
            if rel.is_empty() || roots.iter().any(|r| r == &rel) || root.join(d).is_dir() {
                break;
            }
            let init = format!("{rel}/__init__.py");
            if self.call.sources.text(&init).is_none() {
                out.push(FileEdits::create(init, String::new()));
            }
            dir = d.parent();
        }
        out
    }

    /// An existing driver module must not bind a name the moved code needs differently: an
    /// import from elsewhere (`select` from sqlmodel vs from sqlalchemy) or another definition.
    fn check_no_clash(&self, driver: &SourceFile) -> Result<(), ManualReason> {
        for binding in driver.module_bindings().iter() {
            if let Some((_, text)) = self.carried.driver.definitions.iter().find(|(n, _)| n == &binding.name) {
                let theirs = &driver.text[binding.stmt_byte_range.clone()];
                if theirs.trim() != text.trim() {
                    return Err(format!(
                        "{} already defines `{}` differently from the L2 module; rename one of them first",
                        driver.rel_path, binding.name
                    ));
                }
                continue;
            }
            let Some(wanted) = self
                .carried
                .driver
                .imports
                .iter()
                .find(|i| i.alias.as_ref().or(i.name.as_ref()) == Some(&binding.name))
            else {
                continue;
            };
            let same = matches!(&binding.kind, BindingKind::Import { module, imported, level: 0 }
                if *module == wanted.module && imported.as_ref() == wanted.name.as_ref());
            if !same {
                return Err(format!(
                    "{} already binds `{}` differently from the moved code's `{}`; rename one of them first",
                    driver.rel_path,
                    binding.name,
                    wanted.render()
                ));
            }
        }
        Ok(())
    }

    /// The handler module: created, or given the class, or the class given the new method branch.
    fn handler_file(&mut self) -> Result<FileEdits, ManualReason> {
        let path = self.str_var("handler_path");
        let class_name = self.str_var("class_name");
        let current = self.call.sources.parsed(&path)?;
        let registry = self.call.project.config.file.registry.clone();
        let mut text = match &current {
            Some(file) => file.text.clone(),
            None => self.render("handler_module.py.j2")?,
        };
        let driver_import = ImportLine {
            module: self.str_var("driver_package"),
            name: Some(self.str_var("driver_alias")),
            alias: None,
        };
        let registry_imports = [
            ImportLine { module: registry.module.clone(), name: Some(registry.context.clone()), alias: None },
            ImportLine { module: registry.module.clone(), name: Some(registry.result.clone()), alias: None },
        ];
        let created;
        let file = match &current {
            Some(file) => file.as_ref(),
            None => {
                created = parse(&path, &text)?;
                &created
            }
        };
        let mut imports: Vec<ImportLine> = registry_imports.to_vec();
        imports.push(driver_import);
        let mut edits = import_edits(file, &imports);
        let class_exists = python::top_level_definition(file, "class_definition", &class_name).is_some();
        if !class_exists {
            // The registration line goes first: when `register` ends the file, both edits insert at
            // its end, and the line must stay inside `register`, not follow the new class.
            let class = append(file, &self.render("handler_class.py.j2")?);
            match python::top_level_definition(file, "function_definition", "register") {
                Some(register) => {
                    let param = crate::python::first_parameter(file, register).unwrap_or_else(|| "registry".into());
                    self.set("registry_param", &param);
                    let last = *body_statements(register).last().ok_or("`register` has an empty body")?;
                    let line = self.render("register_call.py.j2")?;
                    edits.push(primitives::insert_after(file, last, &line).ok_or("cannot add to `register`")?);
                    edits.push(class);
                }
                None => {
                    edits.push(class);
                    edits.push(append(file, &self.render("register_function.py.j2")?));
                }
            }
        }
        // With the class in place, the new branch and method are insertions into the current text,
        // which commute with another extraction's into the same class: a router's endpoints then
        // move in one pass instead of one pass each.
        let incremental = class_exists && current.is_some();
        let staged;
        let file: &SourceFile = if incremental {
            file
        } else {
            text = apply(&text, &edits)?;
            staged = parse(&path, &text)?;
            &staged
        };
        let class = python::top_level_definition(file, "class_definition", &class_name)
            .ok_or("the handler class is missing")?;
        let class_body = body_statements(class);
        let execute = class_body
            .iter()
            .filter_map(
                |s| if s.kind() == "decorated_definition" { s.child_by_field_name("definition") } else { Some(*s) },
            )
            .find(|s| {
                s.kind() == "function_definition"
                    && s.child_by_field_name("name").is_some_and(|n| file.node_text(n) == "execute")
            })
            .ok_or_else(|| format!("`{class_name}` in {path} has no `execute` method to dispatch from"))?;
        let fallback = *body_statements(execute)
            .last()
            .filter(|s| s.kind() == "return_statement")
            .ok_or_else(|| format!("`{class_name}.execute` in {path} does not end with a fallback `return`"))?;
        let (mut branch, mut method) = (String::new(), String::new());
        for index in 0..self.segments.len() {
            self.enter_segment(index)?;
            branch.push_str(&self.render("handler_branch.py.j2")?);
            method.push_str(&self.render("handler_method.py.j2")?);
        }
        let last_member = *class_body.last().ok_or("the handler class is empty")?;
        let width =
            |node: Node| self.line_length.saturating_sub(primitives::indentation(file, node).unwrap_or_default().len());
        let branch = primitives::wrap_long_lines(&branch, width(fallback));
        let method = primitives::wrap_long_lines(&method, width(last_member));
        let inserts = [
            primitives::insert_before(file, fallback, &branch).ok_or("cannot add the dispatch branch")?,
            primitives::insert_after(file, last_member, &method).ok_or("cannot add the handler method")?,
        ];
        if incremental {
            edits.extend(inserts.into_iter().map(Edit::commuting));
            return Ok(FileEdits::edit(path, edits));
        }
        let new = apply(&text, &inserts)?;
        Ok(minimal_edit(&path, current.as_ref().map(|f| f.text.as_str()), new))
    }

    /// `register_all_handlers` in the handlers package imports and calls the handler module's `register`.
    fn wiring_file(&mut self) -> Result<FileEdits, ManualReason> {
        let registry = self.call.project.config.file.registry.clone();
        let path = format!("{}/__init__.py", registry.handlers_dir);
        let file = self.call.sources.parsed(&path)?.ok_or_else(|| {
            format!("{path} does not exist; create it with `def {}(registry)` first", registry.register_all)
        })?;
        let function = python::top_level_definition(&file, "function_definition", &registry.register_all)
            .ok_or_else(|| format!("{path} has no `{}` function to wire the handler into", registry.register_all))?;
        let handler_module = self.str_var("handler_module");
        // `register_all` keeps its own import style: lazy imports inside it stay inside it.
        let imports_in = |node: Node| {
            let mut found = false;
            for_each_node(node, |n| {
                found |= n.kind() == "import_from_statement"
                    && n.child_by_field_name("module_name")
                        .is_some_and(|m| file.node_text(m) == registry.handlers_package)
                    && {
                        let mut cursor = n.walk();
                        let names: Vec<Node> = n.children_by_field_name("name", &mut cursor).collect();
                        names.iter().any(|c| file.node_text(*c) == handler_module)
                    };
            });
            found
        };
        let mut lazy = false;
        for_each_node(function, |n| {
            lazy |= n.kind() == "import_from_statement"
                && n.child_by_field_name("module_name").is_some_and(|m| file.node_text(m) == registry.handlers_package);
        });
        let line =
            ImportLine { module: registry.handlers_package.clone(), name: Some(handler_module.clone()), alias: None };
        let mut edits = if lazy { Vec::new() } else { import_edits(&file, &[line]) };
        let already = file.node_text(function).contains(&format!("{handler_module}.register("));
        if !already {
            let param = crate::python::first_parameter(&file, function).unwrap_or_else(|| "registry".into());
            self.set("registry_param", &param);
            self.set("lazy_import", lazy && !imports_in(function));
            let line = self.render("wiring_call.py.j2")?;
            let body = body_statements(function);
            let last = *body.last().ok_or("the wiring function has an empty body")?;
            // A placeholder `pass` gives way to the first real call.
            let edit = if body.len() == 1 && last.kind() == "pass_statement" {
                Some(Edit::replace(last.byte_range(), line.trim().to_string()))
            } else {
                primitives::insert_after(&file, last, &line)
            };
            edits.push(edit.ok_or("cannot add the wiring call")?);
        }
        // Registration lines of different domains commute: such change sets apply in one pass.
        Ok(FileEdits::edit(path, edits).commuting())
    }
}

/// Whether `function` is decorated as a route (`@router.get(...)`, by the transform's decorator pattern).
fn is_endpoint(file: &SourceFile, function: Node, decorator: &Regex) -> bool {
    let decorated = function.parent().filter(|p| p.kind() == "decorated_definition");
    decorated.is_some_and(|d| {
        let mut cursor = d.walk();
        let found = d.children(&mut cursor).filter(|c| c.kind() == "decorator").any(|dec| {
            let expr = dec.named_child(0);
            let callee =
                expr.map(|e| if e.kind() == "call" { e.child_by_field_name("function").unwrap_or(e) } else { e });
            callee.is_some_and(|c| decorator.is_match(file.node_text(c)))
        });
        found
    })
}

/// A module-level `async def` that receives `recv` as a parameter, or opens it itself with
/// `async with ... as recv` / `with ... as recv` (L2 may hold a session; only the work moves).
fn is_async_helper_with(file: &SourceFile, function: Node, recv: &str) -> bool {
    let top_level = function
        .parent()
        .map(|p| if p.kind() == "decorated_definition" { p.parent() } else { Some(p) })
        .is_some_and(|p| p.is_some_and(|p| p.kind() == "module"));
    let receives = function.child_by_field_name("parameters").is_some_and(|ps| {
        let mut cursor = ps.walk();
        let found = ps.named_children(&mut cursor).any(|p| python::parameter_name(file, p).as_deref() == Some(recv));
        found
    });
    let mut opens = false;
    if let Some(body) = function.child_by_field_name("body") {
        for_each_node(body, |n| {
            opens |= n.kind() == "as_pattern_target"
                && file.node_text(n) == recv
                && python::enclosing_function(n).is_some_and(|f| f.id() == function.id());
        });
    }
    top_level && (receives || opens) && endpoint_is_async(function)
}

/// For database code in a module-level helper that receives the session as a parameter, the
/// first endpoint that calls it and the name of the session there: that endpoint is extracted,
/// taking a copy of the helper into the driver, and the helper goes from L2 with its last caller.
/// Every use of the helper must be a call from an endpoint that passes the session by name.
fn helper_root<'t>(
    file: &'t SourceFile,
    helper: Node<'t>,
    recv: &str,
    decorator: &Regex,
) -> Result<(Node<'t>, String), ManualReason> {
    let name = helper.child_by_field_name("name").map(|n| file.node_text(n).to_string()).unwrap_or_default();
    let here = format!("`{name}` (line {})", line_of(file, helper));
    let top_level = helper
        .parent()
        .map(|p| if p.kind() == "decorated_definition" { p.parent() } else { Some(p) })
        .is_some_and(|p| p.is_some_and(|p| p.kind() == "module"));
    let params = helper.child_by_field_name("parameters");
    let position = params.and_then(|ps| {
        let mut cursor = ps.walk();
        let names: Vec<Option<String>> =
            ps.named_children(&mut cursor).map(|p| crate::python::parameter_name(file, p)).collect();
        names.iter().position(|n| n.as_deref() == Some(recv))
    });
    if !top_level {
        return Err(format!("{here} is not a router endpoint; move its database code by hand"));
    }
    let Some(position) = position else {
        return Err(format!(
            "{here} is not a router endpoint and does not receive `{recv}` as a parameter (it opens or finds its own session); move its database code by hand"
        ));
    };
    let name_node = helper.child_by_field_name("name");
    let mut first: Option<(Node<'t>, String)> = None;
    let mut problem: Option<String> = None;
    for_each_node(file.tree.root_node(), |n| {
        if problem.is_some() || n.kind() != "identifier" || file.node_text(n) != name || Some(n) == name_node {
            return;
        }
        let call = n.parent().filter(|c| c.kind() == "call" && c.child_by_field_name("function") == Some(n));
        let caller = call.and_then(python::enclosing_function).filter(|f| is_endpoint(file, *f, decorator));
        let argument = call.and_then(|c| c.child_by_field_name("arguments")).and_then(|args| {
            let mut cursor = args.walk();
            let list: Vec<Node> = args.named_children(&mut cursor).filter(|a| a.kind() != "comment").collect();
            list.iter()
                .find(|a| {
                    a.kind() == "keyword_argument"
                        && a.child_by_field_name("name").is_some_and(|k| file.node_text(k) == recv)
                })
                .and_then(|a| a.child_by_field_name("value"))
                .or_else(|| list.get(position).copied().filter(|a| a.kind() != "keyword_argument"))
                .filter(|a| a.kind() == "identifier")
        });
        match (caller, argument) {
            (Some(caller), Some(argument)) => {
                if first.is_none() {
                    first = Some((caller, file.node_text(argument).to_string()));
                }
            }
            _ => {
                problem = Some(format!(
                    "{here} is not a router endpoint, and its use at line {} is not a call from an endpoint that passes the session by name; move its database code by hand",
                    line_of(file, n)
                ))
            }
        }
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    first.ok_or_else(|| {
        format!("{here} is not a router endpoint and no endpoint calls it; move its database code by hand")
    })
}

/// The first statement of a class's `execute` method, as text, when the method has the shape
/// strata writes: that statement, then only `if method == ...:` branches, then a fallback `return`.
fn execute_start(file: &SourceFile, class: Node) -> Option<String> {
    let execute = body_statements(class).into_iter().find(|s| {
        s.kind() == "function_definition"
            && s.child_by_field_name("name").is_some_and(|n| file.node_text(n) == "execute")
    })?;
    let body = body_statements(execute);
    let (first, rest) = body.split_first()?;
    let (last, middle) = rest.split_last()?;
    let branches = middle.iter().all(|s| {
        s.kind() == "if_statement"
            && s.child_by_field_name("alternative").is_none()
            && s.child_by_field_name("condition").is_some_and(|c| file.node_text(c).starts_with("method =="))
    });
    (branches && last.kind() == "return_statement").then(|| file.node_text(*first).trim().to_string())
}

fn endpoint_is_async(endpoint: Node) -> bool {
    let mut cursor = endpoint.walk();
    let found = endpoint.children(&mut cursor).any(|c| c.kind() == "async");
    found
}

/// A sync endpoint becomes `async def` only where nothing else calls it, no other decorator wraps
/// it (a decorator written for plain functions would wrap a coroutine), and it is no generator.
fn check_can_become_async(
    file: &SourceFile,
    endpoint: Node,
    name: &str,
    here: &str,
    router: &Regex,
) -> Result<(), ManualReason> {
    let name_node = endpoint.child_by_field_name("name");
    let mut problem = None;
    if let Some(decorated) = endpoint.parent().filter(|p| p.kind() == "decorated_definition") {
        let mut cursor = decorated.walk();
        let others: Vec<Node> = decorated
            .children(&mut cursor)
            .filter(|c| c.kind() == "decorator")
            .filter(|d| {
                let expr = d.named_child(0);
                let callee =
                    expr.map(|e| if e.kind() == "call" { e.child_by_field_name("function").unwrap_or(e) } else { e });
                !callee.is_some_and(|c| router.is_match(file.node_text(c)))
            })
            .collect();
        if let Some(other) = others.first() {
            return Err(format!(
                "{here} is a sync endpoint that must become `async def` to await the registry, but `{}` also wraps it and may not accept a coroutine",
                file.node_text(*other).trim()
            ));
        }
    }
    for_each_node(file.tree.root_node(), |n| {
        if problem.is_none() && n.kind() == "identifier" && file.node_text(n) == name && Some(n) != name_node {
            problem = Some(format!(
                "{here} is a sync endpoint that must become `async def` to await the registry, but `{name}` is also used at line {}",
                line_of(file, n)
            ));
        }
    });
    if let Some(body) = endpoint.child_by_field_name("body") {
        for_each_node(body, |n| {
            if problem.is_none() && n.kind() == "yield" {
                problem = Some(format!("{here} is a sync generator endpoint; it cannot become `async def`"));
            }
        });
    }
    problem.map_or(Ok(()), Err)
}

/// Parameters of the endpoint annotated with HTTP types (`request: Request`).
fn http_parameters(file: &SourceFile, endpoint: Node) -> Vec<String> {
    let Some(params) = endpoint.child_by_field_name("parameters") else { return Vec::new() };
    let http = Regex::new(r"\b(Request|Response|WebSocket|BackgroundTasks)\b").expect("constant regex");
    let mut cursor = params.walk();
    let list: Vec<Node> = params.named_children(&mut cursor).collect();
    list.into_iter()
        .filter(|p| p.child_by_field_name("type").is_some_and(|t| http.is_match(file.node_text(t))))
        .filter_map(|p| {
            let name = p.child_by_field_name("name").or_else(|| p.named_child(0))?;
            Some(file.node_text(name).to_string())
        })
        .collect()
}

/// The statement `session.rollback()` (awaited or not) that `use` is the receiver of, when it
/// sits in an `except` clause that ends by raising, of a `try` whose body has other uses of the
/// session: the handler rolls back that code's transaction itself.
fn rollback_in_raising_handler<'t>(file: &SourceFile, use_: Node<'t>, uses: &[Node<'t>]) -> Option<Node<'t>> {
    let attribute = use_.parent().filter(|p| p.kind() == "attribute")?;
    if attribute.child_by_field_name("attribute").map(|a| file.node_text(a)) != Some("rollback") {
        return None;
    }
    let call = attribute.parent().filter(|c| c.kind() == "call")?;
    let stmt = python::enclosing_statement(call).filter(|s| primitives::statement_is_just(*s, call))?;
    let clause = stmt.parent().and_then(|b| b.parent()).filter(|c| c.kind() == "except_clause")?;
    let try_stmt = clause.parent().filter(|t| t.kind() == "try_statement")?;
    let body = try_stmt.child_by_field_name("body")?;
    let raises = clause
        .named_children(&mut clause.walk())
        .filter(|c| c.kind() == "block")
        .last()
        .and_then(|b| primitives::statements(b).last().copied())
        .is_some_and(|last| last.kind() == "raise_statement");
    let guarded = uses.iter().any(|u| body.start_byte() <= u.start_byte() && u.end_byte() <= body.end_byte());
    (raises && guarded).then_some(stmt)
}

/// Edits moved back by `offset` bytes (to apply them to a slice that starts there).
fn shift(edits: &[Edit], offset: usize) -> Vec<Edit> {
    edits
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.range = e.range.start - offset..e.range.end - offset;
            e
        })
        .collect()
}

/// The runs of `range` that move, each from a statement that uses the session to one that does.
/// A statement without the session that must stay in L2 (it names an HTTP object or an L2
/// class, or returns, raises, yields or leaves a loop) ends one run; the next run starts at the
/// next statement with the session. A compound statement (`if`, `with`, a loop, a `try` body)
/// that has both is split the same way inside each of its blocks, so a guard clause nested in it
/// stays in L2 too. Each run becomes its own dispatch, on the same session.
fn split_at_barriers<'t>(
    file: &SourceFile,
    range: StatementRange<'t>,
    uses: &[Node],
    stays: &dyn Fn(&str) -> bool,
) -> Vec<StatementRange<'t>> {
    let stmts = primitives::statements(range.block);
    let uses_session = |s: Node| uses.iter().any(|u| u.start_byte() >= s.start_byte() && u.end_byte() <= s.end_byte());
    let stays_in_l2 = |s: Node| {
        let mut found = false;
        for_each_node(s, |n| {
            found |= match n.kind() {
                "return_statement" | "raise_statement" | "yield" | "break_statement" | "continue_statement" => true,
                "identifier" => stays(file.node_text(n)),
                _ => false,
            }
        });
        found
    };
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    for (i, stmt) in stmts.iter().enumerate().take(range.last + 1).skip(range.first) {
        let (with_session, must_stay) = (uses_session(*stmt), stays_in_l2(*stmt));
        // Split inside only when every use of the session is inside its blocks (none in a loop's
        // iterable, a condition or a `with` item, which would stay behind).
        let blocks = if with_session && must_stay { child_blocks(*stmt) } else { Vec::new() };
        let inside = |u: &Node| blocks.iter().any(|b| b.start_byte() <= u.start_byte() && u.end_byte() <= b.end_byte());
        let in_stmt = |u: &Node| stmt.start_byte() <= u.start_byte() && u.end_byte() <= stmt.end_byte();
        let blocks = if uses.iter().filter(|u| in_stmt(u)).all(inside) { blocks } else { Vec::new() };
        if !blocks.is_empty() {
            if let Some((first, last)) = open.take() {
                out.push(StatementRange { block: range.block, first, last });
            }
            for block in blocks {
                let inner = primitives::statements(block);
                let first = inner.iter().position(|s| uses_session(*s));
                let last = inner.iter().rposition(|s| uses_session(*s));
                if let (Some(first), Some(last)) = (first, last) {
                    out.extend(split_at_barriers(file, StatementRange { block, first, last }, uses, stays));
                }
            }
        } else if with_session {
            open = Some((open.map_or(i, |(first, _)| first), i));
        } else if must_stay {
            if let Some((first, last)) = open.take() {
                out.push(StatementRange { block: range.block, first, last });
            }
        }
    }
    if let Some((first, last)) = open {
        out.push(StatementRange { block: range.block, first, last });
    }
    out
}

/// The blocks of a compound statement that run as part of it: an `if`'s branches, a `with`'s or
/// loop's body (and a loop's `else`), a `try`'s body (its handlers stay in L2).
fn child_blocks(stmt: Node) -> Vec<Node> {
    let mut blocks = Vec::new();
    match stmt.kind() {
        "if_statement" => {
            blocks.extend(stmt.child_by_field_name("consequence"));
            let mut cursor = stmt.walk();
            for alternative in stmt.children_by_field_name("alternative", &mut cursor) {
                let block = match alternative.kind() {
                    "elif_clause" => alternative.child_by_field_name("consequence"),
                    _ => alternative.child_by_field_name("body"),
                };
                blocks.extend(block);
            }
        }
        "with_statement" | "for_statement" | "while_statement" => {
            blocks.extend(stmt.child_by_field_name("body"));
            blocks.extend(stmt.child_by_field_name("alternative").and_then(|a| a.child_by_field_name("body")));
        }
        "try_statement" => blocks.extend(stmt.child_by_field_name("body")),
        _ => {}
    }
    blocks
}

/// The tenant a dispatch passes: a tenant name bound before the run (or one with a prefix, like
/// `x_tenant_id`), or that attribute of a name bound before it (`auth.tenant_id`); `None` when
/// there is none.
fn tenant_expression(file: &SourceFile, endpoint: Node, bound: &[String], tenant_names: &[String]) -> String {
    if let Some(name) = tenant_names.iter().find(|t| bound.contains(t)) {
        return name.clone();
    }
    // A prefixed parameter (`x_tenant_id` from a header) names the same thing.
    if let Some(name) = bound.iter().find(|b| tenant_names.iter().any(|t| b.ends_with(&format!("_{t}")))) {
        return name.clone();
    }
    let mut found = None;
    for_each_node(endpoint, |n| {
        if found.is_none() && n.kind() == "attribute" {
            let object = n.child_by_field_name("object").filter(|o| o.kind() == "identifier");
            let attr = n.child_by_field_name("attribute").map(|a| file.node_text(a));
            if let (Some(object), Some(attr)) = (object, attr) {
                if tenant_names.iter().any(|t| t == attr) && bound.iter().any(|b| b == file.node_text(object)) {
                    found = Some(file.node_text(n).to_string());
                }
            }
        }
    });
    found.unwrap_or_else(|| "None".to_string())
}

/// Grows the range backwards over the statements just before it that only build what it reads
/// (a query, `text(...)`, a function-local import of a SQL helper): the driver then owns the SQL.
/// It never grows below `floor` (where the previous run ended).
fn grow_over_builders<'t>(
    file: &SourceFile,
    module_scope: &scope::ModuleScope,
    mut range: StatementRange<'t>,
    floor: usize,
    watched: &[&str],
    is_http: &dyn Fn(&str) -> bool,
) -> (StatementRange<'t>, scope::RangeFlow) {
    let stmts = primitives::statements(range.block);
    loop {
        let flow = scope::analyse_range_in(module_scope, file.bytes(), &range, watched);
        let Some(prev) = range.first.checked_sub(1).filter(|i| *i >= floor).map(|i| stmts[i]) else {
            return (range, flow);
        };
        if !is_builder(file, prev, &flow.inputs, is_http) {
            return (range, flow);
        }
        range.first -= 1;
    }
}

/// A statement that only binds names in `consumed` (plain names, no attribute or item stores),
/// reads no HTTP name and cannot leave the code (no return, raise, yield, await, loop jump).
fn is_builder(file: &SourceFile, stmt: Node, consumed: &[String], is_http: &dyn Fn(&str) -> bool) -> bool {
    let mut ok =
        matches!(stmt.kind(), "expression_statement" | "import_statement" | "import_from_statement" | "if_statement");
    let mut bound = Vec::new();
    for_each_node(stmt, |n| match n.kind() {
        "return_statement"
        | "raise_statement"
        | "yield"
        | "await"
        | "break_statement"
        | "continue_statement"
        | "function_definition"
        | "class_definition"
        | "lambda"
        | "for_statement"
        | "while_statement"
        | "with_statement"
        | "try_statement"
        | "global_statement"
        | "nonlocal_statement"
        | "delete_statement" => ok = false,
        "expression_statement" => {
            let inner = n.named_child(0);
            if !inner.is_some_and(|c| matches!(c.kind(), "assignment" | "augmented_assignment")) {
                ok = false;
            }
        }
        "assignment" | "augmented_assignment" => match n.child_by_field_name("left") {
            Some(left) if left.kind() == "identifier" => bound.push(file.node_text(left).to_string()),
            _ => ok = false,
        },
        "dotted_name" | "aliased_import"
            if matches!(n.parent().map(|p| p.kind()), Some("import_statement" | "import_from_statement")) =>
        {
            let name = if n.kind() == "aliased_import" { n.child_by_field_name("alias") } else { Some(n) };
            if let Some(name) = name {
                bound.push(file.node_text(name).split('.').next().unwrap_or_default().to_string());
            }
        }
        "identifier" if is_http(file.node_text(n)) => ok = false,
        _ => {}
    });
    if matches!(stmt.kind(), "import_from_statement") {
        // The module of `from m import x` is not a bound name.
        bound.retain(|b| {
            stmt.child_by_field_name("module_name").is_none_or(|m| file.node_text(m).split('.').next() != Some(b))
        });
    }
    ok && !bound.is_empty() && bound.iter().all(|b| consumed.contains(b))
}

/// The only binding of `name` in the endpoint, when it is an import statement in its body:
/// `(module, imported name, level)` as a module-level binding would record it.
fn local_import(file: &SourceFile, endpoint: Node, name: &str) -> Option<(String, Option<String>, usize)> {
    let body = endpoint.child_by_field_name("body")?;
    let mut found = None;
    let mut bindings = 0;
    for_each_node(body, |n| match n.kind() {
        "import_from_statement" | "import_statement" => {
            for binding in scope::module_bindings_of_statement(file.bytes(), n) {
                if binding.name == name {
                    bindings += 1;
                    if let BindingKind::Import { module, imported, level } = binding.kind {
                        found = Some((module, imported, level));
                    }
                }
            }
        }
        "identifier" if file.node_text(n) == name => {
            let assigned = n.parent().is_some_and(|p| {
                matches!(p.kind(), "assignment" | "augmented_assignment" | "for_statement" | "as_pattern_target")
                    && p.child_by_field_name("left").is_some_and(|l| l.id() == n.id())
            });
            if assigned {
                bindings += 1;
            }
        }
        _ => {}
    });
    found.filter(|_| bindings == 1)
}

/// Outputs assigned straight from `session.execute(...)` (awaited or not) in the run.
fn live_results(file: &SourceFile, stmts: &[Node], session: &str, outputs: &[String]) -> Vec<String> {
    let mut live = Vec::new();
    for stmt in stmts {
        let Some(assignment) =
            stmt.named_child(0).filter(|a| stmt.kind() == "expression_statement" && a.kind() == "assignment")
        else {
            continue;
        };
        let (Some(left), Some(right)) =
            (assignment.child_by_field_name("left"), assignment.child_by_field_name("right"))
        else {
            continue;
        };
        let call = if right.kind() == "await" { right.named_child(0) } else { Some(right) };
        let executes =
            call.filter(|c| c.kind() == "call").and_then(|c| c.child_by_field_name("function")).is_some_and(|f| {
                f.kind() == "attribute"
                    && f.child_by_field_name("object").is_some_and(|o| file.node_text(o) == session)
                    && f.child_by_field_name("attribute").is_some_and(|a| file.node_text(a) == "execute")
            });
        let name = file.node_text(left).to_string();
        if left.kind() == "identifier" && outputs.contains(&name) {
            live.retain(|n| n != &name);
            if executes {
                live.push(name);
            }
        }
    }
    live
}

/// Inputs plus every output the endpoint certainly had a value for before the range: where the
/// range assigns it only on some paths, the driver must start from that value, as the endpoint did.
fn with_prior_values(bound_before: &[String], inputs: Vec<String>, outputs: &[String]) -> Vec<String> {
    let mut all = inputs;
    for output in outputs {
        if bound_before.contains(output) && !all.contains(output) {
            all.push(output.clone());
        }
    }
    all
}

/// Names bound on every path to `first` inside `endpoint`: its parameters and the plain
/// assignments (and imports) among the statements that precede `first` in its block and in each
/// enclosing block. A keyword argument's name (`f(total=0)`) binds nothing.
fn bound_before(file: &SourceFile, endpoint: Node, first: Node) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(params) = endpoint.child_by_field_name("parameters") {
        let mut cursor = params.walk();
        for p in params.named_children(&mut cursor) {
            let name = match p.kind() {
                "identifier" => Some(p),
                "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name"),
                "typed_parameter" => p.named_child(0).filter(|c| c.kind() == "identifier"),
                _ => None,
            };
            if let Some(name) = name {
                names.push(file.node_text(name).to_string());
            }
        }
    }
    let mut node = first;
    while node.id() != endpoint.id() {
        let Some(parent) = node.parent() else { break };
        if parent.kind() == "block" {
            for stmt in primitives::statements(parent).into_iter().take_while(|s| s.id() != node.id()) {
                let assignment = (stmt.kind() == "expression_statement")
                    .then(|| stmt.named_child(0))
                    .flatten()
                    .filter(|a| a.kind() == "assignment");
                if let Some(left) = assignment.and_then(|a| a.child_by_field_name("left")) {
                    for_each_node(left, |n| {
                        let in_attribute_or_subscript = std::iter::successors(n.parent(), |p| p.parent())
                            .take_while(|p| p.id() != left.id())
                            .any(|p| matches!(p.kind(), "attribute" | "subscript"));
                        if n.kind() == "identifier" && !in_attribute_or_subscript {
                            names.push(file.node_text(n).to_string());
                        }
                    });
                }
            }
        }
        node = parent;
    }
    names
}

/// A name the range uses that the endpoint declares `global` or `nonlocal` (outside the range).
fn declared_outside(file: &SourceFile, endpoint: Node, range: &[Node]) -> Option<(String, usize)> {
    let mut declared: Vec<(String, usize)> = Vec::new();
    for_each_node(endpoint, |n| {
        if matches!(n.kind(), "global_statement" | "nonlocal_statement") {
            let mut cursor = n.walk();
            for name in n.named_children(&mut cursor) {
                declared.push((file.node_text(name).to_string(), line_of(file, n)));
            }
        }
    });
    let mut found = None;
    for stmt in range {
        for_each_node(*stmt, |n| {
            if found.is_none() && n.kind() == "identifier" {
                found = declared.iter().find(|(name, _)| name == file.node_text(n)).cloned();
            }
        });
    }
    found
}

/// The `except` clauses of the `try`s around `block` (inside the endpoint) and what they mean
/// once the code is dispatched. A failed dispatch raises a plain exception carrying the same
/// message, so bare, `Exception` and `BaseException` handlers behave as before, and handlers of
/// HTTP exceptions never saw database errors anyway. A handler of builtin exception types
/// (`except ValueError`) still sees one when the registry's error code names it: those types
/// are returned, to be re-raised. Any other handler is the first one that would not see the
/// driver's error any more: `Err((line, type))`.
fn l2_handlers(
    block: Node,
    endpoint: Node,
    file: &SourceFile,
    http_names: &[String],
    error_codes: bool,
) -> Result<Vec<String>, (usize, String)> {
    let mut reraise = Vec::new();
    let mut node = block;
    while let Some(parent) = node.parent() {
        if parent.id() == endpoint.id() {
            break;
        }
        if parent.kind() == "try_statement" && parent.child_by_field_name("body").is_some_and(|b| b.id() == node.id()) {
            let mut cursor = parent.walk();
            let clauses: Vec<Node> = parent
                .named_children(&mut cursor)
                .filter(|c| matches!(c.kind(), "except_clause" | "except_group_clause"))
                .collect();
            for clause in clauses {
                if clause.kind() == "except_group_clause" {
                    return Err((line_of(file, clause), "*".into()));
                }
                let caught = clause.named_child(0).filter(|c| c.kind() != "block");
                let caught = caught.map(|c| if c.kind() == "as_pattern" { c.named_child(0).unwrap_or(c) } else { c });
                let Some(caught) = caught else { continue };
                let text = file.node_text(caught).to_string();
                let types: Vec<String> = if caught.kind() == "tuple" {
                    let mut cursor = caught.walk();
                    let names: Vec<String> =
                        caught.named_children(&mut cursor).map(|t| file.node_text(t).to_string()).collect();
                    names
                } else {
                    vec![text.clone()]
                };
                for t in types {
                    let broad = matches!(t.as_str(), "Exception" | "BaseException") || http_names.contains(&t);
                    if broad {
                        continue;
                    }
                    if error_codes && scope::is_builtin_exception(&t) {
                        if !reraise.contains(&t) {
                            reraise.push(t);
                        }
                        continue;
                    }
                    return Err((line_of(file, clause), text.clone()));
                }
            }
        }
        node = parent;
    }
    Ok(reraise)
}

/// Turns the range into driver code: commits become flushes (the handler commits after the
/// driver), rollbacks that re-raise go (the handler rolls back). Returns the edits, whether the
/// code wrote (committed), and whether the session is awaited.
fn transaction_edits(
    file: &SourceFile,
    stmts: &[Node],
    session: &str,
    here: &str,
) -> Result<(Vec<Edit>, bool, bool), ManualReason> {
    let mut edits = Vec::new();
    let mut writes = false;
    let mut session_async = false;
    let mut problem = None;
    for stmt in stmts {
        for_each_node(*stmt, |n| {
            if n.kind() != "call" || problem.is_some() {
                return;
            }
            let Some(function) = n.child_by_field_name("function").filter(|f| f.kind() == "attribute") else { return };
            let (Some(object), Some(method)) =
                (function.child_by_field_name("object"), function.child_by_field_name("attribute"))
            else {
                return;
            };
            if file.node_text(object) != session {
                // A transaction ended through another object (a write service wrapping the
                // session) would end it inside the driver, which never does.
                if matches!(file.node_text(method), "commit" | "rollback") {
                    problem = Some(format!(
                        "{here}: `{}.{}()` at line {} ends the transaction through an object the driver would hold; move that commit to the caller by hand",
                        file.node_text(object),
                        file.node_text(method),
                        line_of(file, n)
                    ));
                }
                return;
            }
            if n.parent().is_some_and(|p| p.kind() == "await") {
                session_async = true;
            }
            match file.node_text(method) {
                "commit" => {
                    writes = true;
                    edits.push(Edit::replace(method.byte_range(), "flush"));
                }
                "rollback" => {
                    writes = true;
                    let stmt = python::enclosing_statement(n).filter(|s| primitives::statement_is_just(*s, n));
                    let reraises =
                        stmt.and_then(|s| s.next_named_sibling()).is_some_and(|next| next.kind() == "raise_statement");
                    match (stmt, reraises) {
                        // The `raise` after it keeps the block non-empty; the driver text is tidied afterwards.
                        (Some(stmt), true) => edits.push(Edit::delete(file.line_range(stmt.byte_range()))),
                        _ => {
                            problem = Some(format!(
                                "{here}: the rollback at line {} does not re-raise; its error handling must be redesigned by hand",
                                line_of(file, n)
                            ))
                        }
                    }
                }
                _ => {}
            }
        });
    }
    problem.map_or(Ok((edits, writes, session_async)), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_class_names_keep_their_own_underscores() {
        let taken = ["Shop_ItemsHandler"];
        assert_eq!(fresh_class("Shop_ItemsHandler", &|c| taken.contains(&c)), "Shop_ItemsHandler2");
        assert_eq!(fresh_class("Other", &|c| taken.contains(&c)), "Other");
    }

    #[test]
    fn fresh_names_avoid_taken_ones() {
        let taken = ["op_result", "op_result_2"];
        assert_eq!(fresh("op_result", &|c| taken.contains(&c)), "op_result_3");
        assert_eq!(fresh("x", &|c| taken.contains(&c)), "x");
    }

    #[test]
    fn minimal_edit_keeps_common_prefix_and_suffix() {
        let fe = minimal_edit("a.py", Some("abcXYdef"), "abcZdef".to_string());
        assert_eq!(fe.edits, vec![Edit::replace(3..5, "Z")]);
        assert_eq!(edit::apply("abcXYdef", &fe.edits).unwrap(), "abcZdef");
        let fe = minimal_edit("a.py", Some("aaa"), "aaaa".to_string());
        assert_eq!(edit::apply("aaa", &fe.edits).unwrap(), "aaaa");
    }
}
