//! The driver's side of session injection: every block, assignment or helper in which a driver
//! (a class or a module function) opens its own session is unwrapped, the session becomes an
//! injected one, and the driver's commits, rollbacks and closes go (they are its owner's job).

use std::collections::BTreeSet;

use regex::Regex;
use tree_sitter::Node;

use super::super::ManualReason;
use super::Factories;
use crate::config::RegistryConfig;
use crate::edit::{self, Edit};
use crate::fix::primitives;
use crate::python::{self, for_each_node, SourceFile};

/// Names a session parameter or attribute goes by.
pub fn session_like() -> Regex {
    Regex::new(r"(?i)^(db|conn|\w*session\w*)$").expect("constant regex")
}

/// What the driver is: a class whose methods open sessions, or one module function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    Class(String),
    Function(String),
}

impl Unit {
    pub fn name(&self) -> &str {
        match self {
            Unit::Class(n) | Unit::Function(n) => n,
        }
    }
}

/// How the driver used to open its session, so that an owner without one can open the same.
#[derive(Debug, Clone)]
pub struct Opener {
    /// The statement header with `{}` where the session's name goes: `async with X() as {}:`.
    pub header: String,
    /// Names the header reads, which the owner's module must bind (imported like the driver does).
    pub reads: Vec<String>,
}

/// The rewritten driver and what its callers must now do.
#[derive(Debug)]
pub struct DriverRewrite {
    pub unit: Unit,
    /// The unit's new text, replacing it.
    pub unit_edit: Edit,
    /// Imports the unit now needs (the session's type).
    pub imports: Vec<Edit>,
    pub is_async: bool,
    /// Functions (`Class.method` or `function`) that committed before the rewrite.
    pub committed: Vec<String>,
    pub rolled_back: bool,
    pub opener: Opener,
    /// The session's type, `(module, name)`, for the parameters threaded through callers.
    pub session_type: Option<(String, String)>,
    /// The parameter callers pass the session as, and its position where it can be positional.
    pub call_param: (String, Option<usize>),
}

fn name_of<'a>(file: &'a SourceFile, node: Node) -> &'a str {
    node.child_by_field_name("name").map_or("", |n| file.node_text(n))
}

fn line(file: &SourceFile, node: Node) -> usize {
    file.line_col(node.start_byte()).0
}

/// The methods (function definitions, decorated or not) of a class body.
pub fn methods(class: Node) -> Vec<Node> {
    let Some(body) = class.child_by_field_name("body") else { return Vec::new() };
    primitives::statements(body)
        .into_iter()
        .filter_map(|s| match s.kind() {
            "function_definition" => Some(s),
            "decorated_definition" => s.child_by_field_name("definition"),
            _ => None,
        })
        .collect()
}

/// The callee of a call as written (`AsyncSessionLocal`, `db.get_async_session`), looking through
/// `await` and `next(...)`.
fn factory_call<'t>(f: &Factories, file: &SourceFile, expr: Node<'t>) -> Option<(Node<'t>, String)> {
    let mut expr = expr;
    if expr.kind() == "await" {
        expr = expr.named_child(0)?;
    }
    if expr.kind() != "call" {
        return None;
    }
    let callee = file.node_text(expr.child_by_field_name("function")?).to_string();
    if callee == "next" {
        let inner = expr.child_by_field_name("arguments")?.named_child(0)?;
        return factory_call(f, file, inner);
    }
    f.sessions.is_match(&callee).then_some((expr, callee))
}

/// One place where a function of the driver opens a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `with F() as s:` / `async with` / `async for s in F():` around statements.
    Block,
    /// `s = F()` (closed later, in `finally` or explicitly).
    Assign,
    /// `if s is None: s = F()` (an optional session parameter).
    Fallback,
    /// `s, close = self._helper()` or `s = self._helper()`.
    Helper,
}

struct Acquisition<'t> {
    kind: Kind,
    stmt: Node<'t>,
    name: String,
    /// The expression that opened the session (`F(...)`), for the owner's opener.
    opened: Option<Node<'t>>,
    is_async: bool,
    /// For `Helper`: the flag that says whether to close (`should_close`).
    flag: Option<String>,
}

/// The statements of a function body, recursively, without nested definitions.
fn walk_statements<'t>(body: Node<'t>, out: &mut Vec<Node<'t>>) {
    for stmt in primitives::statements(body) {
        out.push(stmt);
        if matches!(stmt.kind(), "function_definition" | "class_definition" | "decorated_definition") {
            continue;
        }
        let mut cursor = stmt.walk();
        for child in stmt.named_children(&mut cursor) {
            match child.kind() {
                "block" => walk_statements(child, out),
                "else_clause" | "elif_clause" | "except_clause" | "except_group_clause" | "finally_clause" => {
                    let mut c2 = child.walk();
                    for block in child.named_children(&mut c2).filter(|b| b.kind() == "block") {
                        walk_statements(block, out);
                    }
                }
                _ => {}
            }
        }
    }
}

fn assignment_of(stmt: Node) -> Option<Node> {
    (stmt.kind() == "expression_statement").then(|| stmt.named_child(0)).flatten().filter(|a| a.kind() == "assignment")
}

/// Finds the acquisitions in one function; `helpers` are the class's session helper methods.
fn acquisitions<'t>(
    f: &Factories,
    file: &'t SourceFile,
    function: Node<'t>,
    helpers: &[String],
) -> Result<Vec<Acquisition<'t>>, ManualReason> {
    let Some(body) = function.child_by_field_name("body") else { return Ok(Vec::new()) };
    let mut stmts = Vec::new();
    walk_statements(body, &mut stmts);
    let identifier = Regex::new(r"^[A-Za-z_]\w*$").expect("constant regex");
    let mut found = Vec::new();
    for stmt in stmts {
        let text = file.node_text(stmt);
        match stmt.kind() {
            "with_statement" => {
                let Some(clause) = stmt.named_child(0).filter(|c| c.kind() == "with_clause") else { continue };
                let items: Vec<Node> = {
                    let mut c = clause.walk();
                    clause.named_children(&mut c).collect()
                };
                for item in &items {
                    let Some(value) = item.child_by_field_name("value") else { continue };
                    let (expr, alias) = if value.kind() == "as_pattern" {
                        (value.named_child(0), value.child_by_field_name("alias"))
                    } else {
                        (Some(value), None)
                    };
                    let Some((call, _)) = expr.and_then(|e| factory_call(f, file, e)) else { continue };
                    let name = alias.map(|a| file.node_text(a).trim().to_string());
                    match (items.len(), name) {
                        (1, Some(name)) if identifier.is_match(&name) => found.push(Acquisition {
                            kind: Kind::Block,
                            stmt,
                            name,
                            opened: Some(call),
                            is_async: text.starts_with("async"),
                            flag: None,
                        }),
                        _ => {
                            return Err(format!(
                                "the `with` at line {} opens a session among other context managers or without a name",
                                line(file, stmt)
                            ))
                        }
                    }
                }
            }
            "for_statement" => {
                let Some(right) = stmt.child_by_field_name("right") else { continue };
                let Some((call, _)) = factory_call(f, file, right) else { continue };
                let left = stmt.child_by_field_name("left").filter(|l| l.kind() == "identifier");
                let Some(left) = left else {
                    return Err(format!(
                        "the loop at line {} unpacks what the session factory yields",
                        line(file, stmt)
                    ));
                };
                if stmt.child_by_field_name("alternative").is_some() || loop_is_exited(stmt) {
                    return Err(format!(
                        "the loop over the session factory at line {} has `else`, `break` or `continue`",
                        line(file, stmt)
                    ));
                }
                found.push(Acquisition {
                    kind: Kind::Block,
                    stmt,
                    name: file.node_text(left).to_string(),
                    opened: Some(call),
                    is_async: text.starts_with("async"),
                    flag: None,
                });
            }
            "expression_statement" => {
                let Some(assign) = assignment_of(stmt) else { continue };
                let (Some(left), Some(right)) =
                    (assign.child_by_field_name("left"), assign.child_by_field_name("right"))
                else {
                    continue;
                };
                if let Some((call, callee)) = factory_call(f, file, right) {
                    if f.engines.is_match(&callee) {
                        // An engine a session is opened on: the acquisition that reads it decides.
                        continue;
                    }
                    if left.kind() != "identifier" {
                        return Err(format!(
                            "`{}` at line {} keeps a session the object owns across calls",
                            file.node_text(stmt).trim(),
                            line(file, stmt)
                        ));
                    }
                    let fallback = stmt
                        .parent()
                        .and_then(|b| b.parent())
                        .filter(|i| i.kind() == "if_statement" && is_single_statement_if(*i));
                    found.push(Acquisition {
                        kind: if fallback.is_some() { Kind::Fallback } else { Kind::Assign },
                        stmt: fallback.unwrap_or(stmt),
                        name: file.node_text(left).to_string(),
                        opened: Some(call),
                        is_async: file.node_text(right).contains("Async") || file.node_text(right).contains("async"),
                        flag: None,
                    });
                    continue;
                }
                // `s, close = self._helper()` / `s = self._helper()`.
                let helper_called = right.kind() == "call"
                    && right
                        .child_by_field_name("function")
                        .is_some_and(|f| helpers.iter().any(|h| file.node_text(f) == format!("self.{h}")));
                if helper_called {
                    let names: Vec<String> = match left.kind() {
                        "identifier" => vec![file.node_text(left).to_string()],
                        "pattern_list" | "tuple_pattern" => {
                            let mut c = left.walk();
                            left.named_children(&mut c).map(|n| file.node_text(n).to_string()).collect()
                        }
                        _ => Vec::new(),
                    };
                    let Some(name) = names.first().cloned() else { continue };
                    found.push(Acquisition {
                        kind: Kind::Helper,
                        stmt,
                        name,
                        opened: None,
                        is_async: false,
                        flag: names.get(1).cloned(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// `if c: x` with one statement and no `else`.
fn is_single_statement_if(node: Node) -> bool {
    node.child_by_field_name("alternative").is_none()
        && node.child_by_field_name("consequence").is_some_and(|b| primitives::statements(b).len() == 1)
}

/// Whether a `break`/`continue` in the loop's own body leaves or restarts it.
fn loop_is_exited(loop_stmt: Node) -> bool {
    let mut exited = false;
    for_each_node(loop_stmt, |n| {
        if matches!(n.kind(), "break_statement" | "continue_statement") {
            let owner = std::iter::successors(n.parent(), |p| p.parent())
                .find(|p| matches!(p.kind(), "for_statement" | "while_statement" | "function_definition"));
            if owner.is_some_and(|o| o.id() == loop_stmt.id()) {
                exited = true;
            }
        }
    });
    exited
}

/// Every call of a session or engine factory in `node`, for the check that all are accounted for.
fn factory_calls<'t>(f: &Factories, file: &SourceFile, node: Node<'t>) -> Vec<Node<'t>> {
    let mut calls = Vec::new();
    for_each_node(node, |n| {
        if n.kind() == "call"
            && n.child_by_field_name("function").is_some_and(|c| f.sessions.is_match(file.node_text(c)))
        {
            calls.push(n);
        }
    });
    calls
}

/// Inputs of one rewrite.
pub struct Request<'t> {
    pub file: &'t SourceFile,
    /// The factory call the rule matched.
    pub trigger: Node<'t>,
    pub registry: &'t RegistryConfig,
    pub factories: &'t Factories,
}

/// Finds the unit around the trigger and rewrites it.
pub fn rewrite(request: &Request) -> Result<DriverRewrite, ManualReason> {
    let file = request.file;
    let function = python::enclosing_function(request.trigger).ok_or("the session is opened at module level")?;
    let class = python::calls::enclosing_class(request.trigger);
    match class {
        Some(class) if class.parent().is_some_and(|p| p.kind() == "module") => {
            rewrite_class(request.factories, file, class, request.registry)
        }
        None if python::enclosing_function(function).is_none() => {
            rewrite_function(request.factories, file, function, request.registry)
        }
        _ => Err("the session is opened in a nested function or class".into()),
    }
}

/// How the owner opens the session the driver opened with `opened`: the same call (the method's
/// engine locals inlined: `Session(engine)` after `engine = get_engine()` → `Session(get_engine())`,
/// those locals then deleted) as `async for s in F():` where the driver looped over it, else as
/// `with F() as s:`.
fn opener_of<'t>(
    f: &Factories,
    file: &'t SourceFile,
    function: Node<'t>,
    (opened, looped, is_async): (Node, bool, bool),
    deletable: &mut Vec<Node<'t>>,
) -> Opener {
    let mut text = file.node_text(opened).to_string();
    let mut reads = BTreeSet::new();
    for_each_node(opened, |n| {
        let member = n.parent().is_some_and(|p| p.kind() == "attribute" && p.child_by_field_name("object") != Some(n));
        let keyword =
            n.parent().is_some_and(|p| p.kind() == "keyword_argument" && p.child_by_field_name("name") == Some(n));
        if n.kind() == "identifier" && !member && !keyword {
            reads.insert(file.node_text(n).to_string());
        }
    });
    let mut stmts = Vec::new();
    if let Some(body) = function.child_by_field_name("body") {
        walk_statements(body, &mut stmts);
    }
    for stmt in stmts {
        let Some(assign) = assignment_of(stmt) else { continue };
        let (Some(left), Some(right)) = (assign.child_by_field_name("left"), assign.child_by_field_name("right"))
        else {
            continue;
        };
        let Some((_, callee)) = factory_call(f, file, right) else { continue };
        if !f.engines.is_match(&callee) || left.kind() != "identifier" {
            continue;
        }
        let local = file.node_text(left).to_string();
        if reads.remove(&local) {
            let pattern = Regex::new(&format!(r"\b{}\b", regex::escape(&local))).expect("escaped");
            text = pattern.replace_all(&text, file.node_text(right)).to_string();
            for_each_node(right, |n| {
                if n.kind() == "identifier" && n.parent().is_none_or(|p| p.kind() != "attribute") {
                    reads.insert(file.node_text(n).to_string());
                }
            });
            deletable.push(stmt);
        }
    }
    let prefix = if is_async { "async " } else { "" };
    let header = if looped { format!("{prefix}for {{}} in {text}:") } else { format!("{prefix}with {text} as {{}}:") };
    Opener { header, reads: reads.into_iter().collect() }
}

/// Text of a block's lines re-indented to `indent`, from the line after its header's `:` (so
/// comments that open the block, which the parser puts before it, come along).
fn dedented_body(file: &SourceFile, block: Node, indent: &str) -> Option<String> {
    let first = primitives::statements(block).into_iter().next()?;
    let body_indent = primitives::indentation(file, first)?;
    let colon = std::iter::successors(block.prev_sibling(), |n| n.prev_sibling()).find(|n| n.kind() == ":")?;
    let range = file.line_range(colon.end_byte()..colon.end_byte()).end..file.line_range(block.byte_range()).end;
    Some(primitives::reindent(&file.text[range], &body_indent, indent))
}

/// For `stmt` alone in the `else` of `if <injected>:` (or `is not None`, no `elif`): that `if`
/// and its first branch, which is all that remains once the session is always injected.
fn fallback_branch<'t>(file: &SourceFile, stmt: Node<'t>, injected: &str) -> Option<(Node<'t>, Node<'t>)> {
    let block = stmt.parent()?;
    let branch = block.parent().filter(|e| e.kind() == "else_clause")?;
    let guard = branch.parent().filter(|i| i.kind() == "if_statement")?;
    let condition = file.node_text(guard.child_by_field_name("condition")?);
    let mut cursor = guard.walk();
    let elif = guard.named_children(&mut cursor).any(|c| c.kind() == "elif_clause");
    let alone = primitives::statements(block).len() == 1;
    let tested = condition == injected || condition == format!("{injected} is not None");
    (tested && alone && !elif).then_some(())?;
    Some((guard, guard.child_by_field_name("consequence")?))
}

struct Collected<'t> {
    edits: Vec<Edit>,
    /// Imports the rewrite adds (outside the unit, applied with the final edit).
    imports: Vec<Edit>,
    acquisitions: Vec<Acquisition<'t>>,
    opener: Option<Opener>,
    is_async: bool,
}

/// Round 1 for one function: unwrap blocks, replace assignments; `replacement` is what the
/// session is read as afterwards (`self._session`), `None` for a function's own parameter.
fn unwrap_function<'t>(
    f: &Factories,
    file: &'t SourceFile,
    function: Node<'t>,
    helpers: &[String],
    replacement: Option<&str>,
    out: &mut Collected<'t>,
) -> Result<(), ManualReason> {
    let found = acquisitions(f, file, function, helpers)?;
    let mut deletable = Vec::new();
    for acq in &found {
        let indent = primitives::indentation(file, acq.stmt).ok_or("a session statement shares its line")?;
        let nl = file.newline();
        if let Some(opened) = acq.opened {
            let looped = acq.stmt.kind() == "for_statement";
            let opener = opener_of(f, file, function, (opened, looped, acq.is_async), &mut deletable);
            out.opener.get_or_insert(opener);
        }
        out.is_async |= acq.is_async;
        let alias = |name: &str| replacement.map(|r| format!("{indent}{name} = {r}{nl}")).unwrap_or_default();
        let range = file.line_range(acq.stmt.byte_range());
        match acq.kind {
            Kind::Block => {
                let body = acq.stmt.child_by_field_name("body").ok_or("a `with` without a body")?;
                if found.iter().any(|o| {
                    o.stmt.id() != acq.stmt.id()
                        && o.stmt.start_byte() >= body.start_byte()
                        && o.stmt.end_byte() <= body.end_byte()
                }) {
                    return Err(format!("line {} opens a second session inside the first", line(file, acq.stmt)));
                }
                // `if self._session: A else: <open one>`: the injected session is always there.
                if let Some((fallback_of, kept)) = replacement.and_then(|r| fallback_branch(file, acq.stmt, r)) {
                    let if_indent = primitives::indentation(file, fallback_of).ok_or("an `if` sharing its line")?;
                    let text = dedented_body(file, kept, &if_indent).ok_or("an empty branch")?;
                    out.edits.push(Edit::replace(file.line_range(fallback_of.byte_range()), text));
                    continue;
                }
                let text = dedented_body(file, body, &indent).ok_or("an empty session block")?;
                out.edits.push(Edit::replace(range, format!("{}{text}", alias(&acq.name))));
            }
            Kind::Assign | Kind::Helper => match replacement {
                Some(r) => out.edits.push(Edit::replace(range, format!("{indent}{} = {r}{nl}", acq.name))),
                None => out.edits.extend(primitives::delete_statement(file, acq.stmt)),
            },
            Kind::Fallback => out.edits.extend(primitives::delete_statement(file, acq.stmt)),
        }
    }
    for stmt in deletable {
        out.edits.extend(primitives::delete_statement(file, stmt));
    }
    out.acquisitions.extend(found);
    Ok(())
}

fn rewrite_class(
    f: &Factories,
    file: &SourceFile,
    class: Node,
    registry: &RegistryConfig,
) -> Result<DriverRewrite, ManualReason> {
    let class_name = name_of(file, class).to_string();
    let all = methods(class);
    let init = all.iter().copied().find(|m| name_of(file, *m) == "__init__");
    let helper_name = Regex::new(r"^_\w*session\w*$").expect("constant regex");
    let helpers: Vec<Node> = all
        .iter()
        .copied()
        .filter(|m| helper_name.is_match(name_of(file, *m)) && !factory_calls(f, file, *m).is_empty())
        .collect();
    let helper_names: Vec<String> = helpers.iter().map(|h| name_of(file, *h).to_string()).collect();
    let is_async = all.iter().any(|m| {
        acquisitions(f, file, *m, &helper_names).is_ok_and(|found| found.iter().any(|a| a.is_async))
            || helpers.iter().any(|h| h.id() == m.id() && file.node_text(*h).contains("Async"))
    });
    let typed = session_type(file, is_async, registry);
    let declared = session_parameter(file, "session", typed.as_ref());

    // The attribute the injected session lives in, and the edits on `__init__`.
    let mut collected =
        Collected { edits: Vec::new(), imports: Vec::new(), acquisitions: Vec::new(), opener: None, is_async: false };
    let (attr, call_param) = match init {
        Some(init) => init_edits(file, init, &class_name, &declared.0, &mut collected.edits)?,
        None => {
            // The class's first member, after its docstring and before any section comments.
            let body = class.child_by_field_name("body").ok_or("a class without a body")?;
            let first = primitives::statements(body).into_iter().next().ok_or("an empty class")?;
            let indent = primitives::indentation(file, first).ok_or("a class member shares its line")?;
            let nl = file.newline();
            let init =
                format!("{indent}def __init__(self, {}):{nl}{indent}    self._session = session{nl}", declared.0);
            let edit = if is_docstring(first) {
                Edit::insert(file.line_range(first.byte_range()).end, format!("{nl}{init}"))
            } else {
                let colon = std::iter::successors(body.prev_sibling(), |n| n.prev_sibling()).find(|n| n.kind() == ":");
                let header_end = colon.map_or(first.start_byte(), |c| file.line_range(c.end_byte()..c.end_byte()).end);
                Edit::insert(header_end, format!("{init}{nl}"))
            };
            collected.edits.push(edit);
            ("_session".to_string(), ("session".to_string(), None))
        }
    };
    collected.imports.extend(declared.1);
    let replacement = format!("self.{attr}");
    for method in &all {
        if helpers.iter().any(|h| h.id() == method.id()) || Some(*method) == init {
            continue;
        }
        unwrap_function(f, file, *method, &helper_names, Some(&replacement), &mut collected)?;
    }
    // Helpers go; any other call of one reads the attribute.
    for helper in &helpers {
        let stmt = helper.parent().filter(|p| p.kind() == "decorated_definition").unwrap_or(*helper);
        let calls = factory_calls(f, file, *helper);
        let opened = calls.iter().find(|c| !engine_local(f, file, **c) && !f.engines.is_match(callee_text(file, **c)));
        if let (None, Some(call)) = (&collected.opener, opened) {
            let is_async = file.node_text(*call).contains("Async");
            collected.opener = Some(opener_of(f, file, *helper, (*call, false, is_async), &mut Vec::new()));
            collected.is_async |= is_async;
        }
        collected.edits.extend(primitives::delete_statement(file, stmt));
    }
    for name in &helper_names {
        let pattern = format!("self.{name}()");
        for_each_node(class, |n| {
            if n.kind() == "call"
                && file.node_text(n) == pattern
                && !helpers.iter().any(|h| h.start_byte() <= n.start_byte() && n.end_byte() <= h.end_byte())
                && !collected
                    .acquisitions
                    .iter()
                    .any(|a| a.stmt.start_byte() <= n.start_byte() && n.end_byte() <= a.stmt.end_byte())
            {
                collected.edits.push(Edit::replace(n.byte_range(), replacement.clone()));
            }
        });
    }
    // Every factory call must be one of those handled.
    for call in factory_calls(f, file, class) {
        let handled =
            collected.acquisitions.iter().any(|a| {
                a.stmt.start_byte() <= call.start_byte()
                    && call.end_byte() <= a.stmt.end_byte()
                    && a.opened.is_some_and(|o| o.start_byte() <= call.start_byte() && call.end_byte() <= o.end_byte())
            }) || helpers.iter().any(|h| h.start_byte() <= call.start_byte() && call.end_byte() <= h.end_byte())
                || engine_local(f, file, call);
        if !handled {
            return Err(format!(
                "`{}` at line {} is not a session opened for one call (an engine or a session the object keeps); pass it in from the L4 caller by hand",
                file.node_text(call),
                line(file, call)
            ));
        }
    }
    let opener = collected.opener.clone().ok_or("no session is opened in the class")?;
    let injected = Injected { receivers: vec![replacement], opener, call_param, session_type: typed };
    finish(file, (class, Unit::Class(class_name)), collected, injected)
}

fn callee_text<'a>(file: &'a SourceFile, call: Node) -> &'a str {
    call.child_by_field_name("function").map(|c| file.node_text(c)).unwrap_or_default()
}

/// `engine = get_engine()` in a method (inlined into the opener and deleted).
fn engine_local(f: &Factories, file: &SourceFile, call: Node) -> bool {
    f.engines.is_match(callee_text(file, call))
        && call.parent().is_some_and(|a| {
            a.kind() == "assignment" && a.child_by_field_name("left").is_some_and(|l| l.kind() == "identifier")
        })
}

pub fn is_docstring(stmt: Node) -> bool {
    stmt.kind() == "expression_statement" && stmt.named_child(0).is_some_and(|c| c.kind() == "string")
}

/// Makes `__init__` take a required session; returns the attribute it is stored in.
fn init_edits(
    file: &SourceFile,
    init: Node,
    class_name: &str,
    declared: &str,
    edits: &mut Vec<Edit>,
) -> Result<(String, (String, Option<usize>)), ManualReason> {
    let params = init.child_by_field_name("parameters").ok_or("`__init__` has no parameters")?;
    let list: Vec<Node> = {
        let mut c = params.walk();
        params.named_children(&mut c).filter(|p| p.kind() != "comment").collect()
    };
    let session_like = session_like();
    let existing =
        list.iter().copied().find(|p| python::parameter_name(file, *p).is_some_and(|n| session_like.is_match(&n)));
    if let Some(param) = existing {
        let name = python::parameter_name(file, param).unwrap_or_default();
        let attr = stored_attribute(file, init, &name)
            .ok_or_else(|| format!("`{class_name}.__init__` does not store `{name}` on self"))?;
        if matches!(param.kind(), "default_parameter" | "typed_default_parameter") {
            edits.extend(make_keyword_required(file, params, param, &name)?);
        }
        return Ok((attr, (name, call_position(file, init, param))));
    }
    if file.node_text(init.parent().and_then(|b| b.parent()).unwrap_or(init)).contains("self._session") {
        return Err(format!("`{class_name}` already has a `_session` attribute of its own"));
    }
    edits.push(add_keyword_parameter(file, params, declared));
    let body = init.child_by_field_name("body").ok_or("`__init__` without a body")?;
    let stmts = primitives::statements(body);
    let first =
        stmts.iter().copied().find(|s| !is_docstring(*s)).or(stmts.first().copied()).ok_or("empty `__init__`")?;
    let indent = primitives::indentation(file, first).ok_or("`__init__` body shares its line")?;
    let anchor = if is_docstring(first) {
        file.line_range(first.byte_range()).end
    } else {
        file.line_range(first.byte_range()).start
    };
    edits.push(Edit::insert(anchor, format!("{indent}self._session = session{}", file.newline())));
    Ok(("_session".to_string(), ("session".to_string(), None)))
}

/// `self.X = name` in `__init__`.
fn stored_attribute(file: &SourceFile, init: Node, name: &str) -> Option<String> {
    let re = Regex::new(&format!(r"^self\.(\w+)\s*(?::[^=]+)?=\s*{}\s*$", regex::escape(name))).ok()?;
    let mut found = None;
    for_each_node(init, |n| {
        if found.is_none() && n.kind() == "expression_statement" {
            if let Some(c) = re.captures(file.node_text(n)) {
                found = Some(c[1].to_string());
            }
        }
    });
    found
}

/// The type an injected session is annotated with: the one the driver's module already imports
/// under the configured name (`from sqlmodel import Session`), else the configured one.
pub fn session_type(driver: &SourceFile, is_async: bool, registry: &RegistryConfig) -> Option<(String, String)> {
    let path = if is_async { &registry.async_session_type } else { &registry.sync_session_type };
    let (module, type_name) = path.rsplit_once('.')?;
    let bindings = driver.module_bindings();
    let own = bindings.iter().rev().find(|b| b.name == type_name).and_then(|b| match &b.kind {
        python::scope::BindingKind::Import { module: m, imported: Some(i), level: 0 } if i == type_name => {
            Some(m.clone())
        }
        _ => None,
    });
    Some((own.unwrap_or_else(|| module.to_string()), type_name.to_string()))
}

/// `session: AsyncSession` (and the import of the type where the module lacks it), or the bare
/// name where the module binds the type's name to something else.
pub fn session_parameter(
    file: &SourceFile,
    name: &str,
    session_type: Option<&(String, String)>,
) -> (String, Option<Edit>) {
    let Some((module, type_name)) = session_type else { return (name.to_string(), None) };
    let bindings = file.module_bindings();
    match bindings.iter().rev().find(|b| &b.name == type_name).map(|b| &b.kind) {
        Some(python::scope::BindingKind::Import { module: m, imported: Some(i), level: 0 })
            if m == module && i == type_name =>
        {
            (format!("{name}: {type_name}"), None)
        }
        Some(_) => (name.to_string(), None),
        None => (format!("{name}: {type_name}"), primitives::add_import(file, module, Some(type_name), None)),
    }
}

/// Whether a session parameter is async, as far as its annotation or its use says.
pub fn parameter_is_async(file: &SourceFile, function: Node, param: Node, name: &str) -> Option<bool> {
    let annotation = param.child_by_field_name("type").map(|t| file.node_text(t)).unwrap_or_default();
    if annotation.contains("AsyncSession") {
        return Some(true);
    }
    if annotation.contains("Session") {
        return Some(false);
    }
    let body = function.child_by_field_name("body").map(|b| file.node_text(b)).unwrap_or_default();
    if body.contains(&format!("await {name}.")) {
        return Some(true);
    }
    None
}

/// Adds a required keyword-only parameter at the end of a parameter list (before `**kwargs`).
pub fn add_keyword_parameter(file: &SourceFile, params: Node, name: &str) -> Edit {
    let list: Vec<Node> = {
        let mut c = params.walk();
        params.named_children(&mut c).filter(|p| p.kind() != "comment").collect()
    };
    let has_star = list.iter().any(|p| matches!(p.kind(), "list_splat_pattern" | "keyword_separator"));
    let double = list.iter().copied().find(|p| p.kind() == "dictionary_splat_pattern");
    let parts: &[&str] = if has_star { &[name] } else { &["*", name] };
    match (double, list.last()) {
        (Some(kw), _) => Edit::insert(kw.start_byte(), format!("{}, ", parts.join(", "))),
        (None, Some(last)) => append_after(file, params, *last, parts),
        (None, None) => Edit::insert(params.start_byte() + 1, parts.join(", ")),
    }
}

/// Appends `parts` after the last item of a parenthesised list: on lines of their own when the
/// list has one item per line and a trailing comma, else after `, `.
pub fn append_after(file: &SourceFile, list: Node, last: Node, parts: &[&str]) -> Edit {
    let after = &file.text[last.end_byte()..list.end_byte() - 1];
    if let (Some(comma), Some(indent), true) =
        (after.find(','), primitives::indentation(file, last), after.contains('\n'))
    {
        let nl = file.newline();
        let lines: String = parts.iter().map(|p| format!("{nl}{indent}{p},")).collect();
        return Edit::insert(last.end_byte() + comma + 1, lines);
    }
    Edit::insert(last.end_byte(), format!(", {}", parts.join(", ")))
}

/// `session: Optional[S] = None` → a required `session: S`: in place when nothing before it has a
/// default, else keyword-only (a required parameter cannot follow ones with defaults).
pub fn make_keyword_required(
    file: &SourceFile,
    params: Node,
    param: Node,
    name: &str,
) -> Result<Vec<Edit>, ManualReason> {
    let list: Vec<Node> = {
        let mut c = params.walk();
        params.named_children(&mut c).filter(|p| p.kind() != "comment").collect()
    };
    let index = list.iter().position(|p| p.id() == param.id()).ok_or("parameter not in its list")?;
    let annotation = param.child_by_field_name("type").map(|t| required_type(file.node_text(t)));
    let declared = match annotation {
        Some(t) if !t.is_empty() => format!("{name}: {t}"),
        _ => name.to_string(),
    };
    let after_star = list[..index].iter().any(|p| matches!(p.kind(), "list_splat_pattern" | "keyword_separator"));
    // Where nothing before it has a default it stays where it is (positional callers keep working).
    if after_star || !defaults_before(params, param) {
        return Ok(vec![Edit::replace(param.byte_range(), declared)]);
    }
    // The last parameter (before `**kwargs`) becomes keyword-only where it stands.
    if list[index + 1..].iter().all(|p| p.kind() == "dictionary_splat_pattern") {
        return Ok(vec![Edit::replace(param.byte_range(), format!("*, {declared}"))]);
    }
    // Otherwise it leaves its place, with the comma after it, for the end of the list.
    let mut edits = vec![Edit::delete(param.start_byte()..list[index + 1].start_byte())];
    let last = list.last().copied().unwrap_or(param);
    edits.push(match list.iter().copied().find(|p| p.kind() == "dictionary_splat_pattern") {
        Some(kw) => Edit::insert(kw.start_byte(), format!("*, {declared}, ")),
        None => append_after(file, params, last, &["*", &declared]),
    });
    Ok(edits)
}

/// The position a call passes a parameter at (`self` not counted), when it can be positional.
pub fn positional_index(file: &SourceFile, function: Node, param: Node) -> Option<usize> {
    let params = function.child_by_field_name("parameters")?;
    let mut cursor = params.walk();
    let list: Vec<Node> = params.named_children(&mut cursor).filter(|p| p.kind() != "comment").collect();
    let mut index = 0;
    for p in list {
        if matches!(p.kind(), "list_splat_pattern" | "keyword_separator" | "dictionary_splat_pattern") {
            return None;
        }
        if p.id() == param.id() {
            return Some(index);
        }
        if !matches!(python::parameter_name(file, p).as_deref(), Some("self" | "cls")) {
            index += 1;
        }
    }
    None
}

/// The position callers may pass `param` at once it is required: none when a parameter before
/// it has a default (it then moves behind `*`).
pub fn call_position(file: &SourceFile, function: Node, param: Node) -> Option<usize> {
    let params = function.child_by_field_name("parameters")?;
    positional_index(file, function, param).filter(|_| !defaults_before(params, param))
}

/// `(name, has a None default, node)` of each parameter.
pub fn parameters<'t>(file: &SourceFile, function: Node<'t>) -> Vec<(String, bool, Node<'t>)> {
    let Some(params) = function.child_by_field_name("parameters") else { return Vec::new() };
    let mut cursor = params.walk();
    let list: Vec<Node> = params.named_children(&mut cursor).collect();
    list.into_iter()
        .filter_map(|p| {
            let name = python::parameter_name(file, p)?;
            let optional = p.child_by_field_name("value").is_some_and(|v| file.node_text(v) == "None");
            Some((name, optional, p))
        })
        .collect()
}

/// Whether a parameter before `param` (in the `parameters` node) has a default: then a required
/// `param` must move.
pub fn defaults_before(params: Node, param: Node) -> bool {
    let mut cursor = params.walk();
    let list: Vec<Node> = params.named_children(&mut cursor).collect();
    list.iter()
        .take_while(|p| p.id() != param.id())
        .any(|p| matches!(p.kind(), "default_parameter" | "typed_default_parameter"))
}

/// `Optional[X]`, `X | None`, `None | X` → `X`: the type once the session is required.
pub fn required_type(annotation: &str) -> String {
    let t = annotation.trim();
    if let Some(inner) = t.strip_prefix("Optional[").and_then(|r| r.strip_suffix(']')) {
        return inner.trim().to_string();
    }
    let parts: Vec<&str> = t.split('|').map(str::trim).filter(|p| *p != "None").collect();
    parts.join(" | ")
}

fn rewrite_function(
    f: &Factories,
    file: &SourceFile,
    function: Node,
    registry: &RegistryConfig,
) -> Result<DriverRewrite, ManualReason> {
    let name = name_of(file, function).to_string();
    let mut collected =
        Collected { edits: Vec::new(), imports: Vec::new(), acquisitions: Vec::new(), opener: None, is_async: false };
    unwrap_function(f, file, function, &[], None, &mut collected)?;
    if collected.acquisitions.is_empty() {
        return Err(format!(
            "`{name}` builds an engine or connection rather than opening a session the fix can replace; pass the session (or engine) in from the L4 caller by hand"
        ));
    }
    let names: BTreeSet<&str> = collected.acquisitions.iter().map(|a| a.name.as_str()).collect();
    let [parameter] = names.into_iter().collect::<Vec<_>>()[..] else {
        return Err(format!("`{name}` opens sessions under several names; inject them by hand"));
    };
    let parameter = parameter.to_string();
    for call in factory_calls(f, file, function) {
        let handled =
            collected.acquisitions.iter().any(|a| {
                a.opened.is_some_and(|o| o.start_byte() <= call.start_byte() && call.end_byte() <= o.end_byte())
            }) || engine_local(f, file, call);
        if !handled {
            return Err(format!(
                "`{}` at line {} is not a session opened for one call; pass it in from the L4 caller by hand",
                file.node_text(call),
                line(file, call)
            ));
        }
    }
    let typed = session_type(file, collected.is_async, registry);
    let params = function.child_by_field_name("parameters").ok_or("a function without parameters")?;
    let existing: Option<Node> = {
        let mut c = params.walk();
        let found = params
            .named_children(&mut c)
            .find(|p| python::parameter_name(file, *p).as_deref() == Some(parameter.as_str()));
        found
    };
    match existing {
        Some(p) if matches!(p.kind(), "default_parameter" | "typed_default_parameter") => {
            collected.edits.extend(make_keyword_required(file, params, p, &parameter)?)
        }
        Some(_) => {}
        None => {
            let (declared, import) = session_parameter(file, &parameter, typed.as_ref());
            collected.edits.push(add_keyword_parameter(file, params, &declared));
            collected.imports.extend(import);
        }
    }
    let opener = collected.opener.clone().ok_or("no session is opened in the function")?;
    let position = existing.and_then(|p| call_position(file, function, p));
    let call_param = (parameter.clone(), position);
    let injected = Injected { receivers: vec![parameter], opener, call_param, session_type: typed };
    finish(file, (function, Unit::Function(name)), collected, injected)
}

/// How the rewritten unit reads and receives its session.
struct Injected {
    /// What the session is read as in the unit (`self._session`, the parameter).
    receivers: Vec<String>,
    opener: Opener,
    call_param: (String, Option<usize>),
    session_type: Option<(String, String)>,
}

/// Rounds 2 and 3: closes, flags, commits and rollbacks on the session go; the unit is replaced.
fn finish(
    file: &SourceFile,
    (unit_node, unit): (Node, Unit),
    collected: Collected,
    injected: Injected,
) -> Result<DriverRewrite, ManualReason> {
    let Injected { receivers, opener, call_param, session_type } = injected;
    let opened: Vec<&Acquisition> = collected.acquisitions.iter().filter(|a| a.kind != Kind::Helper).collect();
    if opened.iter().any(|a| a.is_async) && opened.iter().any(|a| !a.is_async) {
        return Err(format!(
            "`{}` opens both sync and async sessions; one injected session cannot serve both, split it by hand",
            unit.name()
        ));
    }
    let flags: Vec<String> = collected.acquisitions.iter().filter_map(|a| a.flag.clone()).collect();
    let mut names: Vec<String> = receivers;
    names.extend(collected.acquisitions.iter().map(|a| a.name.clone()));
    let is_async = collected.is_async;
    let round1 = reparse(file, edit::apply(&file.text, &collected.edits).map_err(|e| e.to_string())?)?;
    fn found<'t>(text: &'t SourceFile, like: Node, name: &str) -> Option<Node<'t>> {
        python::top_level_definition(text, like.kind(), name).filter(|n| n.start_byte() == like.start_byte())
    }
    let node1 = found(&round1, unit_node, unit.name()).ok_or("the driver could not be found after unwrapping")?;
    // Commits first, then closes: removing a `finally` may unwrap the `try` around a commit.
    let (deletions, committed, rolled_back) = session_statements(&round1, node1, &names, &flags, Phase::Transaction)?;
    let round2 = reparse(file, edit::apply(&round1.text, &deletions).map_err(|e| e.to_string())?)?;
    let node2 = found(&round2, unit_node, unit.name()).ok_or("the driver could not be found after unwrapping")?;
    let (closes, _, _) = session_statements(&round2, node2, &names, &flags, Phase::Close)?;
    let round2 = reparse(file, edit::apply(&round2.text, &closes).map_err(|e| e.to_string())?)?;
    let delta = round2.text.len() as isize - file.text.len() as isize;
    let new_end = (unit_node.end_byte() as isize + delta) as usize;
    let start = match unit_node.parent() {
        Some(d) if d.kind() == "decorated_definition" => d.start_byte(),
        _ => unit_node.start_byte(),
    };
    let unit_text = round2.text[start..new_end].to_string();
    if round2.text[new_end..] != file.text[unit_node.end_byte()..] || round2.text[..start] != file.text[..start] {
        return Err("the rewrite reached outside the driver".into());
    }
    let unit_edit = Edit::replace(start..unit_node.end_byte(), unit_text);
    let imports = collected.imports;
    Ok(DriverRewrite { unit, unit_edit, imports, is_async, committed, rolled_back, opener, session_type, call_param })
}

/// The driver file's edits for rewritten units: each unit's new text, the imports they made
/// unused removed, the imports they need added (an added import takes the line of one that goes,
/// which would otherwise collide with it after the last import).
pub fn file_edits(file: &SourceFile, rewrites: &[DriverRewrite]) -> Result<Vec<Edit>, ManualReason> {
    let mut edits: Vec<Edit> = rewrites.iter().map(|r| r.unit_edit.clone()).collect();
    let after = reparse(file, edit::apply(&file.text, &edits).map_err(|e| e.to_string())?)?;
    let first_unit = edits.iter().map(|e| e.range.start).min().unwrap_or(0);
    edits.extend(primitives::imports_made_unused(file, &after).into_iter().filter(|u| u.range.end <= first_unit));
    for mut import in rewrites.iter().flat_map(|r| r.imports.iter().cloned()) {
        if edits.contains(&import) {
            continue;
        }
        let at = import.range.start;
        if let Some(gone) = edits.iter_mut().find(|e| e.range.start < at && at < e.range.end && e.content.is_empty()) {
            gone.range.end = file.line_range(gone.range.start..gone.range.start).end;
            import.range = gone.range.start..gone.range.start;
        }
        edits.push(import);
    }
    Ok(edits)
}

/// The first session-opening call in a top-level function of the driver's file (to rewrite it
/// together with another driver function).
pub fn opening_call<'t>(f: &Factories, file: &'t SourceFile, name: &str) -> Option<Node<'t>> {
    let def = python::top_level_definition(file, "function_definition", name)?;
    factory_calls(f, file, def).into_iter().next()
}

fn reparse(file: &SourceFile, text: String) -> Result<SourceFile, ManualReason> {
    SourceFile::parse(file.rel_path.clone(), file.abs_path.clone(), text.into_bytes())
        .map_err(|e| format!("injecting the session would leave the driver unparsable ({e})"))
        .and_then(|f| match python::first_error(f.tree.root_node()) {
            Some(_) => Err("injecting the session would leave the driver unparsable".to_string()),
            None => Ok(f),
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Transaction,
    Close,
}

/// Statements on the session the owner now handles: `commit()` and `rollback()`, or `close()`
/// and the flags that said whether to close. Returns the edits, the functions that committed and
/// whether any rolled back.
fn session_statements(
    file: &SourceFile,
    unit: Node,
    names: &[String],
    flags: &[String],
    phase: Phase,
) -> Result<(Vec<Edit>, Vec<String>, bool), ManualReason> {
    let call_re = Regex::new(r"^(?:await\s+)?([\w.]+)\.(close|commit|rollback)\(\)$").expect("constant regex");
    let flag_re = Regex::new(r"^(\w+)\s*=\s*(\w+)\s+is\s+None$").expect("constant regex");
    let mut doomed: Vec<Node> = Vec::new();
    let mut flushes: Vec<Edit> = Vec::new();
    let mut committed: Vec<String> = Vec::new();
    let mut rolled_back = false;
    let mut own_flags: Vec<String> = flags.to_vec();
    let mut stmts = Vec::new();
    for_each_node(unit, |n| {
        if python::is_statement(n) {
            stmts.push(n);
        }
    });
    for stmt in &stmts {
        if let Some(c) = flag_re.captures(file.node_text(*stmt).trim()) {
            if names.iter().any(|n| n == &c[2]) {
                own_flags.push(c[1].to_string());
                if phase == Phase::Close {
                    doomed.push(*stmt);
                }
            }
        }
    }
    for stmt in &stmts {
        let text = file.node_text(*stmt).trim().to_string();
        // `if should_close: session.close()` / `if own: ...` / `if session is not None: ...close()`.
        if stmt.kind() == "if_statement" && is_single_statement_if(*stmt) {
            let cond =
                stmt.child_by_field_name("condition").map(|c| file.node_text(c).trim().to_string()).unwrap_or_default();
            let inner = stmt.child_by_field_name("consequence").map(primitives::statements).unwrap_or_default();
            let inner_text = inner.first().map(|s| file.node_text(*s).trim().to_string()).unwrap_or_default();
            let guards_flag = own_flags.contains(&cond) || names.iter().any(|n| cond.starts_with(n.as_str()));
            if guards_flag && call_re.captures(&inner_text).is_some_and(|c| &c[2] == "close") {
                if phase == Phase::Close {
                    doomed.push(*stmt);
                }
                continue;
            }
        }
        let Some(c) = call_re.captures(&text) else { continue };
        if !names.iter().any(|n| n == &c[1])
            || doomed.iter().any(|d| d.start_byte() <= stmt.start_byte() && stmt.end_byte() <= d.end_byte())
        {
            continue;
        }
        let function = python::enclosing_names(file, *stmt).0;
        if (phase == Phase::Close) != (&c[2] == "close") {
            continue;
        }
        match &c[2] {
            "close" => doomed.push(*stmt),
            "commit" => {
                if !committed.contains(&function) {
                    committed.push(function);
                }
                if reads_generated_values(file, *stmt) {
                    let at = file.node_text(*stmt).find("commit").unwrap_or(0) + stmt.start_byte();
                    flushes.push(Edit::replace(at..at + "commit".len(), "flush"));
                } else {
                    doomed.push(*stmt);
                }
            }
            _ => {
                let handler = std::iter::successors(stmt.parent(), |p| p.parent())
                    .take_while(|p| p.kind() != "function_definition")
                    .find(|p| matches!(p.kind(), "except_clause" | "except_group_clause"));
                let reraises = handler.is_some_and(|h| {
                    let mut raises = false;
                    for_each_node(h, |n| raises |= n.kind() == "raise_statement");
                    raises
                });
                if handler.is_some() && !reraises {
                    return Err(format!(
                        "`{function}` rolls back and swallows the error (line {}); its owner would commit a half-done write",
                        line(file, *stmt)
                    ));
                }
                rolled_back = true;
                doomed.push(*stmt);
            }
        }
    }
    // Deleted per block, so that an emptied block is handled once.
    let mut edits = flushes;
    let mut by_block: Vec<(usize, Vec<Node>)> = Vec::new();
    for stmt in doomed {
        let parent = stmt.parent().map_or(0, |p| p.id());
        match by_block.iter_mut().find(|(id, _)| *id == parent) {
            Some((_, group)) => group.push(stmt),
            None => by_block.push((parent, vec![stmt])),
        }
    }
    for (_, group) in by_block {
        edits.extend(primitives::delete_statements(file, &group));
    }
    Ok((edits, committed, rolled_back))
}

/// After a commit, code of the same function reads what the database generated.
fn reads_generated_values(file: &SourceFile, commit: Node) -> bool {
    let Some(function) = python::enclosing_function(commit) else { return false };
    let after = &file.text[commit.end_byte()..function.end_byte()];
    Regex::new(r"\.refresh\(|\b\w+\.id\b").expect("constant regex").is_match(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_parameter(text: &str) -> String {
        let file = SourceFile::parse("a.py".into(), "a.py".into(), text.as_bytes().to_vec()).unwrap();
        let function = python::top_level_definition(&file, "function_definition", "f").unwrap();
        let edit = add_keyword_parameter(&file, function.child_by_field_name("parameters").unwrap(), "session: S");
        edit::apply(text, &[edit]).unwrap()
    }

    #[test]
    fn an_optional_session_becomes_required_where_callers_can_still_pass_it() {
        let required = |text: &str| {
            let file = SourceFile::parse("a.py".into(), "a.py".into(), text.as_bytes().to_vec()).unwrap();
            let function = python::top_level_definition(&file, "function_definition", "f").unwrap();
            let params = function.child_by_field_name("parameters").unwrap();
            let param = driver_param(&file, params);
            edit::apply(text, &make_keyword_required(&file, params, param, "session").unwrap()).unwrap()
        };
        assert_eq!(required("def f(session=None, a=1): ..."), "def f(session, a=1): ...");
        assert_eq!(required("def f(a=1, session: Optional[S] = None): ..."), "def f(a=1, *, session: S): ...");
        assert_eq!(
            required("def f(\n    a=1,\n    session=None,\n):\n    ..."),
            "def f(\n    a=1,\n    *, session,\n):\n    ..."
        );
        assert_eq!(required("def f(a=1, session=None, b=2): ..."), "def f(a=1, b=2, *, session): ...");
    }

    fn driver_param<'t>(file: &SourceFile, params: Node<'t>) -> Node<'t> {
        let mut cursor = params.walk();
        let found =
            params.named_children(&mut cursor).find(|p| python::parameter_name(file, *p).as_deref() == Some("session"));
        found.unwrap()
    }

    #[test]
    fn the_session_parameter_follows_the_signatures_layout() {
        assert_eq!(with_parameter("def f():\n    pass\n"), "def f(*, session: S):\n    pass\n");
        assert_eq!(with_parameter("def f(a, *, b):\n    pass\n"), "def f(a, *, b, session: S):\n    pass\n");
        assert_eq!(with_parameter("def f(a, **kw):\n    pass\n"), "def f(a, *, session: S, **kw):\n    pass\n");
        assert_eq!(
            with_parameter("def f(\n    a,\n    b=1,\n):\n    pass\n"),
            "def f(\n    a,\n    b=1,\n    *,\n    session: S,\n):\n    pass\n"
        );
    }

    #[test]
    fn optional_types_become_required() {
        assert_eq!(required_type("Optional[Session]"), "Session");
        assert_eq!(required_type("Session | None"), "Session");
        assert_eq!(required_type("None | AsyncSession"), "AsyncSession");
        assert_eq!(required_type("Session"), "Session");
    }
}
