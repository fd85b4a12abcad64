//! The callers' side of session injection: every call of the driver gets a session, threaded up
//! through the layers below the one that owns transactions until a function that has one (a
//! session parameter, the handler's context) or that opens the one the driver used to open; the
//! driver's commits move there.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use regex::Regex;
use tree_sitter::Node;

use super::super::{ManualReason, TransformCall};
use super::driver::{self, DriverRewrite, Unit};
use super::Factories;
use crate::config::Config;
use crate::edit::{self, Edit, FileEdits};
use crate::fix::primitives;
use crate::guard::{Guard, ProjectFiles};
use crate::matching::{CallSite, CallerLookup};
use crate::python::calls::{enclosing_class, reaches, Reach, Target};
use crate::python::{self, for_each_node, SourceFile};
use crate::transform::fresh;

/// How far a session is threaded up before the fix gives up (a chain that long is not a driver's).
const MAX_DEPTH: usize = 6;

/// Something whose calls must now supply a session.
#[derive(Debug, Clone)]
struct Need {
    file: String,
    module: Option<String>,
    class: Option<String>,
    name: String,
    /// The parameter its calls pass the session as, and its position when it can be positional.
    param: (String, Option<usize>),
    /// What it hands on is a class driver, used after its construction (not a single call).
    class_driver: bool,
    depth: usize,
}

/// Where an owner's session comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Opening {
    /// It has one already.
    Given,
    /// It opens one (the opener's header) around the statements that use the driver.
    Open(String),
    /// Its optional session parameter may be `None`: then it opens one, as the driver did.
    WhenNone(String),
}

/// A run of statements an owner rewrites: it commits after them and, where it opens the
/// session, runs them inside the opener.
#[derive(Debug)]
struct Region {
    lines: Range<usize>,
    session: String,
    open: Opening,
    /// The enclosing function's text, to pick a fresh name that does not clash.
    function: Range<usize>,
}

struct FileWork {
    file: Arc<SourceFile>,
    edits: Vec<Edit>,
    regions: Vec<Region>,
    imports: Vec<(String, String)>,
}

/// What threading produced: edits per file and, per moved commit, who commits now.
pub struct Threaded {
    pub files: Vec<FileEdits>,
    pub owners: Vec<String>,
    /// Other things a reviewer should know (a cached driver now built per call).
    pub notes: Vec<String>,
}

pub struct Threading<'a> {
    lookup: &'a dyn CallerLookup,
    files_on_disk: &'a dyn ProjectFiles,
    factories: &'a Factories,
    config: &'a Config,
    /// The drivers rewritten together (one, or the functions of one module that share callers).
    group: &'a [DriverRewrite],
    /// The first of them: the session they open (all alike), its opener and type.
    driver: &'a DriverRewrite,
    driver_file: &'a SourceFile,
    driver_module: Option<String>,
    files: BTreeMap<String, FileWork>,
    threaded: HashSet<(String, usize)>,
    owners: Vec<String>,
    notes: Vec<String>,
    /// A function of the driver's own module that also opens a session and shares a caller.
    companion: Option<String>,
}

/// Why threading stopped.
pub enum Refused {
    /// Manual, with the reason.
    Manual(ManualReason),
    /// A function of the same driver module opens its own session where this one is used:
    /// both must be rewritten together.
    Companion(String),
}

fn name_of<'a>(file: &'a SourceFile, node: Node) -> &'a str {
    node.child_by_field_name("name").map_or("", |n| file.node_text(n))
}

fn location(file: &SourceFile, node: Node) -> String {
    format!("{}:{}", file.rel_path, file.line_col(node.start_byte()).0)
}

impl<'a> Threading<'a> {
    /// Threading for the drivers of `call`'s file, rewritten as `group` (not empty).
    pub fn new(
        call: &'a TransformCall,
        factories: &'a Factories,
        group: &'a [DriverRewrite],
    ) -> Result<Self, ManualReason> {
        let ctx = &call.analysed.ctx;
        let driver = group.first().ok_or("no driver to inject a session into")?;
        if group.iter().any(|d| d.is_async != driver.is_async) {
            return Err(
                "the functions of the driver open both sync and async sessions; one session cannot serve both".into()
            );
        }
        Ok(Threading {
            lookup: ctx.callers.ok_or("callers are only known during a project run")?,
            files_on_disk: call.sources,
            factories,
            config: &call.project.config,
            group,
            driver,
            driver_file: ctx.file,
            driver_module: ctx.module.clone(),
            files: BTreeMap::new(),
            threaded: HashSet::new(),
            owners: Vec::new(),
            notes: Vec::new(),
            companion: None,
        })
    }

    fn commits(&self) -> bool {
        self.group.iter().any(|d| !d.committed.is_empty())
    }

    /// The functions that committed, for messages.
    fn committed(&self) -> String {
        let all: Vec<&str> = self.group.iter().flat_map(|d| d.committed.iter().map(String::as_str)).collect();
        all.join("`, `")
    }

    /// The rank of a file's layer (`l4` → 4) and the rank of the layer that owns transactions
    /// (the handlers' layer).
    fn ranks(&self, rel_path: &str) -> (Option<u32>, u32) {
        let guard = Guard::new(self.config);
        let rank = |rel: &str| guard.rank(rel).map(|(r, _)| r);
        let owner = rank(&format!("{}/x.py", self.config.file.registry.handlers_dir)).unwrap_or(4);
        (rank(rel_path), owner)
    }

    pub fn run(mut self) -> Result<Threaded, Refused> {
        match self.thread() {
            Ok(()) => self.finish().map_err(Refused::Manual),
            Err(reason) => Err(match self.companion.take() {
                Some(name) => Refused::Companion(name),
                None => Refused::Manual(reason),
            }),
        }
    }

    fn thread(&mut self) -> Result<(), ManualReason> {
        let mut queue: Vec<Need> = self
            .group
            .iter()
            .map(|d| Need {
                file: self.driver_file.rel_path.clone(),
                module: self.driver_module.clone(),
                class: None,
                name: d.unit.name().to_string(),
                param: d.call_param.clone(),
                class_driver: matches!(d.unit, Unit::Class(_)),
                depth: 0,
            })
            .collect();
        let mut sites_seen = 0;
        while let Some(need) = queue.pop() {
            if need.depth > MAX_DEPTH {
                return Err(format!(
                    "the session would be threaded through more than {MAX_DEPTH} callers of `{}`",
                    need.name
                ));
            }
            let sites = self.resolve(&need)?;
            if sites.is_empty() && self.commits() {
                // No committer in the project can be shown to follow its writes.
                return Err(format!(
                    "`{}` has no caller in the project, so nothing here would commit what `{}` wrote; inject the session by hand where its real callers are",
                    need.name,
                    self.committed()
                ));
            }
            sites_seen += sites.len();
            for site in sites {
                queue.extend(self.supply(&site, &need)?);
            }
        }
        if sites_seen == 0 && !self.commits() && self.driver_module.is_none() {
            return Err("the driver is not under an import root, its callers cannot be found".into());
        }
        Ok(())
    }

    /// The calls of `need` in the project, resolved through their modules' bindings.
    fn resolve(&self, need: &Need) -> Result<Vec<CallSite>, ManualReason> {
        let target =
            Target { file: &need.file, module: need.module.as_deref(), class: need.class.as_deref(), name: &need.name };
        let aliases = self.lookup.aliased_imports(&need.name);
        if let Some(site) = aliases.iter().find(|s| s.may_import_from(need.module.as_deref())) {
            return Err(format!("`{}` is imported under another name at {}", need.name, site.file.rel_path));
        }
        let mut out = Vec::new();
        for site in self.lookup.call_sites(&need.name) {
            let Some(call) = call_node(&site) else {
                return Err(format!("a call of `{}` in {} could not be read", need.name, site.file.rel_path));
            };
            match reaches(&site.file, site.module.as_deref(), call, &target) {
                Reach::No => continue,
                Reach::Unknown => {
                    return Err(format!(
                        "the call of `{}` at {} cannot be resolved; pass the session there by hand",
                        need.name,
                        location(&site.file, call)
                    ))
                }
                Reach::Yes => out.push(site),
            }
        }
        Ok(out)
    }

    /// Gives one call a session; returns what must be threaded further.
    fn supply(&mut self, site: &CallSite, need: &Need) -> Result<Vec<Need>, ManualReason> {
        let file = site.file.clone();
        let call = call_node(site).ok_or("a call site could not be read")?;
        let here = location(&file, call);
        let in_unit = |d: &DriverRewrite| {
            d.unit_edit.range.start <= call.start_byte() && call.end_byte() <= d.unit_edit.range.end
        };
        if file.rel_path == self.driver_file.rel_path && self.group.iter().any(in_unit) {
            return Err(format!("`{}` calls itself at {here}", need.name));
        }
        let function = python::enclosing_function(call)
            .ok_or_else(|| format!("`{}` is called at module level ({here})", need.name))?;
        let stmt = python::enclosing_statement(call).ok_or("a call outside any statement")?;
        let function_name = python::enclosing_names(&file, call).0;
        let (rank, owner_rank) = self.ranks(&file.rel_path);
        if let Some(global) = singleton(&file, function, stmt) {
            // A cached driver would keep the first caller's session: below the owner, a factory
            // of the plain `if _x is None: _x = X()` shape builds one per call instead.
            let plain = rank.is_some_and(|r| r > owner_rank) && !mentions(&file, function, "session");
            let edits = plain.then(|| plain_factory(&file, function, stmt, call, &global)).flatten();
            let Some(edits) = edits else {
                return Err(format!(
                    "`{function_name}` caches the driver in the global `{global}` ({here}): the cached object would keep the first caller's session; make it a plain factory first"
                ));
            };
            for e in edits {
                self.edit(&file, e);
            }
            self.notes.push(format!("`{function_name}` builds a new driver per call (it cached one in `{global}`)"));
            return self.take_session(&file, function, need);
        }
        if self.commits() {
            if let Some((other, own_file)) = self.other_session_owner(&file, function) {
                if own_file {
                    self.companion = Some(other.clone());
                }
                return Err(format!(
                    "`{function_name}` also calls `{other}`, which opens a session of its own: holding the driver's transaction open across it could block on its writes or reorder them; migrate both together"
                ));
            }
        }
        let session_like = driver::session_like();
        let passes = passed_session(&file, call, &need.param);
        let params = driver::parameters(&file, function);
        let first_time = self.threaded.insert((file.rel_path.clone(), function.start_byte()));

        // The caller already passes a session it has, or has one in scope.
        let param = match &passes {
            Some(expr) => params.iter().find(|(n, _, _)| n == expr).cloned(),
            None => params.iter().find(|(n, _, _)| session_like.is_match(n)).cloned(),
        };
        if let Some(expr) = &passes {
            if param.is_none() {
                // `ctx.session`, a local: the function that has it owns it.
                return self.own(&file, function, call, expr, Opening::Given, need.class_driver).map(|_| Vec::new());
            }
        }
        if let Some((name, optional, node)) = param {
            if driver::parameter_is_async(&file, function, node, &name).is_some_and(|a| a != self.driver.is_async) {
                return Err(format!(
                    "`{function_name}` at {here} has a {} session and the driver needs a{} one",
                    if self.driver.is_async { "sync" } else { "async" },
                    if self.driver.is_async { "n async" } else { " sync" }
                ));
            }
            if passes.is_none() {
                self.edit(&file, add_argument(&file, call, "session", &name)?);
            }
            if optional && rank.is_none_or(|r| r <= owner_rank) {
                // In the owner layer `session=None` keeps meaning "open one": the owner does.
                let header = self.driver.opener.header.replace("{}", &name);
                self.import_opener(&file)?;
                let opening = Opening::WhenNone(header);
                return self.own(&file, function, call, &name, opening, need.class_driver).map(|_| Vec::new());
            }
            if optional {
                // `session=None` means "open one": callers must now always pass it.
                if !first_time {
                    return Ok(Vec::new());
                }
                let params_node = function.child_by_field_name("parameters").ok_or("no parameters")?;
                let edits = driver::make_keyword_required(&file, params_node, node, &name)?;
                for e in edits {
                    self.edit(&file, e);
                }
                let position = driver::call_position(&file, function, node);
                return self.thread_up(&file, function, need, (name, position)).map(|n| vec![n]);
            }
            // The owner layer, or an entry point above it (an endpoint's request session).
            if rank.is_none_or(|r| r <= owner_rank) {
                return self.own(&file, function, call, &name, Opening::Given, need.class_driver).map(|_| Vec::new());
            }
            if self.commits() && first_time {
                // Below the owner: whoever passes the session in must commit it.
                let position = driver::positional_index(&file, function, node);
                return self.thread_up(&file, function, need, (name, position)).map(|n| vec![n]);
            }
            return Ok(Vec::new());
        }
        if let Some(local) = local_session(&file, function, call.start_byte()) {
            self.edit(&file, add_argument(&file, call, "session", &local)?);
            return self.own(&file, function, call, &local, Opening::Given, need.class_driver).map(|_| Vec::new());
        }
        let context = &self.config.file.registry;
        let ctx = params.iter().find(|(n, _, node)| {
            n == "ctx"
                || node
                    .child_by_field_name("type")
                    .is_some_and(|t| file.node_text(t).trim_matches('"') == context.context)
        });
        if let (Some((ctx, _, _)), true) = (ctx, rank == Some(owner_rank)) {
            if self.driver.is_async == context.context_session_async {
                let expr = format!("{ctx}.{}", context.context_session);
                self.edit(&file, add_argument(&file, call, "session", &expr)?);
                return self.own(&file, function, call, &expr, Opening::Given, need.class_driver).map(|_| Vec::new());
            }
        }
        if rank.is_some_and(|r| r > owner_rank) {
            if mentions(&file, function, "session") {
                return Err(format!("`{function_name}` at {here} already uses the name `session` for something else"));
            }
            self.edit(&file, add_argument(&file, call, "session", "session")?);
            if !first_time {
                return Ok(Vec::new());
            }
            return self.take_session(&file, function, need);
        }
        // The owner (or an entry point) with no session: it opens the one the driver opened.
        if mentions(&file, function, "session") {
            return Err(format!("`{function_name}` at {here} already uses the name `session` for something else"));
        }
        self.edit(&file, add_argument(&file, call, "session", "session")?);
        let last = region_end(stmt, need.class_driver);
        if escapes(&file, stmt, last, call.byte_range()) {
            // It hands the driver out (a capability, a factory): whoever uses it owns the session.
            return if first_time { self.take_session(&file, function, need) } else { Ok(Vec::new()) };
        }
        let header = self.driver.opener.header.replace("{}", "session");
        self.import_opener(&file)?;
        self.own(&file, function, call, "session", Opening::Open(header), need.class_driver).map(|_| Vec::new())
    }

    /// `function` takes a new `session` parameter, which its own callers must pass.
    fn take_session(&mut self, file: &Arc<SourceFile>, function: Node, need: &Need) -> Result<Vec<Need>, ManualReason> {
        let params_node = function.child_by_field_name("parameters").ok_or("no parameters")?;
        let (declared, import) = driver::session_parameter(file, "session", self.driver.session_type.as_ref());
        self.edit(file, driver::add_keyword_parameter(file, params_node, &declared));
        if let Some(import) = import {
            self.edit(file, import);
        }
        self.thread_up(file, function, need, ("session".into(), None)).map(|n| vec![n])
    }

    /// The function's own callers must now pass the session it takes.
    fn thread_up(
        &mut self,
        file: &SourceFile,
        function: Node,
        need: &Need,
        param: (String, Option<usize>),
    ) -> Result<Need, ManualReason> {
        let module = python::module_name(&file.rel_path, &self.config.file.python.import_roots);
        let name = name_of(file, function).to_string();
        let class = function
            .child_by_field_name("body")
            .and_then(enclosing_class)
            .filter(|c| c.parent().is_some_and(|p| p.kind() == "module"));
        if python::enclosing_function(function).is_some() {
            return Err(format!("`{name}` in {} is a nested function; thread the session by hand", file.rel_path));
        }
        // An `__init__` is reached through its class's constructions, a method through its class.
        let (class, name) = match class.map(|c| name_of(file, c).to_string()) {
            Some(class) if name == "__init__" => (None, class),
            class => (class, name),
        };
        let class_driver = need.class_driver;
        Ok(Need { file: file.rel_path.clone(), module, class, name, param, class_driver, depth: need.depth + 1 })
    }

    /// `function` owns the session: it commits after the statements that use the driver.
    fn own(
        &mut self,
        file: &Arc<SourceFile>,
        function: Node,
        call: Node,
        session: &str,
        open: Opening,
        class_driver: bool,
    ) -> Result<(), ManualReason> {
        let stmt = python::enclosing_statement(call).ok_or("a call outside any statement")?;
        let function_name = python::enclosing_names(file, call).0;
        let commits_already = file.text[stmt.end_byte()..function.end_byte()].contains(&format!("{session}.commit()"));
        if (!self.commits() || commits_already) && open == Opening::Given {
            return Ok(());
        }
        if self.driver.is_async && !file.node_text(function).starts_with("async") {
            return Err(format!(
                "`{function_name}` ({}) would have to await the driver's async session but is not async",
                location(file, stmt)
            ));
        }
        let last = region_end(stmt, class_driver);
        let lines = file.line_range(stmt.start_byte()..last.end_byte());
        let work = self.work(file);
        // Two drivers rewritten together, used by the same statements: one owner, one commit.
        if work.regions.iter().any(|r| r.lines == lines && r.session == session && r.open == open) {
            return Ok(());
        }
        if work.regions.iter().any(|r| r.lines.start < lines.end && lines.start < r.lines.end) {
            return Err(format!(
                "`{function_name}` uses the driver twice in one block; move the session there by hand"
            ));
        }
        work.regions.push(Region { lines, session: session.to_string(), open, function: function.byte_range() });
        if self.commits() {
            self.owners.push(format!("`{function_name}` ({}) commits", location(file, stmt)));
        }
        Ok(())
    }

    fn work(&mut self, file: &Arc<SourceFile>) -> &mut FileWork {
        self.files.entry(file.rel_path.clone()).or_insert_with(|| FileWork {
            file: file.clone(),
            edits: Vec::new(),
            regions: Vec::new(),
            imports: Vec::new(),
        })
    }

    fn edit(&mut self, file: &Arc<SourceFile>, edit: Edit) {
        let work = self.work(file);
        if !work.edits.contains(&edit) {
            work.edits.push(edit);
        }
    }

    /// The owner's module imports what the opener reads, from where the driver imports it.
    fn import_opener(&mut self, file: &Arc<SourceFile>) -> Result<(), ManualReason> {
        let bindings = self.driver_file.module_bindings();
        let mut imports = Vec::new();
        for name in &self.driver.opener.reads {
            let binding = bindings.iter().rev().find(|b| &b.name == name);
            let (module, member) = match binding.map(|b| &b.kind) {
                Some(python::scope::BindingKind::Import { module, imported: Some(member), level }) => {
                    let absolute =
                        python::absolute_import(self.driver_file, self.driver_module.as_deref(), module, *level);
                    (absolute.ok_or("the driver is not under an import root")?, member.clone())
                }
                Some(python::scope::BindingKind::Import { .. }) => {
                    return Err(format!(
                        "`{name}`, which opens the session, is a module import; open the session by hand"
                    ))
                }
                Some(_) => (self.driver_module.clone().ok_or("the driver is not under an import root")?, name.clone()),
                None => continue,
            };
            if &module != name {
                imports.push((module, member));
            }
        }
        self.work(file).imports.extend(imports);
        Ok(())
    }

    fn finish(self) -> Result<Threaded, ManualReason> {
        let commit =
            |s: &str| if self.driver.is_async { format!("await {s}.commit()") } else { format!("{s}.commit()") };
        let rollback =
            |s: &str| if self.driver.is_async { format!("await {s}.rollback()") } else { format!("{s}.rollback()") };
        let committing = self.commits();
        let mut files = Vec::new();
        for (path, work) in self.files {
            let file = &work.file;
            let mut edits: Vec<Edit> = Vec::new();
            let mut inner: Vec<&Edit> = work.edits.iter().collect();
            for region in &work.regions {
                let (within, outside): (Vec<&Edit>, Vec<&Edit>) = inner
                    .into_iter()
                    .partition(|e| region.lines.start <= e.range.start && e.range.end <= region.lines.end);
                inner = outside;
                let shifted: Vec<Edit> = within
                    .iter()
                    .map(|e| {
                        Edit::replace(
                            e.range.start - region.lines.start..e.range.end - region.lines.start,
                            e.content.clone(),
                        )
                    })
                    .collect();
                let text = edit::apply(&file.text[region.lines.clone()], &shifted).map_err(|e| e.to_string())?;
                let taken = &file.text[region.function.clone()];
                let word = |c: &str| Regex::new(&format!(r"\b{c}\b")).is_ok_and(|r| r.is_match(taken));
                let fresh = fresh("outcome", &word);
                let rewritten = owner_block(
                    &text,
                    file.newline(),
                    committing.then(|| commit(&region.session)).as_deref(),
                    (committing && self.group.iter().any(|d| d.rolled_back))
                        .then(|| rollback(&region.session))
                        .as_deref(),
                    (&region.session, &region.open),
                    &fresh,
                )?;
                edits.push(Edit::replace(region.lines.clone(), rewritten));
            }
            edits.extend(inner.into_iter().cloned());
            // One import line per module, joining the module's own line when the file has one.
            let mut by_module: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (module, member) in &work.imports {
                let members = by_module.entry(module).or_default();
                if !members.contains(member) && !primitives::has_import(file, module, Some(member), None) {
                    members.push(member.clone());
                }
            }
            for (module, members) in by_module.into_iter().filter(|(_, m)| !m.is_empty()) {
                let merged = primitives::merge_into_from_import(file, module, &members);
                match merged {
                    Some(merged) => edits.extend(merged),
                    None => edits.extend(primitives::add_import(file, module, Some(&members.join(", ")), None)),
                }
            }
            files.push(FileEdits::edit(path, edits));
        }
        Ok(Threaded { files, owners: self.owners, notes: self.notes })
    }

    /// A function called in `function` that lives in a driver layer and opens its own session
    /// (another driver not migrated with this one).
    fn other_session_owner(&self, file: &SourceFile, function: Node) -> Option<(String, bool)> {
        let guard = Guard::new(self.config);
        let (_, owner_rank) = self.ranks(&file.rel_path);
        let module = python::module_name(&file.rel_path, &self.config.file.python.import_roots);
        let mut bindings = file.module_bindings().to_vec();
        for_each_node(function, |n| {
            if matches!(n.kind(), "import_from_statement" | "import_statement") {
                bindings.extend(python::scope::module_bindings_of_statement(file.bytes(), n));
            }
        });
        let mut found = None;
        for_each_node(function, |n| {
            if found.is_some() || n.kind() != "call" {
                return;
            }
            let Some(callee) = n.child_by_field_name("function") else { return };
            let (head, member) = match callee.kind() {
                "identifier" => (file.node_text(callee), None),
                "attribute" => match (callee.child_by_field_name("object"), callee.child_by_field_name("attribute")) {
                    (Some(o), Some(a)) if o.kind() == "identifier" => (file.node_text(o), Some(file.node_text(a))),
                    _ => return,
                },
                _ => return,
            };
            let Some(binding) = bindings.iter().rev().find(|b| b.name == head) else { return };
            let python::scope::BindingKind::Import { module: m, imported, level } = &binding.kind else { return };
            let Some(absolute) = python::absolute_import(file, module.as_deref(), m, *level) else { return };
            // `from m import f` → (m, f); `from p import m` + `m.f()` → (p.m, f).
            let (target_module, name) = match (imported, member) {
                (Some(i), None) => (absolute, i.clone()),
                (Some(i), Some(f)) => (format!("{absolute}.{i}"), f.to_string()),
                (None, Some(f)) => (absolute, f.to_string()),
                (None, None) => return,
            };
            let Some(target) = guard.module_file(self.files_on_disk, &target_module) else { return };
            let own_file = target.rel_path == self.driver_file.rel_path;
            if own_file && self.group.iter().any(|d| d.unit.name() == name) {
                return;
            }
            if self.ranks(&target.rel_path).0.is_none_or(|r| r <= owner_rank) {
                return;
            }
            let Some(def) = python::top_level_definition(&target, "function_definition", &name) else { return };
            let mut opens = false;
            for_each_node(def, |c| {
                opens |= c.kind() == "call"
                    && c.child_by_field_name("function")
                        .is_some_and(|f| self.factories.sessions.is_match(target.node_text(f)));
            });
            if opens {
                found = Some((name, own_file));
            }
        });
        found
    }
}

/// The global a statement assigns the driver to, when its function declares it `global`.
fn singleton(file: &SourceFile, function: Node, stmt: Node) -> Option<String> {
    let assign = stmt.named_child(0).filter(|a| a.kind() == "assignment")?;
    let target = file.node_text(assign.child_by_field_name("left")?).to_string();
    let mut global = false;
    for_each_node(function, |n| {
        if n.kind() == "global_statement" {
            let mut cursor = n.walk();
            global |= n.named_children(&mut cursor).any(|g| file.node_text(g) == target);
        }
    });
    global.then_some(target)
}

/// The last statement that may use the driver after `stmt`: a class driver is used after its
/// construction, so the rest of the block needs the session.
fn region_end(stmt: Node, class_driver: bool) -> Node {
    match (class_driver, stmt.parent()) {
        (true, Some(block)) => primitives::statements(block).last().copied().unwrap_or(stmt),
        _ => stmt,
    }
}

/// `global _x` + `if _x is None: _x = X()` + `return _x` (docstring aside) becomes `return
/// X(..., session=session)`; the module's `_x = None` goes when nothing else reads `_x`.
fn plain_factory(file: &SourceFile, function: Node, stmt: Node, call: Node, global: &str) -> Option<Vec<Edit>> {
    let body = function.child_by_field_name("body")?;
    let stmts: Vec<Node> = primitives::statements(body).into_iter().filter(|s| !driver::is_docstring(*s)).collect();
    let [declare, check, give] = stmts[..] else { return None };
    let guarded = stmt.parent().and_then(|b| b.parent()).is_some_and(|i| i.id() == check.id());
    let shape = declare.kind() == "global_statement"
        && check.kind() == "if_statement"
        && check.child_by_field_name("condition").is_some_and(|c| file.node_text(c) == format!("{global} is None"))
        && check.child_by_field_name("alternative").is_none()
        && primitives::statements(check.child_by_field_name("consequence")?).len() == 1
        && file.node_text(give) == format!("return {global}");
    if !(guarded && shape) {
        return None;
    }
    let argument = add_argument(file, call, "session", "session").ok()?;
    let at = argument.range.start - call.start_byte();
    let mut built = file.node_text(call).to_string();
    built.insert_str(at, &argument.content);
    let mut edits = vec![Edit::replace(declare.start_byte()..give.end_byte(), format!("return {built}"))];
    // The module-level cache, when only this factory used it.
    let root = file.tree.root_node();
    let reads_elsewhere = {
        let mut elsewhere = false;
        for_each_node(root, |n| {
            let inside = n.start_byte() >= function.start_byte() && n.end_byte() <= function.end_byte();
            elsewhere |= n.kind() == "identifier"
                && file.node_text(n) == global
                && !inside
                && !is_cache_declaration(file, n, global);
        });
        elsewhere
    };
    if !reads_elsewhere {
        for top in primitives::statements(root) {
            if is_cache_statement(file, top, global) {
                edits.extend(primitives::delete_with_leading_comments(file, top));
            }
        }
    }
    Some(edits)
}

/// `_x = None` / `_x: Optional[X] = None` at module level.
fn is_cache_statement(file: &SourceFile, stmt: Node, global: &str) -> bool {
    let assign = stmt.named_child(0).filter(|a| stmt.kind() == "expression_statement" && a.kind() == "assignment");
    assign.is_some_and(|a| {
        a.child_by_field_name("left").is_some_and(|l| file.node_text(l) == global)
            && a.child_by_field_name("right").is_some_and(|r| file.node_text(r) == "None")
    })
}

fn is_cache_declaration(file: &SourceFile, identifier: Node, global: &str) -> bool {
    let stmt = python::enclosing_statement(identifier);
    stmt.is_some_and(|s| s.parent().is_some_and(|p| p.kind() == "module") && is_cache_statement(file, s, global))
}

/// Whether `first` binds a name to the driver itself (the call is its whole value) that a
/// `return` up to `last` hands out.
fn escapes(file: &SourceFile, first: Node, last: Node, call: Range<usize>) -> bool {
    let Some(assign) = first.named_child(0).filter(|a| a.kind() == "assignment") else { return false };
    let (Some(left), Some(value)) = (assign.child_by_field_name("left"), assign.child_by_field_name("right")) else {
        return false;
    };
    let value = if value.kind() == "await" { value.named_child(0).unwrap_or(value) } else { value };
    if value.byte_range() != call {
        return false;
    }
    let bound = file.node_text(left);
    let mut handed_out = false;
    let mut node = Some(first);
    while let Some(stmt) = node {
        for_each_node(stmt, |n| {
            if n.kind() == "return_statement" {
                if let Some(v) = n.named_child(0) {
                    for_each_node(v, |i| handed_out |= i.kind() == "identifier" && file.node_text(i) == bound);
                }
            }
        });
        if stmt.id() == last.id() {
            break;
        }
        node = stmt.next_named_sibling();
    }
    handed_out
}

/// The call node a call site points at.
fn call_node(site: &CallSite) -> Option<Node<'_>> {
    let root = site.file.tree.root_node();
    let mut node = root.descendant_for_byte_range(site.call.start, site.call.end)?;
    while node.kind() != "call" || node.byte_range() != site.call {
        node = node.parent()?;
    }
    Some(node)
}

/// The expression a call passes for the session parameter (by keyword or at its position).
fn passed_session(file: &SourceFile, call: Node, (name, position): &(String, Option<usize>)) -> Option<String> {
    let args = call.child_by_field_name("arguments")?;
    let mut cursor = args.walk();
    let list: Vec<Node> = args.named_children(&mut cursor).filter(|a| a.kind() != "comment").collect();
    let keyword = list.iter().find_map(|a| {
        (a.kind() == "keyword_argument" && a.child_by_field_name("name").is_some_and(|n| file.node_text(n) == name))
            .then(|| a.child_by_field_name("value").map(|v| file.node_text(v).to_string()))
            .flatten()
    });
    let positional: Vec<&Node> =
        list.iter().filter(|a| !matches!(a.kind(), "keyword_argument" | "dictionary_splat")).collect();
    keyword.or_else(|| position.and_then(|i| positional.get(i)).map(|a| file.node_text(**a).to_string()))
}

/// A session the function itself opened before `before` (`async with F() as session:` around it).
fn local_session(file: &SourceFile, function: Node, before: usize) -> Option<String> {
    let session_like = driver::session_like();
    let mut found = None;
    for_each_node(function, |n| {
        if n.kind() == "with_statement" && n.start_byte() < before && before < n.end_byte() {
            let header = file.node_text(n).split(':').next().unwrap_or_default().to_string();
            if let Some(alias) = header.rsplit(" as ").next().filter(|_| header.contains(" as ")) {
                let alias = alias.trim();
                if session_like.is_match(alias) {
                    found = Some(alias.to_string());
                }
            }
        }
    });
    found
}

/// Whether the function binds or reads `name` as a variable (not as `x.name` or `f(name=...)`).
fn mentions(file: &SourceFile, function: Node, name: &str) -> bool {
    let mut found = false;
    for_each_node(function, |n| {
        let attribute_or_keyword = n.parent().is_some_and(|p| {
            (p.kind() == "attribute" && p.child_by_field_name("attribute") == Some(n))
                || (p.kind() == "keyword_argument" && p.child_by_field_name("name") == Some(n))
        });
        found |= n.kind() == "identifier" && file.node_text(n) == name && !attribute_or_keyword;
    });
    found
}

/// `f(a)` → `f(a, session=X)`.
fn add_argument(file: &SourceFile, call: Node, name: &str, value: &str) -> Result<Edit, ManualReason> {
    let args = call.child_by_field_name("arguments").ok_or("a call without arguments")?;
    if args.kind() != "argument_list" {
        return Err(format!("the call at {} takes a generator expression", location(file, call)));
    }
    let mut cursor = args.walk();
    let last = args.named_children(&mut cursor).filter(|a| a.kind() != "comment").last();
    Ok(match last {
        Some(last) => driver::append_after(file, args, last, &[&format!("{name}={value}")]),
        None => Edit::insert(args.start_byte() + 1, format!("{name}={value}")),
    })
}

/// The statements of an owner, made to commit (before each `return` and at the end), to roll
/// back and re-raise on error, and to run inside `open` when the owner opens the session.
fn owner_block(
    text: &str,
    newline: &str,
    commit: Option<&str>,
    rollback: Option<&str>,
    (session, open): (&str, &Opening),
    fresh: &str,
) -> Result<String, ManualReason> {
    let indent: String = text.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
    let dedented = primitives::reindent(text, &indent, "");
    let mut body = dedented.clone();
    if let Some(commit) = commit {
        let tree = python::parse_text(&dedented).map_err(|e| e.to_string())?;
        let source = dedented.as_bytes();
        let mut edits = Vec::new();
        let mut returns = Vec::new();
        for_each_node(tree.root_node(), |n| {
            if n.kind() == "return_statement"
                && !std::iter::successors(n.parent(), |p| p.parent())
                    .any(|p| matches!(p.kind(), "function_definition" | "lambda"))
            {
                returns.push(n);
            }
        });
        for ret in &returns {
            let line_start = dedented[..ret.start_byte()].rfind('\n').map_or(0, |i| i + 1);
            let pad = &dedented[line_start..ret.start_byte()];
            let value = ret.named_child(0).map(|v| v.utf8_text(source).unwrap_or_default().to_string());
            // The returned expression runs before the commit when it may write (an awaited call).
            let may_write = |v: &str| if commit.starts_with("await") { v.contains("await") } else { v.contains('(') };
            let replacement = match value {
                Some(v) if may_write(&v) => {
                    format!("{fresh} = {v}{newline}{pad}{commit}{newline}{pad}return {fresh}")
                }
                _ => format!("{commit}{newline}{pad}{}", ret.utf8_text(source).unwrap_or_default()),
            };
            edits.push(Edit::replace(ret.byte_range(), replacement));
        }
        body = edit::apply(&dedented, &edits).map_err(|e| e.to_string())?;
        let last_is_exit = {
            let root = tree.root_node();
            let stmts = primitives::statements(root);
            stmts.last().is_some_and(|s| matches!(s.kind(), "return_statement" | "raise_statement"))
        };
        if !last_is_exit {
            if !body.ends_with('\n') {
                body.push_str(newline);
            }
            body.push_str(commit);
            body.push_str(newline);
        }
    }
    if let Some(rollback) = rollback {
        body = format!(
            "try:{newline}{}except Exception:{newline}    {rollback}{newline}    raise{newline}",
            primitives::indent_lines(&body, "    ", newline)
        );
    }
    let inside =
        |header: &str, body: &str| format!("{header}{newline}{}", primitives::indent_lines(body, "    ", newline));
    body = match open {
        Opening::Given => body,
        Opening::Open(header) => inside(header, &body),
        Opening::WhenNone(header) => {
            let opened = inside(header, &body);
            format!(
                "{}else:{newline}{}",
                inside(&format!("if {session} is None:"), &opened),
                primitives::indent_lines(&body, "    ", newline)
            )
        }
    };
    let out = primitives::indent_lines(&body, &indent, newline);
    if !python::is_valid_python(&body) {
        return Err("the owner's statements would not parse after the rewrite".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_argument(text: &str) -> String {
        let file = SourceFile::parse("a.py".into(), "a.py".into(), text.as_bytes().to_vec()).unwrap();
        let mut call = None;
        for_each_node(file.tree.root_node(), |n| {
            if n.kind() == "call" && call.is_none() {
                call = Some(n);
            }
        });
        let edit = add_argument(&file, call.unwrap(), "session", "s").unwrap();
        edit::apply(text, &[edit]).unwrap()
    }

    #[test]
    fn the_session_argument_follows_the_calls_layout() {
        assert_eq!(with_argument("f()\n"), "f(session=s)\n");
        assert_eq!(with_argument("f(a, b=1)\n"), "f(a, b=1, session=s)\n");
        assert_eq!(with_argument("f(\n    a=1,\n    b=2,\n)\n"), "f(\n    a=1,\n    b=2,\n    session=s,\n)\n");
        assert_eq!(with_argument("f(\n    a=1,\n    b=2\n)\n"), "f(\n    a=1,\n    b=2, session=s\n)\n");
    }
}
