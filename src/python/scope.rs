//! Python name-binding analysis on a tree-sitter tree: what a statement range reads, binds and hides.
//!
//! The analysis is a single source-order walk over statements with a small dataflow state
//! (names *definitely* and *possibly* bound so far). The same walker serves three purposes,
//! distinguished by the [`Sink`] that receives its events:
//! collecting a scope's bindings, analysing the range itself, and scanning the code that runs
//! after the range for reads of the range's bindings.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use imbl::OrdSet;

use tree_sitter::{Node, Tree};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// A contiguous run of statements `stmts[first..=last]` that are siblings in one block.
/// Indices are into the block's named, non-comment children.
#[derive(Debug, Clone, Copy)]
pub struct StatementRange<'t> {
    pub block: Node<'t>,
    pub first: usize,
    pub last: usize,
}

/// Data flow into and out of a [`StatementRange`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeFlow {
    /// Names read inside the range whose value comes from before it (function parameters,
    /// earlier locals, enclosing-function variables) — in order of first read. Excludes names
    /// bound only at module level, builtins, and names first assigned inside the range before
    /// being read.
    pub inputs: Vec<String>,
    /// Names assigned (any binding form) inside the range and read after it, in the enclosing
    /// function, before being re-bound — in order of first assignment.
    pub outputs: Vec<String>,
    /// Module-level names (imports, constants, functions, classes bound at the module's top
    /// level) the range reads, in order of first read.
    pub module_names: Vec<String>,
    /// Nodes inside the range that make it unsafe to move out as a function, in source order.
    pub hazards: Vec<Hazard>,
}

/// One construct that prevents moving a range into its own function unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    pub kind: HazardKind,
    pub byte_range: Range<usize>,
    /// 1-based line of the node's start.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HazardKind {
    Return,
    Yield,
    /// `break`/`continue` whose loop is outside the range.
    BreakOrContinue,
    Global,
    Nonlocal,
    /// `await`, `async for` or `async with`: only movable into an `async def`.
    Await,
    /// A watched name is bound (or deleted) inside the range.
    Rebinds(String),
}

/// A name bound at the top level of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBinding {
    pub name: String,
    pub kind: BindingKind,
    /// The statement that binds the name (a decorated definition includes its decorators).
    pub stmt_byte_range: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingKind {
    Import {
        /// Dotted module path without the leading dots of a relative import.
        module: String,
        /// The imported member for `from m import x`; `None` for `import a.b`.
        imported: Option<String>,
        /// Number of leading dots of a relative import.
        level: usize,
    },
    Assignment,
    Function,
    Class,
}

/// Analyse `range` inside its enclosing function (or class body, or module if at top level)
/// of `source`. `watched` lists names whose rebinding inside the range is a hazard.
pub fn analyse_range(tree: &Tree, source: &[u8], range: &StatementRange, watched: &[&str]) -> RangeFlow {
    analyse_range_in(&module_scope(tree, source), source, range, watched)
}

/// The names a module binds, computed once for several [`analyse_range_in`] calls on one file.
pub struct ModuleScope(ScopeInfo);

pub fn module_scope(tree: &Tree, source: &[u8]) -> ModuleScope {
    ModuleScope(ScopeInfo::of(tree.root_node(), source))
}

/// [`analyse_range`] with the module's bindings already computed.
pub fn analyse_range_in(module: &ModuleScope, source: &[u8], range: &StatementRange, watched: &[&str]) -> RangeFlow {
    let stmts = statements(range.block);
    if range.first > range.last || range.last >= stmts.len() {
        return RangeFlow::default();
    }
    let range_stmts = &stmts[range.first..=range.last];
    let range_bytes = range_stmts[0].start_byte()..range_stmts[range_stmts.len() - 1].end_byte();
    let scope = enclosing_scope(range.block);
    let resolver = Resolver::new(module, source, scope, range_bytes);

    // Pass 1: the range itself.
    let mut sink = RangeSink::new(&resolver, watched);
    let mut state = State::default();
    Walker::new(source, &mut sink, Mode::Range).stmts(range_stmts, &mut state);
    let candidates: Vec<String> = if state.dead {
        Vec::new()
    } else {
        sink.bind_order
            .iter()
            .filter(|n| state.may.contains(*n) && !resolver.scope.globals.contains(*n))
            .cloned()
            .collect()
    };

    // Pass 2: everything that can run after the range in the same scope.
    let mut after = AfterSink { candidates: candidates.iter().cloned().collect(), used: HashSet::new() };
    let mut after_state = State::default();
    Walker::new(source, &mut after, Mode::After).after_range(range.block, range.last, scope, &mut after_state);

    let mut hazards = sink.hazards;
    hazards.sort_by_key(|h| (h.byte_range.start, h.byte_range.end));
    RangeFlow {
        inputs: sink.inputs,
        outputs: candidates.into_iter().filter(|n| after.used.contains(n)).collect(),
        module_names: sink.module_names,
        hazards,
    }
}

/// The bindings one import statement makes, as [`module_bindings`] records them.
pub fn module_bindings_of_statement(source: &[u8], stmt: Node<'_>) -> Vec<ModuleBinding> {
    let mut sink = ModuleSink::default();
    let mut state = State::default();
    Walker::new(source, &mut sink, Mode::Collect).stmts(&[stmt], &mut state);
    sink.out
}

/// Names bound at the top level of a module (including inside module-level `if`/`try`/`with`/
/// `for` blocks), in source order, one entry per binding. Annotated names without a value
/// (`x: int`) are included as assignments since they declare the name; `except ... as e`
/// targets are not, since Python unbinds them at the end of the handler.
pub fn module_bindings(tree: &Tree, source: &[u8]) -> Vec<ModuleBinding> {
    let root = tree.root_node();
    let mut sink = ModuleSink::default();
    let mut state = State::default();
    Walker::new(source, &mut sink, Mode::Collect).stmts(&statements(root), &mut state);
    sink.out
}

/// Where a read happens, for sinks that judge single reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadAt<'t> {
    pub node: Node<'t>,
    /// The read runs where the walk meets it: in the walked scope's own body and outside any
    /// loop (a loop body may run again with later bindings in place).
    pub ordered: bool,
    /// The read is in a nested function or class body (which judges it as its own scope).
    pub nested: bool,
}

/// A read that no binding reaches at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnboundRead {
    pub name: String,
    /// 1-based line of the read.
    pub line: usize,
    /// `true`: a local of the scope read before any path binds it (`UnboundLocalError`);
    /// `false`: bound nowhere Python looks (`NameError`).
    pub before_assignment: bool,
}

/// Reads that Python cannot bind, in the module's own code and in every function of it, with
/// the name of the function (`None` for module code): names bound nowhere (not a local, an
/// enclosing function's name, a module name or a builtin), and locals read where no path has
/// bound them yet. A nested function's free names are judged only as "bound nowhere" by its
/// parent's walk; its own locals by its own. A star import makes module names statically
/// unknown: then only locals are judged.
pub fn unbound_reads(tree: &Tree, source: &[u8]) -> Vec<(Option<String>, UnboundRead)> {
    let root = tree.root_node();
    let module = ScopeInfo::of(root, source);
    let star = has_star_import(root);
    let mut scopes = vec![root];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        for c in n.named_children(&mut cursor) {
            if c.kind() == "function_definition" {
                scopes.push(c);
            }
            stack.push(c);
        }
    }
    let mut out = Vec::new();
    for scope in scopes {
        let own = if scope.kind() == "module" { module.clone() } else { ScopeInfo::of(scope, source) };
        let mut enclosing = Vec::new();
        let mut cur = scope.parent();
        while let Some(n) = cur {
            if n.kind() == "function_definition" {
                enclosing.push(ScopeInfo::of(n, source));
            }
            cur = n.parent();
        }
        let mut sink = UnboundSink { module: &module, star, own, enclosing, out: Vec::new() };
        let mut state = State::default();
        let body = if scope.kind() == "module" {
            Some(scope)
        } else {
            if let Some(params) = scope.child_by_field_name("parameters") {
                for name in parameter_names(params, source) {
                    state.bind(&name);
                }
            }
            scope.child_by_field_name("body")
        };
        if let Some(body) = body {
            Walker::new(source, &mut sink, Mode::Range).stmts(&statements(body), &mut state);
        }
        let owner = scope.child_by_field_name("name").map(|n| text(n, source).to_string());
        out.extend(sink.out.into_iter().map(|r| (owner.clone(), r)));
    }
    out
}

fn has_star_import(root: Node<'_>) -> bool {
    statements(root).iter().any(|s| {
        s.kind() == "import_from_statement" && {
            let mut cursor = s.walk();
            let found = s.named_children(&mut cursor).any(|c| c.kind() == "wildcard_import");
            found
        }
    })
}

/// Whether `name` is one of Python's builtin exception classes (constructible from a message).
pub fn is_builtin_exception(name: &str) -> bool {
    BUILTINS.contains(&name)
        && name.chars().next().is_some_and(char::is_uppercase)
        && !matches!(name, "True" | "False" | "None" | "Ellipsis" | "NotImplemented")
}

/// Python's builtins and the names every module has, which need no binding.
const BUILTINS: &[&str] = &[
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "BaseExceptionGroup",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EOFError",
    "Ellipsis",
    "EncodingWarning",
    "EnvironmentError",
    "Exception",
    "ExceptionGroup",
    "False",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "IOError",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "None",
    "NotADirectoryError",
    "NotImplemented",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "PythonFinalizationError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "True",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "ZeroDivisionError",
    "__build_class__",
    "__builtins__",
    "__debug__",
    "__doc__",
    "__file__",
    "__import__",
    "__loader__",
    "__name__",
    "__package__",
    "__path__",
    "__spec__",
    "__annotations__",
    "__dict__",
    "__cached__",
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "__class__",
    "__qualname__",
    "__module__",
];

/// Judges every read of the walked scope against Python's lookup rules.
struct UnboundSink<'m> {
    module: &'m ScopeInfo,
    star: bool,
    own: ScopeInfo,
    enclosing: Vec<ScopeInfo>,
    out: Vec<UnboundRead>,
}

impl<'t> Sink<'t> for UnboundSink<'_> {
    fn read(&mut self, name: &str, global: bool, state: &State, at: ReadAt<'t>) {
        // A nested function judges its own free names with its own enclosing scopes (class
        // bodies are not judged).
        if state.dead || at.nested {
            return;
        }
        let line = at.node.start_position().row + 1;
        let declared_global = global || self.own.globals.contains(name);
        if !declared_global && self.own.is_local(name) {
            // Only a read the walk orders for certain can be judged "before assignment"; a
            // `del` or an except alias leaves `may` empty too, so it needs a later binding as well.
            let later =
                self.own.bindings.get(name).is_some_and(|at_bytes| at_bytes.iter().any(|b| *b > at.node.start_byte()));
            if at.ordered && !state.may.contains(name) && !self.own.params.contains(name) && later {
                self.out.push(UnboundRead { name: name.to_string(), line, before_assignment: true });
            }
            return;
        }
        let bound = self.own.nonlocals.contains(name)
            || (!declared_global && self.enclosing.iter().any(|s| s.is_local(name) || s.nonlocals.contains(name)))
            || self.module.is_local(name)
            || self.module.declared.contains(name)
            || BUILTINS.contains(&name)
            || self.star;
        if !bound && !self.out.iter().any(|u| u.name == name && !u.before_assignment) {
            self.out.push(UnboundRead { name: name.to_string(), line, before_assignment: false });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node helpers
// ---------------------------------------------------------------------------------------------

/// Statements of a block or module: named children that are not comments.
fn statements(block: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = block.walk();
    block.named_children(&mut cursor).filter(|n| n.kind() != "comment").collect()
}

fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).filter(|n| n.kind() != "comment").collect()
}

fn field_all<'t>(node: Node<'t>, field: &str) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children_by_field_name(field, &mut cursor).collect()
}

fn text<'s>(node: Node<'_>, src: &'s [u8]) -> &'s str {
    node.utf8_text(src).unwrap_or("")
}

/// `async for` / `async with` carry an anonymous `async` token child.
fn is_async(node: Node<'_>) -> bool {
    (0..node.child_count()).filter_map(|i| node.child(i)).any(|c| c.kind() == "async")
}

/// The nearest function, class or module that owns `node`'s names.
fn enclosing_scope(node: Node<'_>) -> Node<'_> {
    let mut cur = node;
    loop {
        if matches!(cur.kind(), "function_definition" | "class_definition" | "module") {
            return cur;
        }
        match cur.parent() {
            Some(p) => cur = p,
            None => return cur,
        }
    }
}

/// The block-level statement containing `node` (a decorated definition counts as one statement).
fn statement_of(node: Node<'_>) -> Node<'_> {
    let mut cur = node;
    while let Some(p) = cur.parent() {
        if matches!(p.kind(), "block" | "module") {
            break;
        }
        cur = p;
    }
    cur
}

/// Identifier names bound by a target pattern (attribute/subscript targets bind nothing).
fn target_names(node: Node<'_>, src: &[u8], out: &mut Vec<String>) {
    match node.kind() {
        "identifier" => out.push(text(node, src).to_string()),
        "attribute" | "subscript" => {}
        _ => {
            for c in named_children(node) {
                target_names(c, src, out);
            }
        }
    }
}

/// Names introduced by a `parameters` / `lambda_parameters` node.
fn parameter_names(params: Node<'_>, src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for p in named_children(params) {
        match p.kind() {
            "default_parameter" | "typed_default_parameter" => {
                if let Some(name) = p.child_by_field_name("name") {
                    target_names(name, src, &mut out);
                }
            }
            "typed_parameter" => {
                // The name is the unnamed-field child; the `type` field is an annotation.
                for c in named_children(p) {
                    if c.kind() != "type" {
                        target_names(c, src, &mut out);
                    }
                }
            }
            "keyword_separator" | "positional_separator" => {}
            _ => target_names(p, src, &mut out),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Dataflow state
// ---------------------------------------------------------------------------------------------

/// Names bound since the walk started, along the paths that reach the current point.
#[derive(Debug, Clone, Default)]
struct State {
    /// Bound on every path. Persistent sets: every def, branch and handler copies the state, and
    /// a module of n functions must not copy its n names n times.
    must: OrdSet<String>,
    /// Bound on at least one path.
    may: OrdSet<String>,
    /// No path reaches this point (after return/raise/break/continue).
    dead: bool,
}

impl State {
    fn bind(&mut self, name: &str) {
        self.must.insert(name.to_string());
        self.may.insert(name.to_string());
    }

    fn unbind(&mut self, name: &str) {
        self.must.remove(name);
        self.may.remove(name);
    }

    fn kill(&mut self) {
        self.dead = true;
    }

    /// Control-flow merge: dead paths contribute nothing.
    fn join(&self, other: &State) -> State {
        if self.dead {
            return other.clone();
        }
        if other.dead {
            return self.clone();
        }
        State {
            must: self.must.clone().intersection(other.must.clone()),
            may: self.may.clone().union(other.may.clone()),
            dead: false,
        }
    }

    fn join_all<'a>(first: &State, rest: impl IntoIterator<Item = &'a State>) -> State {
        rest.into_iter().fold(first.clone(), |acc, s| acc.join(s))
    }

    /// State on entry to an exception handler: the body may have stopped anywhere, so only
    /// what was bound before it is certain, while anything it bound is possible.
    fn handler_entry(before: &State, after_body: &State) -> State {
        let mut may = before.may.clone();
        may.extend(after_body.may.iter().cloned());
        State { must: before.must.clone(), may, dead: before.dead }
    }
}

// ---------------------------------------------------------------------------------------------
// Walker events
// ---------------------------------------------------------------------------------------------

/// How a binding came about (only `module_bindings` cares about the details).
#[derive(Debug, Clone)]
enum BindSite {
    Import {
        module: String,
        imported: Option<String>,
        level: usize,
    },
    Function,
    Class,
    /// `except E as e`: unbound again at the end of the handler.
    ExceptAlias,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decl {
    Global,
    Nonlocal,
    /// `x: int` without a value: makes `x` local without binding it.
    Local,
}

/// Receives the events of the walked scope. Events from nested scopes only arrive as reads of
/// names free in them; their own bindings are filtered out by the walker.
trait Sink<'t> {
    /// `global` is true when a nested scope declared the name `global`. `at` is the reading node;
    /// `ordered` is true when the read runs where the walk sees it (own body, outside any loop).
    fn read(&mut self, _name: &str, _global: bool, _state: &State, _at: ReadAt<'t>) {}
    fn bind(&mut self, _name: &str, _node: Node<'t>, _site: &BindSite) {}
    /// Explicit `del name`.
    fn delete(&mut self, _name: &str, _node: Node<'t>) {}
    fn declare(&mut self, _name: &str, _decl: Decl, _node: Node<'t>) {}
    fn hazard(&mut self, _kind: HazardKind, _node: Node<'t>) {}
}

/// What `del` (and the implicit unbinding of an except alias) does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Gathering a scope's names: state is irrelevant.
    Collect,
    /// Walking the range: a deleted name is no longer bound by it.
    Range,
    /// Walking code after the range: a deleted name no longer holds the range's value,
    /// which is what "re-bound" tracks there.
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Function,
    Class,
    Comprehension,
}

/// A scope nested inside the walked one (def, lambda, class body, comprehension).
#[derive(Debug)]
struct Nested {
    kind: ScopeKind,
    info: ScopeInfo,
}

enum Resolution {
    /// Local to a nested scope: invisible to the sink.
    Local,
    /// Refers to the walked scope (or beyond it).
    Outer,
    /// Declared `global` in a nested scope.
    Global,
}

/// States at `break` / `continue` statements of one loop.
#[derive(Debug, Default)]
struct LoopCtx {
    breaks: Vec<State>,
    continues: Vec<State>,
}

// ---------------------------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------------------------

struct Walker<'a, 't> {
    src: &'a [u8],
    sink: &'a mut dyn Sink<'t>,
    mode: Mode,
    nested: Vec<Nested>,
    loops: Vec<LoopCtx>,
}

impl<'a, 't> Walker<'a, 't> {
    fn new(src: &'a [u8], sink: &'a mut dyn Sink<'t>, mode: Mode) -> Self {
        Walker { src, sink, mode, nested: Vec::new(), loops: Vec::new() }
    }

    fn name(&self, node: Node<'t>) -> String {
        text(node, self.src).to_string()
    }

    /// True while walking code that belongs to the walked scope itself (comprehensions run
    /// inline, so `await`/`yield` in them still count).
    fn in_own_body(&self) -> bool {
        self.nested.iter().all(|n| n.kind == ScopeKind::Comprehension)
    }

    fn hazard(&mut self, kind: HazardKind, node: Node<'t>) {
        if self.in_own_body() {
            self.sink.hazard(kind, node);
        }
    }

    /// Python's LEGB lookup through the nested scopes; class scopes are only visible to code
    /// directly in the class body.
    fn resolve(&self, name: &str, skip_innermost: bool) -> Resolution {
        let len = self.nested.len();
        let take = if skip_innermost { len.saturating_sub(1) } else { len };
        for (i, scope) in self.nested[..take].iter().enumerate().rev() {
            if scope.kind == ScopeKind::Class && i + 1 != len {
                continue;
            }
            if scope.info.globals.contains(name) {
                return Resolution::Global;
            }
            if scope.info.nonlocals.contains(name) {
                continue;
            }
            if scope.info.is_local(name) {
                return Resolution::Local;
            }
        }
        Resolution::Outer
    }

    // --- name events -------------------------------------------------------------------------

    fn read_name(&mut self, name: &str, node: Node<'t>, state: &State) {
        let at = ReadAt {
            node,
            ordered: self.nested.is_empty() && self.loops.is_empty(),
            nested: self.nested.iter().any(|n| n.kind != ScopeKind::Comprehension),
        };
        match self.resolve(name, false) {
            Resolution::Local => {}
            Resolution::Outer => self.sink.read(name, false, state, at),
            Resolution::Global => self.sink.read(name, true, state, at),
        }
    }

    fn bind(&mut self, node: Node<'t>, state: &mut State, site: &BindSite) {
        let name = self.name(node);
        if self.nested.is_empty() {
            state.bind(&name);
            self.sink.bind(&name, node, site);
        } else {
            // A nested scope writing a `nonlocal`/`global` name touches an outer variable:
            // report it as a use of that variable.
            let at = ReadAt { node, ordered: false, nested: true };
            match self.resolve(&name, false) {
                Resolution::Local => {}
                Resolution::Outer => self.sink.read(&name, false, state, at),
                Resolution::Global => self.sink.read(&name, true, state, at),
            }
        }
    }

    /// `del name` or the implicit unbinding of an except alias.
    fn unbind(&mut self, node: Node<'t>, state: &mut State, explicit: bool) {
        if !self.nested.is_empty() {
            return;
        }
        let name = self.name(node);
        match self.mode {
            Mode::After => state.bind(&name),
            Mode::Range | Mode::Collect => state.unbind(&name),
        }
        if explicit {
            self.sink.delete(&name, node);
        }
    }

    /// `:=` binds in the nearest enclosing non-comprehension scope.
    fn walrus_bind(&mut self, node: Node<'t>, state: &mut State) {
        let target_is_nested = self.nested.iter().any(|n| n.kind != ScopeKind::Comprehension);
        if !target_is_nested {
            let name = self.name(node);
            state.bind(&name);
            self.sink.bind(&name, node, &BindSite::Other);
        }
    }

    // --- statements --------------------------------------------------------------------------

    fn stmts(&mut self, stmts: &[Node<'t>], state: &mut State) {
        for &s in stmts {
            self.stmt(s, state);
        }
    }

    fn block(&mut self, block: Option<Node<'t>>, state: &mut State) {
        if let Some(b) = block {
            self.stmts(&statements(b), state);
        }
    }

    fn stmt(&mut self, node: Node<'t>, state: &mut State) {
        match node.kind() {
            "comment" | "pass_statement" | "future_import_statement" => {}
            "return_statement" => {
                self.hazard(HazardKind::Return, node);
                self.children(node, state);
                state.kill();
            }
            "raise_statement" => {
                self.children(node, state);
                state.kill();
            }
            "break_statement" | "continue_statement" => self.jump(node, state),
            "global_statement" => self.declaration(node, Decl::Global),
            "nonlocal_statement" => self.declaration(node, Decl::Nonlocal),
            "delete_statement" => {
                for c in named_children(node) {
                    self.del_target(c, state);
                }
            }
            "import_statement" => self.import(node, state),
            "import_from_statement" => self.import_from(node, state),
            "if_statement" => self.if_stmt(node, state),
            "for_statement" => self.for_stmt(node, state),
            "while_statement" => self.while_stmt(node, state),
            "try_statement" => self.try_stmt(node, state),
            "with_statement" => self.with_stmt(node, state),
            "match_statement" => self.match_stmt(node, state),
            "function_definition" => self.function_def(node, state),
            "class_definition" => self.class_def(node, state),
            "decorated_definition" => {
                for d in named_children(node) {
                    if d.kind() == "decorator" {
                        self.children(d, state);
                    }
                }
                if let Some(def) = node.child_by_field_name("definition") {
                    self.stmt(def, state);
                }
            }
            "type_alias_statement" => {
                if let Some(right) = node.child_by_field_name("right") {
                    self.expr(right, state);
                }
                let left = node.child_by_field_name("left");
                if let Some(id) = left.and_then(|l| l.named_child(0)).filter(|id| id.kind() == "identifier") {
                    self.bind(id, state, &BindSite::Other);
                }
            }
            // expression_statement, assert, print, exec, ERROR: plain expression children.
            _ => self.children(node, state),
        }
    }

    fn jump(&mut self, node: Node<'t>, state: &mut State) {
        let is_break = node.kind() == "break_statement";
        match self.loops.last_mut() {
            Some(ctx) if is_break => ctx.breaks.push(state.clone()),
            Some(ctx) => ctx.continues.push(state.clone()),
            None => self.hazard(HazardKind::BreakOrContinue, node),
        }
        state.kill();
    }

    fn declaration(&mut self, node: Node<'t>, decl: Decl) {
        let kind = if decl == Decl::Global { HazardKind::Global } else { HazardKind::Nonlocal };
        if self.in_own_body() {
            self.sink.hazard(kind, node);
            if self.nested.is_empty() {
                for id in named_children(node) {
                    let name = self.name(id);
                    self.sink.declare(&name, decl, id);
                }
            }
            return;
        }
        // `nonlocal x` in a nested def reaching a variable of the walked scope: moving the range
        // would cut that link.
        if decl == Decl::Nonlocal {
            let reaches_out = named_children(node)
                .into_iter()
                .any(|id| matches!(self.resolve(text(id, self.src), true), Resolution::Outer));
            if reaches_out {
                self.sink.hazard(HazardKind::Nonlocal, node);
            }
        }
    }

    fn import(&mut self, node: Node<'t>, state: &mut State) {
        for name in field_all(node, "name") {
            let (module_node, bound) = match name.kind() {
                "aliased_import" => (name.child_by_field_name("name"), name.child_by_field_name("alias")),
                // `import a.b` binds `a`.
                _ => (Some(name), name.named_child(0)),
            };
            let (Some(module_node), Some(bound)) = (module_node, bound) else {
                continue;
            };
            let site = BindSite::Import { module: self.name(module_node), imported: None, level: 0 };
            self.bind(bound, state, &site);
        }
    }

    fn import_from(&mut self, node: Node<'t>, state: &mut State) {
        let (module, level) = match node.child_by_field_name("module_name") {
            Some(m) if m.kind() == "relative_import" => {
                let mut module = String::new();
                let mut level = 0;
                for c in named_children(m) {
                    if c.kind() == "import_prefix" {
                        level = text(c, self.src).matches('.').count();
                    } else {
                        module = self.name(c);
                    }
                }
                (module, level)
            }
            Some(m) => (self.name(m), 0),
            None => (String::new(), 0),
        };
        for name in field_all(node, "name") {
            let (imported, bound) = match name.kind() {
                "aliased_import" => (name.child_by_field_name("name"), name.child_by_field_name("alias")),
                _ => (Some(name), Some(name)),
            };
            let (Some(imported), Some(bound)) = (imported, bound) else {
                continue;
            };
            let site = BindSite::Import { module: module.clone(), imported: Some(self.name(imported)), level };
            // `from m import x` parses `x` as a one-identifier dotted_name.
            let bound = if bound.kind() == "dotted_name" { bound.named_child(0).unwrap_or(bound) } else { bound };
            self.bind(bound, state, &site);
        }
    }

    fn if_stmt(&mut self, node: Node<'t>, state: &mut State) {
        self.field_expr(node, "condition", state);
        let mut branch = state.clone();
        self.block(node.child_by_field_name("consequence"), &mut branch);
        let mut outs = vec![branch];
        let mut has_else = false;
        for alt in field_all(node, "alternative") {
            if alt.kind() == "elif_clause" {
                // Conditions run in sequence on the fall-through path (walrus can bind there).
                self.field_expr(alt, "condition", state);
                let mut branch = state.clone();
                self.block(alt.child_by_field_name("consequence"), &mut branch);
                outs.push(branch);
            } else {
                has_else = true;
                let mut branch = state.clone();
                self.block(alt.child_by_field_name("body"), &mut branch);
                outs.push(branch);
            }
        }
        if !has_else {
            outs.push(state.clone());
        }
        *state = State::join_all(&outs[0], &outs[1..]);
    }

    fn for_stmt(&mut self, node: Node<'t>, state: &mut State) {
        if is_async(node) {
            self.hazard(HazardKind::Await, node);
        }
        self.field_expr(node, "right", state);
        self.loop_body(node, state);
    }

    fn while_stmt(&mut self, node: Node<'t>, state: &mut State) {
        self.field_expr(node, "condition", state);
        self.loop_body(node, state);
    }

    /// Runs a loop's body (zero or more times) and its `else`, starting at the loop head.
    fn loop_body(&mut self, node: Node<'t>, state: &mut State) {
        let head = state.clone();
        let mut body = head.clone();
        if let Some(target) = node.child_by_field_name("left") {
            self.bind_target(target, &mut body, &BindSite::Other);
        }
        self.loops.push(LoopCtx::default());
        self.block(node.child_by_field_name("body"), &mut body);
        let ctx = self.loops.pop().unwrap_or_default();
        self.loop_exit(node, &head, &body, ctx, state);
    }

    /// Merges the ways out of a loop: normal exit (then `else`) and `break`.
    fn loop_exit(&mut self, node: Node<'t>, head: &State, body_end: &State, ctx: LoopCtx, state: &mut State) {
        let mut normal = State::join_all(head, std::iter::once(body_end).chain(&ctx.continues));
        if let Some(alt) = node.child_by_field_name("alternative") {
            self.block(alt.child_by_field_name("body"), &mut normal);
        }
        *state = State::join_all(&normal, &ctx.breaks);
    }

    fn try_stmt(&mut self, node: Node<'t>, state: &mut State) {
        let before = state.clone();
        self.block(node.child_by_field_name("body"), state);
        self.try_rest(node, &before, state);
    }

    /// Handlers, `else` and `finally` of a try whose body ran from `before` to `state`.
    fn try_rest(&mut self, node: Node<'t>, before: &State, state: &mut State) {
        let entry = State::handler_entry(before, state);
        let mut outs = Vec::new();
        let mut finally = None;
        let mut body_out = state.clone();
        for c in named_children(node) {
            match c.kind() {
                "except_clause" => outs.push(self.except_clause(c, &entry)),
                "else_clause" => self.block(c.child_by_field_name("body"), &mut body_out),
                "finally_clause" => finally = Some(c),
                _ => {}
            }
        }
        *state = State::join_all(&body_out, &outs);
        if let Some(f) = finally {
            self.finally_clause(f, state);
        }
    }

    fn finally_clause(&mut self, node: Node<'t>, state: &mut State) {
        for b in named_children(node) {
            if b.kind() == "block" {
                self.block(Some(b), state);
            }
        }
    }

    fn except_clause(&mut self, node: Node<'t>, entry: &State) -> State {
        let mut state = entry.clone();
        let mut alias = None;
        if let Some(value) = node.child_by_field_name("value") {
            if value.kind() == "as_pattern" {
                if let Some(exc) = value.named_child(0) {
                    self.expr(exc, &mut state);
                }
                alias = value
                    .child_by_field_name("alias")
                    .and_then(|a| a.named_child(0))
                    .filter(|a| a.kind() == "identifier");
                if let Some(a) = alias {
                    self.bind(a, &mut state, &BindSite::ExceptAlias);
                }
            } else {
                self.expr(value, &mut state);
            }
        }
        for b in named_children(node) {
            if b.kind() == "block" {
                self.block(Some(b), &mut state);
            }
        }
        // Python 3 deletes the alias when the handler ends.
        if let Some(a) = alias {
            self.unbind(a, &mut state, false);
        }
        state
    }

    fn with_stmt(&mut self, node: Node<'t>, state: &mut State) {
        if is_async(node) {
            self.hazard(HazardKind::Await, node);
        }
        for c in named_children(node) {
            if c.kind() == "with_clause" {
                for item in named_children(c) {
                    self.field_expr(item, "value", state);
                }
            }
        }
        self.block(node.child_by_field_name("body"), state);
    }

    fn match_stmt(&mut self, node: Node<'t>, state: &mut State) {
        self.field_expr(node, "subject", state);
        let mut outs = vec![state.clone()]; // no case matched
        let cases = node.child_by_field_name("body").map(named_children).unwrap_or_default();
        for case in cases.into_iter().filter(|c| c.kind() == "case_clause") {
            let mut branch = state.clone();
            for c in named_children(case) {
                if c.kind() == "case_pattern" {
                    self.case_pattern(c, &mut branch);
                }
            }
            self.field_expr(case, "guard", &mut branch);
            self.block(case.child_by_field_name("consequence"), &mut branch);
            outs.push(branch);
        }
        *state = State::join_all(&outs[0], &outs[1..]);
    }

    /// Capture patterns bind; dotted value patterns and class names read.
    fn case_pattern(&mut self, node: Node<'t>, state: &mut State) {
        match node.kind() {
            "dotted_name" => {
                let parts = named_children(node);
                match parts.as_slice() {
                    [one] => self.bind(*one, state, &BindSite::Other),
                    [first, ..] => self.expr(*first, state),
                    [] => {}
                }
            }
            "identifier" => self.bind(node, state, &BindSite::Other),
            "class_pattern" => {
                for (i, c) in named_children(node).into_iter().enumerate() {
                    if i == 0 && c.kind() == "dotted_name" {
                        if let Some(first) = c.named_child(0) {
                            self.expr(first, state);
                        }
                    } else {
                        self.case_pattern(c, state);
                    }
                }
            }
            "keyword_pattern" => {
                // The first identifier is the keyword (an attribute name), not a capture.
                for c in named_children(node).into_iter().skip(1) {
                    self.case_pattern(c, state);
                }
            }
            "dict_pattern" => {
                let keys = field_all(node, "key");
                for c in named_children(node) {
                    // Keys are literals or dotted value patterns, never captures.
                    if keys.contains(&c) {
                        if let Some(first) = c.named_child(0).filter(|_| c.kind() == "dotted_name") {
                            self.expr(first, state);
                        }
                    } else {
                        self.case_pattern(c, state);
                    }
                }
            }
            _ => {
                for c in named_children(node) {
                    self.case_pattern(c, state);
                }
            }
        }
    }

    // --- nested scopes -----------------------------------------------------------------------

    /// Defaults, annotations and decorators run now in this scope; the body runs later in its
    /// own scope, whose free names are reads of this one (counted at the `def`).
    fn function_def(&mut self, node: Node<'t>, state: &mut State) {
        if let Some(params) = node.child_by_field_name("parameters") {
            self.parameter_exprs(params, state, true);
        }
        self.field_expr(node, "return_type", state);
        if let Some(name) = node.child_by_field_name("name") {
            self.bind(name, state, &BindSite::Function);
        }
        let info = ScopeInfo::of(node, self.src);
        self.nested_body(ScopeKind::Function, info, state, |w, st| {
            w.block(node.child_by_field_name("body"), st);
        });
    }

    fn class_def(&mut self, node: Node<'t>, state: &mut State) {
        if let Some(supers) = node.child_by_field_name("superclasses") {
            self.children(supers, state);
        }
        let info = ScopeInfo::of(node, self.src);
        self.nested_body(ScopeKind::Class, info, state, |w, st| {
            w.block(node.child_by_field_name("body"), st);
        });
        if let Some(name) = node.child_by_field_name("name") {
            self.bind(name, state, &BindSite::Class);
        }
    }

    fn lambda(&mut self, node: Node<'t>, state: &mut State) {
        if let Some(params) = node.child_by_field_name("parameters") {
            self.parameter_exprs(params, state, false);
        }
        let info = ScopeInfo::of(node, self.src);
        self.nested_body(ScopeKind::Function, info, state, |w, st| {
            w.field_expr(node, "body", st);
        });
    }

    /// Walks a def/lambda/class body on a copy of the state (its control flow and bindings are
    /// its own) with a fresh loop stack (its `break`s belong to its own loops).
    fn nested_body(
        &mut self,
        kind: ScopeKind,
        info: ScopeInfo,
        state: &State,
        body: impl FnOnce(&mut Self, &mut State),
    ) {
        let mut inner = state.clone();
        let saved_loops = std::mem::take(&mut self.loops);
        self.nested.push(Nested { kind, info });
        body(self, &mut inner);
        self.nested.pop();
        self.loops = saved_loops;
    }

    /// Reads in a parameter list evaluated at definition time: defaults and (for `def`)
    /// annotations.
    fn parameter_exprs(&mut self, params: Node<'t>, state: &mut State, annotations: bool) {
        for p in named_children(params) {
            self.field_expr(p, "value", state);
            if annotations {
                self.field_expr(p, "type", state);
            }
        }
    }

    /// The first iterable runs in this scope; targets are local to the comprehension; the rest
    /// runs inside it, but walrus still binds out here, so the real state is used.
    fn comprehension(&mut self, node: Node<'t>, state: &mut State) {
        let clauses: Vec<Node<'t>> =
            named_children(node).into_iter().filter(|c| matches!(c.kind(), "for_in_clause" | "if_clause")).collect();
        let mut locals = Vec::new();
        for c in &clauses {
            if let Some(left) = c.child_by_field_name("left") {
                target_names(left, self.src, &mut locals);
            }
        }
        // The grammar always starts a comprehension with a for_in_clause.
        if let Some(first) = clauses.first() {
            self.field_expr(*first, "right", state);
        }
        let info = ScopeInfo { bindings: locals.into_iter().map(|n| (n, vec![0])).collect(), ..ScopeInfo::default() };
        self.nested.push(Nested { kind: ScopeKind::Comprehension, info });
        for (i, c) in clauses.iter().enumerate() {
            if c.kind() == "for_in_clause" {
                if i > 0 {
                    self.field_expr(*c, "right", state);
                }
                if let Some(left) = c.child_by_field_name("left") {
                    self.bind_target(left, state, &BindSite::Other);
                }
            } else {
                self.children(*c, state);
            }
        }
        self.field_expr(node, "body", state);
        self.nested.pop();
    }

    // --- expressions -------------------------------------------------------------------------

    fn children(&mut self, node: Node<'t>, state: &mut State) {
        for c in named_children(node) {
            self.expr(c, state);
        }
    }

    fn field_expr(&mut self, node: Node<'t>, field: &str, state: &mut State) {
        for c in field_all(node, field) {
            self.expr(c, state);
        }
    }

    fn expr(&mut self, node: Node<'t>, state: &mut State) {
        match node.kind() {
            "identifier" => {
                let name = self.name(node);
                self.read_name(&name, node, state);
            }
            // `a.b` reads only `a`; `f(x=1)` does not read `x`.
            "attribute" => self.field_expr(node, "object", state),
            "keyword_argument" => self.field_expr(node, "value", state),
            // `a.B` in an annotation.
            "member_type" => {
                if let Some(first) = node.named_child(0) {
                    self.expr(first, state);
                }
            }
            "assignment" => self.assignment(node, state),
            "augmented_assignment" => self.augmented_assignment(node, state),
            "named_expression" => {
                self.field_expr(node, "value", state);
                if let Some(name) = node.child_by_field_name("name") {
                    self.walrus_bind(name, state);
                }
            }
            "lambda" => self.lambda(node, state),
            "list_comprehension" | "set_comprehension" | "dictionary_comprehension" | "generator_expression" => {
                self.comprehension(node, state)
            }
            "await" => {
                self.hazard(HazardKind::Await, node);
                self.children(node, state);
            }
            "yield" => {
                self.hazard(HazardKind::Yield, node);
                self.children(node, state);
            }
            // `with x as y` / `except E as e` items.
            "as_pattern" => {
                if let Some(value) = node.named_child(0) {
                    self.expr(value, state);
                }
                if let Some(alias) = node.child_by_field_name("alias") {
                    self.bind_target(alias, state, &BindSite::Other);
                }
            }
            "comment" | "string_content" | "type_conversion" | "type_parameter" => {}
            _ => self.children(node, state),
        }
    }

    /// `a = b = value`, `x: T = value`, `x: T`. The value runs first, then targets left to right.
    fn assignment(&mut self, node: Node<'t>, state: &mut State) {
        let mut targets = Vec::new();
        let mut cur = Some(node);
        let mut value = None;
        while let Some(n) = cur {
            if n.kind() != "assignment" {
                value = Some(n);
                break;
            }
            if let Some(left) = n.child_by_field_name("left") {
                targets.push(left);
            }
            // Annotations count as reads: they name things the moved code must still resolve.
            self.field_expr(n, "type", state);
            cur = n.child_by_field_name("right");
        }
        match value {
            Some(v) => {
                self.expr(v, state);
                for t in targets {
                    self.bind_target(t, state, &BindSite::Other);
                }
            }
            None => {
                // `x: int` declares `x` local without binding it.
                for t in targets {
                    if t.kind() == "identifier" {
                        if self.nested.is_empty() {
                            let name = self.name(t);
                            self.sink.declare(&name, Decl::Local, t);
                        }
                    } else {
                        self.bind_target_reads(t, state);
                    }
                }
            }
        }
    }

    /// `x += v` reads `x`, evaluates `v`, then binds `x`.
    fn augmented_assignment(&mut self, node: Node<'t>, state: &mut State) {
        let left = node.child_by_field_name("left");
        if let Some(l) = left {
            self.expr(l, state);
        }
        self.field_expr(node, "right", state);
        if let Some(l) = left.filter(|l| l.kind() == "identifier") {
            self.bind(l, state, &BindSite::Other);
        }
    }

    fn bind_target(&mut self, node: Node<'t>, state: &mut State, site: &BindSite) {
        match node.kind() {
            "identifier" => self.bind(node, state, site),
            // `a.b = v` / `a[i] = v` bind nothing and read `a` (and `i`).
            "attribute" | "subscript" => self.expr(node, state),
            "comment" => {}
            _ => {
                for c in named_children(node) {
                    self.bind_target(c, state, site);
                }
            }
        }
    }

    /// The reads inside a target that is not assigned (annotation-only attribute targets).
    fn bind_target_reads(&mut self, node: Node<'t>, state: &mut State) {
        if matches!(node.kind(), "attribute" | "subscript") {
            self.expr(node, state);
        }
    }

    /// `del x` needs `x` bound (a use) and then unbinds it.
    fn del_target(&mut self, node: Node<'t>, state: &mut State) {
        match node.kind() {
            "identifier" => {
                self.expr(node, state);
                self.unbind(node, state, true);
            }
            "tuple" | "list" | "expression_list" | "parenthesized_expression" => {
                for c in named_children(node) {
                    self.del_target(c, state);
                }
            }
            _ => self.expr(node, state),
        }
    }

    // --- code after the range ----------------------------------------------------------------

    /// Walks, in execution order, the code of `scope` that can run after statement `last` of
    /// `block`: the rest of each enclosing block, the next iterations of enclosing loops,
    /// handlers/else/finally of enclosing `try`s, and so on up to the end of the scope.
    fn after_range(&mut self, block: Node<'t>, last: usize, scope: Node<'t>, state: &mut State) {
        // Every loop around the range gets its context up front, so that a `break` in the code
        // after the range finds its loop.
        for _ in enclosing_loops(block, scope) {
            self.loops.push(LoopCtx::default());
        }
        let mut block = block;
        let mut next = last + 1;
        loop {
            let level_start = state.clone();
            let stmts = statements(block);
            self.stmts(stmts.get(next..).unwrap_or(&[]), state);
            let Some(compound) = self.leave_block(block, &level_start, state) else {
                return;
            };
            let Some(parent) = compound.parent() else {
                return;
            };
            next = statements(parent).iter().position(|s| *s == compound).map_or(usize::MAX, |i| i + 1);
            block = parent;
        }
    }

    /// Runs what follows the end of `block` inside its compound statement and returns that
    /// statement, or `None` at the end of the scope.
    fn leave_block(&mut self, block: Node<'t>, level_start: &State, state: &mut State) -> Option<Node<'t>> {
        if block.kind() != "block" {
            return None;
        }
        let owner = block.parent()?;
        let owner_parent = owner.parent();
        match owner.kind() {
            "if_statement" | "with_statement" => Some(owner),
            "elif_clause" => owner_parent,
            "for_statement" | "while_statement" => {
                self.next_iterations(owner, state);
                Some(owner)
            }
            "else_clause" => {
                let stmt = owner_parent?;
                if stmt.kind() == "try_statement" {
                    self.try_finally(stmt, state);
                }
                Some(stmt)
            }
            "try_statement" => {
                self.try_rest(owner, level_start, state);
                Some(owner)
            }
            "except_clause" | "finally_clause" => {
                let stmt = owner_parent?;
                if owner.kind() == "except_clause" {
                    self.try_finally(stmt, state);
                }
                Some(stmt)
            }
            // case_clause -> match body block -> match_statement
            "case_clause" => owner_parent.and_then(|b| b.parent()),
            _ => None,
        }
    }

    fn try_finally(&mut self, try_node: Node<'t>, state: &mut State) {
        for c in named_children(try_node) {
            if c.kind() == "finally_clause" {
                self.finally_clause(c, state);
            }
        }
    }

    /// The range sits in this loop's body: the loop may go round again (re-running the whole
    /// body, including the range), then exits through `else` or `break`.
    fn next_iterations(&mut self, node: Node<'t>, state: &mut State) {
        let outer = self.loops.pop().unwrap_or_default();
        let head = State::join_all(&*state, &outer.continues);
        let mut head_after_test = head.clone();
        self.field_expr(node, "condition", &mut head_after_test);
        let mut rest = head_after_test.clone();
        self.loop_body(node, &mut rest);
        // `loop_body` already merged a second pass; add the breaks seen before it.
        *state = State::join_all(&rest, &outer.breaks);
    }
}

/// `for`/`while` statements whose body contains `block`, outermost first, up to `scope`.
fn enclosing_loops<'t>(block: Node<'t>, scope: Node<'t>) -> Vec<Node<'t>> {
    let mut loops = Vec::new();
    let mut cur = block;
    while cur != scope {
        let Some(parent) = cur.parent() else { break };
        if matches!(parent.kind(), "for_statement" | "while_statement")
            && parent.child_by_field_name("body") == Some(cur)
        {
            loops.push(parent);
        }
        cur = parent;
    }
    loops.reverse();
    loops
}

// ---------------------------------------------------------------------------------------------
// Scope information
// ---------------------------------------------------------------------------------------------

/// The names a scope owns, found by walking its body with a [`CollectSink`].
#[derive(Debug, Default, Clone)]
struct ScopeInfo {
    params: HashSet<String>,
    /// Every binding's byte offsets by name (dead code included: scoping is static); by name
    /// because a module of n functions is asked about its names n times.
    bindings: HashMap<String, Vec<usize>>,
    /// `x: int` without a value.
    declared: HashSet<String>,
    globals: HashSet<String>,
    nonlocals: HashSet<String>,
}

impl ScopeInfo {
    /// Collects the names of a function, lambda, class or module node.
    fn of(node: Node<'_>, src: &[u8]) -> ScopeInfo {
        let mut sink = CollectSink::default();
        let mut state = State::default();
        let mut params = HashSet::new();
        {
            let mut walker = Walker::new(src, &mut sink, Mode::Collect);
            match node.kind() {
                "function_definition" | "class_definition" => {
                    walker.block(node.child_by_field_name("body"), &mut state)
                }
                "lambda" => walker.field_expr(node, "body", &mut state),
                _ => walker.stmts(&statements(node), &mut state),
            }
        }
        if let Some(p) = node.child_by_field_name("parameters") {
            params.extend(parameter_names(p, src));
        }
        ScopeInfo {
            params,
            bindings: sink.bindings,
            declared: sink.declared,
            globals: sink.globals,
            nonlocals: sink.nonlocals,
        }
    }

    fn is_local(&self, name: &str) -> bool {
        if self.globals.contains(name) || self.nonlocals.contains(name) {
            return false;
        }
        self.params.contains(name) || self.declared.contains(name) || self.bindings.contains_key(name)
    }

    fn bound_outside(&self, name: &str, range: &Range<usize>) -> bool {
        self.params.contains(name) || self.bindings.get(name).is_some_and(|at| at.iter().any(|at| !range.contains(at)))
    }
}

#[derive(Default)]
struct CollectSink {
    bindings: HashMap<String, Vec<usize>>,
    declared: HashSet<String>,
    globals: HashSet<String>,
    nonlocals: HashSet<String>,
}

impl<'t> Sink<'t> for CollectSink {
    fn bind(&mut self, name: &str, node: Node<'t>, _site: &BindSite) {
        self.bindings.entry(name.to_string()).or_default().push(node.start_byte());
    }

    fn declare(&mut self, name: &str, decl: Decl, _node: Node<'t>) {
        let set = match decl {
            Decl::Global => &mut self.globals,
            Decl::Nonlocal => &mut self.nonlocals,
            Decl::Local => &mut self.declared,
        };
        set.insert(name.to_string());
    }
}

/// Where a name read by the range gets its value from.
enum Origin {
    Input,
    Module,
}

/// Resolves names read in the range against the analysed scope, enclosing functions and module.
struct Resolver<'m> {
    scope: std::borrow::Cow<'m, ScopeInfo>,
    scope_is_module: bool,
    /// Enclosing function scopes, innermost first (class bodies are invisible to methods).
    enclosing: Vec<ScopeInfo>,
    module: &'m ScopeInfo,
    range_bytes: Range<usize>,
}

impl<'m> Resolver<'m> {
    fn new(module: &'m ModuleScope, src: &[u8], scope: Node<'_>, range_bytes: Range<usize>) -> Resolver<'m> {
        let mut enclosing = Vec::new();
        let mut cur = scope.parent();
        while let Some(n) = cur {
            if n.kind() == "function_definition" {
                enclosing.push(ScopeInfo::of(n, src));
            }
            cur = n.parent();
        }
        let scope_is_module = scope.kind() == "module";
        Resolver {
            scope: if scope_is_module {
                std::borrow::Cow::Borrowed(&module.0)
            } else {
                std::borrow::Cow::Owned(ScopeInfo::of(scope, src))
            },
            scope_is_module,
            enclosing,
            module: &module.0,
            range_bytes,
        }
    }

    /// `None` for builtins, unknown names, and locals bound only inside the range.
    fn origin(&self, name: &str, declared_global: bool) -> Option<Origin> {
        if declared_global || self.scope.globals.contains(name) {
            return Some(Origin::Module);
        }
        if self.scope_is_module {
            return self.module.bound_outside(name, &self.range_bytes).then_some(Origin::Module);
        }
        if self.scope.nonlocals.contains(name) {
            return Some(Origin::Input);
        }
        if self.scope.is_local(name) {
            return self.scope.bound_outside(name, &self.range_bytes).then_some(Origin::Input);
        }
        for outer in &self.enclosing {
            if outer.globals.contains(name) {
                return Some(Origin::Module);
            }
            if outer.is_local(name) {
                return Some(Origin::Input);
            }
        }
        self.module.is_local(name).then_some(Origin::Module)
    }
}

// ---------------------------------------------------------------------------------------------
// Sinks for analyse_range and module_bindings
// ---------------------------------------------------------------------------------------------

struct RangeSink<'r> {
    resolver: &'r Resolver<'r>,
    watched: &'r [&'r str],
    classified: HashSet<String>,
    inputs: Vec<String>,
    module_names: Vec<String>,
    /// Names bound in the range, in order of first binding.
    bind_order: Vec<String>,
    hazards: Vec<Hazard>,
}

impl<'r> RangeSink<'r> {
    fn new(resolver: &'r Resolver<'r>, watched: &'r [&'r str]) -> Self {
        RangeSink {
            resolver,
            watched,
            classified: HashSet::new(),
            inputs: Vec::new(),
            module_names: Vec::new(),
            bind_order: Vec::new(),
            hazards: Vec::new(),
        }
    }

    fn rebinds(&mut self, name: &str, node: Node<'_>) {
        if self.watched.contains(&name) {
            self.hazard(HazardKind::Rebinds(name.to_string()), node);
        }
    }
}

impl<'t> Sink<'t> for RangeSink<'_> {
    fn read(&mut self, name: &str, global: bool, state: &State, _at: ReadAt<'t>) {
        if state.dead || state.must.contains(name) || self.classified.contains(name) {
            return;
        }
        match self.resolver.origin(name, global) {
            Some(Origin::Input) => self.inputs.push(name.to_string()),
            Some(Origin::Module) => self.module_names.push(name.to_string()),
            None => return,
        }
        self.classified.insert(name.to_string());
    }

    fn bind(&mut self, name: &str, node: Node<'t>, _site: &BindSite) {
        if !self.bind_order.iter().any(|n| n == name) {
            self.bind_order.push(name.to_string());
        }
        self.rebinds(name, node);
    }

    fn delete(&mut self, name: &str, node: Node<'t>) {
        self.rebinds(name, node);
    }

    fn hazard(&mut self, kind: HazardKind, node: Node<'t>) {
        self.hazards.push(Hazard { kind, byte_range: node.byte_range(), line: node.start_position().row + 1 });
    }
}

/// Records which of the range's bindings are read after it before being re-bound.
struct AfterSink {
    candidates: HashSet<String>,
    used: HashSet<String>,
}

impl<'t> Sink<'t> for AfterSink {
    fn read(&mut self, name: &str, global: bool, state: &State, _at: ReadAt<'t>) {
        if !global && !state.dead && !state.must.contains(name) && self.candidates.contains(name) {
            self.used.insert(name.to_string());
        }
    }
}

#[derive(Default)]
struct ModuleSink {
    out: Vec<ModuleBinding>,
}

impl<'t> Sink<'t> for ModuleSink {
    fn bind(&mut self, name: &str, node: Node<'t>, site: &BindSite) {
        let kind = match site {
            BindSite::Import { module, imported, level } => {
                BindingKind::Import { module: module.clone(), imported: imported.clone(), level: *level }
            }
            BindSite::Function => BindingKind::Function,
            BindSite::Class => BindingKind::Class,
            BindSite::Other => BindingKind::Assignment,
            BindSite::ExceptAlias => return,
        };
        self.push(name, kind, node);
    }

    fn declare(&mut self, name: &str, decl: Decl, node: Node<'t>) {
        if decl == Decl::Local {
            self.push(name, BindingKind::Assignment, node);
        }
    }
}

impl ModuleSink {
    fn push(&mut self, name: &str, kind: BindingKind, node: Node<'_>) {
        self.out.push(ModuleBinding { name: name.to_string(), kind, stmt_byte_range: statement_of(node).byte_range() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unbound(src: &str) -> Vec<(Option<String>, String, bool)> {
        let tree = parse(src);
        unbound_reads(&tree, src.as_bytes()).into_iter().map(|(o, r)| (o, r.name, r.before_assignment)).collect()
    }

    #[test]
    fn a_keyword_argument_name_binds_nothing() {
        let src = "def f(q):\n    if not q:\n        return Page(total=0)\n    return total\n\nclass Page:\n    pass\n";
        assert_eq!(unbound(src), vec![(Some("f".into()), "total".into(), false)]);
    }

    #[test]
    fn a_local_read_before_its_assignment_is_reported_outside_loops_only() {
        let src = "def f():\n    x = y + 1\n    y = 2\n    return x\n\ndef g(items):\n    for i in items:\n        if i:\n            print(last)\n        last = i\n";
        assert_eq!(unbound(src), vec![(Some("f".into()), "y".into(), true)]);
    }

    #[test]
    fn builtins_module_names_enclosing_scopes_and_star_imports_bind() {
        let src = "import os\nLIMIT = 3\n\ndef outer(a):\n    def inner():\n        return len(os.sep) + LIMIT + a + __name__.count('x')\n    return inner\n";
        assert!(unbound(src).is_empty(), "{:?}", unbound(src));
        assert!(unbound("from m import *\n\ndef f():\n    return anything\n").is_empty());
    }

    fn parse(src: &str) -> Tree {
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&tree_sitter_python::LANGUAGE.into()).expect("grammar loads");
        parser.parse(src, None).expect("parse succeeds")
    }

    /// The outermost statement starting on 0-based `row`.
    fn statement_at(node: Node<'_>, row: usize) -> Option<Node<'_>> {
        let is_stmt = node.parent().is_some_and(|p| matches!(p.kind(), "block" | "module")) && node.kind() != "comment";
        if is_stmt && node.start_position().row == row {
            return Some(node);
        }
        named_children(node).into_iter().find_map(|c| statement_at(c, row))
    }

    /// The range runs from the statement on the first line marked `#{` to the sibling statement
    /// containing the next line marked `#}` (a single-statement range is marked `#{}`).
    fn marked_range<'t>(tree: &'t Tree, src: &str) -> StatementRange<'t> {
        let lines: Vec<&str> = src.lines().collect();
        let start = lines.iter().position(|l| l.contains("#{")).expect("start marker");
        let end =
            (start..lines.len()).find(|&i| lines[i].contains("#}") || lines[i].contains("#{}")).expect("end marker");
        let first = statement_at(tree.root_node(), start).expect("statement at start marker");
        let block = first.parent().expect("statement has a block");
        let stmts = statements(block);
        let contains_end = |s: &Node| s.start_position().row <= end && end <= s.end_position().row;
        StatementRange {
            block,
            first: stmts.iter().position(|s| *s == first).expect("first in block"),
            last: stmts.iter().position(contains_end).expect("last in block"),
        }
    }

    fn analyse_watched(src: &str, watched: &[&str]) -> RangeFlow {
        let tree = parse(src);
        let range = marked_range(&tree, src);
        analyse_range(&tree, src.as_bytes(), &range, watched)
    }

    fn analyse(src: &str) -> RangeFlow {
        analyse_watched(src, &[])
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn assert_flow(flow: &RangeFlow, inputs: &[&str], outputs: &[&str], module: &[&str]) {
        assert_eq!(flow.inputs, names(inputs), "inputs");
        assert_eq!(flow.outputs, names(outputs), "outputs");
        assert_eq!(flow.module_names, names(module), "module_names");
    }

    fn kinds(flow: &RangeFlow) -> Vec<(HazardKind, usize)> {
        flow.hazards.iter().map(|h| (h.kind.clone(), h.line)).collect()
    }

    #[test]
    fn parameters_of_every_form_are_inputs() {
        let src = "\
import os
def f(a, b=1, *args, c: int = 2, **kw):
    d = 3
    total = a + b + d + len(args) + c + kw['k'] + os.sep #{}
    return total
";
        let flow = analyse(src);
        assert_flow(&flow, &["a", "b", "d", "args", "c", "kw"], &["total"], &["os"]);
        assert!(flow.hazards.is_empty());
    }

    #[test]
    fn name_assigned_earlier_in_range_is_not_input() {
        let src = "\
def f(a):
    x = a #{
    y = x + 1 #}
    return y
";
        assert_flow(&analyse(src), &["a"], &["y"], &[]);
    }

    #[test]
    fn augmented_assignment_reads_and_writes() {
        let src = "\
def f(n, step):
    n += step #{}
    return n
";
        assert_flow(&analyse(src), &["n", "step"], &["n"], &[]);
    }

    #[test]
    fn annotated_assignment_with_and_without_value() {
        let src = "\
class MyType: pass
def f(a):
    x: MyType = a #{
    y: int #}
    return x, y
";
        // `y: int` makes y local but binds nothing, so it is not an output.
        assert_flow(&analyse(src), &["a"], &["x"], &["MyType"]);
    }

    #[test]
    fn tuple_list_and_star_targets() {
        let src = "\
def f(data):
    a, [b, *c] = data #{}
    return b + c
";
        assert_flow(&analyse(src), &["data"], &["b", "c"], &[]);
    }

    #[test]
    fn attribute_and_subscript_targets_read_and_bind_nothing() {
        let src = "\
def f(obj, items, i):
    obj.attr = 1 #{
    items[i] = obj #}
    return obj, items
";
        assert_flow(&analyse(src), &["obj", "items", "i"], &[], &[]);
    }

    #[test]
    fn for_and_with_targets_are_bindings() {
        let src = "\
def f(pairs, p):
    for k, v in pairs: #{
        last = v
    with open(p) as fh:
        data = fh.read() #}
    return k, last, data
";
        // `open` is a builtin; `v` and `fh` are bound but not read afterwards.
        assert_flow(&analyse(src), &["pairs", "p"], &["k", "last", "data"], &[]);
    }

    #[test]
    fn except_alias_is_unbound_after_handler() {
        let src = "\
import logging
def f(s):
    try: #{
        v = int(s)
    except (ValueError, TypeError) as err:
        v = None
        msg = str(err)
        logging.warning(msg) #}
    return v, err, msg
";
        let flow = analyse(src);
        // `err` is deleted at the end of the handler; `msg` only on the error path but still may flow out.
        assert_flow(&flow, &["s"], &["v", "msg"], &["logging"]);
    }

    #[test]
    fn walrus_in_comprehension_binds_in_function() {
        let src = "\
def check(v): return v
def f(xs, x):
    vals = [y for x in xs if (y := check(x))] #{}
    return vals, y, x
";
        // The comprehension's `x` is its own: not an input, not an output.
        assert_flow(&analyse(src), &["xs"], &["y", "vals"], &["check"]);
    }

    #[test]
    fn comprehension_targets_do_not_leak_and_first_iterable_is_outer() {
        let src = "\
def f(x, k, n, rows):
    squares = [x * k for x in range(n)] #{
    flat = {c: r for r in rows for c in r} #}
    return x, squares, flat, c
";
        assert_flow(&analyse(src), &["n", "k", "rows"], &["squares", "flat"], &[]);
    }

    #[test]
    fn imports_inside_range_bind_names() {
        let src = "\
def f():
    import json #{
    from os import path as p
    import a.b #}
    return json, p, a
";
        assert_flow(&analyse(src), &[], &["json", "p", "a"], &[]);
    }

    #[test]
    fn del_unbinds_and_counts_as_use() {
        let src = "\
def f(x):
    tmp = x #{
    del tmp
    del x
    cache = {} #}
    print(tmp)
    del cache
";
        // `tmp` was deleted in the range; `del cache` after the range needs it bound.
        assert_flow(&analyse(src), &["x"], &["cache"], &[]);
    }

    #[test]
    fn local_shadowing_module_name_is_local() {
        let src = "\
config = {}
def use(c): return c
def f():
    config = {'local': 1}
    use(config) #{}
def g():
    config = {} #{
    use(config) #}
";
        // The first marked statement is the range; g's markers are ignored by the helper.
        let flow = analyse(src);
        assert_flow(&flow, &["config"], &[], &["use"]);
        let src2 = "\
config = {}
def use(c): return c
def g():
    config = {} #{
    use(config) #}
";
        assert_flow(&analyse(src2), &[], &[], &["use"]);
    }

    #[test]
    fn nonlocal_names_are_inputs_and_declarations_are_hazards() {
        let src = "\
def outer():
    count = 0
    def inner(step):
        nonlocal count
        count += step #{}
    return inner
";
        let flow = analyse(src);
        assert_flow(&flow, &["count", "step"], &[], &[]);
        assert!(flow.hazards.is_empty());

        let src = "\
def outer():
    total = 0
    def inner():
        nonlocal total #{
        total = 1 #}
    def later():
        nonlocal total #{}
        total += 1
    return total
";
        let flow = analyse(src);
        assert_eq!(kinds(&flow), vec![(HazardKind::Nonlocal, 4)]);
    }

    #[test]
    fn nonlocal_in_nested_def_reaching_range_scope_is_hazard() {
        let src = "\
def f():
    total = 0
    def bump(): #{
        nonlocal total
        total += 1
    bump() #}
    return total
";
        let flow = analyse(src);
        assert_eq!(kinds(&flow), vec![(HazardKind::Nonlocal, 4)]);
        assert_flow(&flow, &["total"], &[], &[]);
    }

    #[test]
    fn global_declaration_is_hazard_and_module_read() {
        let src = "\
counter = 0
def f():
    global counter #{
    counter += 1 #}
    return counter
";
        let flow = analyse(src);
        assert_flow(&flow, &[], &[], &["counter"]);
        assert_eq!(kinds(&flow), vec![(HazardKind::Global, 3)]);
    }

    #[test]
    fn control_flow_hazards() {
        let src = "\
def f(items):
    for it in items:
        if it: #{
            continue
        for j in it:
            if j:
                break
        yield it
        if not it:
            return None #}
";
        let flow = analyse(src);
        assert_eq!(
            kinds(&flow),
            vec![(HazardKind::BreakOrContinue, 4), (HazardKind::Yield, 8), (HazardKind::Return, 10),]
        );
    }

    #[test]
    fn await_and_async_statements_are_hazards() {
        let src = "\
async def f(session, lock, stream, fetch):
    async with lock: #{
        r = await fetch(session)
    async for chunk in stream:
        pass
    async def helper():
        await fetch(1) #}
";
        let flow = analyse(src);
        assert_eq!(kinds(&flow), vec![(HazardKind::Await, 2), (HazardKind::Await, 3), (HazardKind::Await, 4)]);
        assert_flow(&flow, &["lock", "fetch", "session", "stream"], &[], &[]);
    }

    #[test]
    fn rebinding_watched_name_is_hazard() {
        let src = "\
def f(session, db):
    session = db.open() #{
    other = session
    del other #}
    return session
";
        let flow = analyse_watched(src, &["session", "other"]);
        assert_eq!(
            kinds(&flow),
            vec![
                (HazardKind::Rebinds("session".into()), 2),
                (HazardKind::Rebinds("other".into()), 3),
                (HazardKind::Rebinds("other".into()), 4),
            ]
        );
        assert_flow(&flow, &["db"], &["session"], &[]);
    }

    #[test]
    fn return_inside_nested_def_is_not_hazard() {
        let src = "\
def f(base):
    def helper(y): #{
        z = y + base
        return z
    key = lambda item: item[base] #}
    return helper, key, z
";
        let flow = analyse(src);
        assert!(flow.hazards.is_empty());
        // `z` and `y`/`item` belong to the nested scopes.
        assert_flow(&flow, &["base"], &["helper", "key"], &[]);
    }

    #[test]
    fn conditional_binding_is_output() {
        let src = "\
def f(c):
    if c: #{
        result = 1 #}
    return result
";
        assert_flow(&analyse(src), &["c"], &["result"], &[]);
    }

    #[test]
    fn rebound_after_range_before_read_is_not_output() {
        let src = "\
def f(c):
    x = 1 #{
    y = 2 #}
    x = 3
    if c:
        y = 4
    return x + y
";
        // `x` is re-bound on every path; `y` only on one.
        assert_flow(&analyse(src), &[], &["y"], &[]);
    }

    #[test]
    fn loop_carried_value_is_output() {
        let src = "\
def f(xs):
    total = 0
    for i in xs:
        print(total)
        total = total + i #{}
";
        assert_flow(&analyse(src), &["total", "i"], &["total"], &[]);
    }

    #[test]
    fn read_in_later_iteration_before_rebinding_in_loop() {
        let src = "\
def f(xs):
    for i in xs:
        prev = i #{}
    return prev
";
        assert_flow(&analyse(src), &["i"], &["prev"], &[]);
        let src = "\
def f(xs):
    for i in xs:
        cur = i #{}
        print(cur)
    cur = 0
    return cur
";
        assert_flow(&analyse(src), &["i"], &["cur"], &[]);
    }

    #[test]
    fn nested_class_reads_free_names() {
        let src = "\
class Base: pass
def f(value, other):
    class Local(Base): #{
        attr = value
        def m(self):
            return attr, other #}
    return Local
";
        // Methods do not see class-level names: `attr` in `m` is a (global) lookup of nothing.
        assert_flow(&analyse(src), &["value", "other"], &["Local"], &["Base"]);
    }

    #[test]
    fn decorators_and_defaults_are_read_at_definition() {
        let src = "\
def register(n): return lambda fn: fn
def f(name, default):
    @register(name) #{
    def g(x=default, *, y: int = 0) -> int:
        return x + y #}
    return g
";
        assert_flow(&analyse(src), &["name", "default"], &["g"], &["register"]);
    }

    #[test]
    fn fstrings_keyword_arguments_and_attributes() {
        let src = "\
def show(**kw): pass
def f(user, count, width, obj, x):
    show(x=f'{user!r} has {count:>{width}} things, also {obj.attr}') #{}
";
        assert_flow(&analyse(src), &["user", "count", "width", "obj"], &[], &["show"]);
    }

    #[test]
    fn builtins_are_neither_inputs_nor_module_names() {
        let src = "\
def f(items):
    n = len(list(items)) #{
    if n > 3:
        raise ValueError(n) #}
";
        assert_flow(&analyse(src), &["items"], &[], &[]);
    }

    #[test]
    fn module_level_builtin_shadow_is_module_name() {
        let src = "\
def len(x): return 0
def f(items):
    return len(items) #{}
";
        let flow = analyse(src);
        assert_flow(&flow, &["items"], &[], &["len"]);
        assert_eq!(kinds(&flow), vec![(HazardKind::Return, 3)]);
    }

    #[test]
    fn match_case_captures_bind() {
        let src = "\
import enum
class Color(enum.Enum):
    RED = 1
def f(cmd):
    match cmd: #{
        case {'k': Color.RED, **extra}:
            out = extra
        case [first, *rest] if first:
            out = rest
        case str() as s:
            out = s
        case other: #}
            out = other
    return out
";
        assert_flow(&analyse(src), &["cmd"], &["out"], &["Color"]);
    }

    #[test]
    fn module_level_range() {
        let src = "\
import sys
def load(): return {}
config = load()
value = config.get(sys.argv[0]) #{}
print(value)
";
        assert_flow(&analyse(src), &[], &["value"], &["config", "sys"]);
    }

    #[test]
    fn closure_variable_of_enclosing_function_is_input() {
        let src = "\
def outer(scale):
    def inner(v):
        return v * scale #{}
    return inner
";
        assert_flow(&analyse(src), &["v", "scale"], &[], &[]);
    }

    #[test]
    fn break_in_range_loop_is_not_hazard_and_may_binding_flows_out() {
        let src = "\
def f(xs):
    while xs: #{
        found = xs.pop()
        break #}
    return found
";
        let flow = analyse(src);
        assert!(flow.hazards.is_empty());
        assert_flow(&flow, &["xs"], &["found"], &[]);
    }

    #[test]
    fn try_finally_after_range_reads_output() {
        let src = "\
def f(path):
    try:
        handle = open(path) #{}
        handle.read()
    finally:
        handle.close()
";
        assert_flow(&analyse(src), &["path"], &["handle"], &[]);
    }

    #[test]
    fn comments_are_ignored() {
        let src = "\
def f(a):
    # a comment mentioning b
    x = a  # trailing #{}
    return x
";
        let tree = parse(src);
        let range = marked_range(&tree, src);
        assert_eq!(range.first, 0);
        assert_flow(&analyse(src), &["a"], &["x"], &[]);
    }

    #[test]
    fn invalid_range_is_empty() {
        let src = "x = 1\n";
        let tree = parse(src);
        let range = StatementRange { block: tree.root_node(), first: 0, last: 5 };
        assert_eq!(analyse_range(&tree, src.as_bytes(), &range, &[]), RangeFlow::default());
    }

    #[test]
    fn module_bindings_cover_all_forms() {
        let src = "\
import a.b.c
import numpy as np, os
from ..pkg.mod import y as z, w
from . import q
from m import *
x, (y2, *ys) = 1, (2, 3)
ann: int = 1
decl: str
@dec
def fn(): pass
class K: pass
try:
    import json
except ImportError as err:
    json = None
";
        let tree = parse(src);
        let got: Vec<(String, BindingKind, String)> = module_bindings(&tree, src.as_bytes())
            .into_iter()
            .map(|b| {
                let stmt = src[b.stmt_byte_range.clone()].lines().next().unwrap_or("").to_string();
                (b.name, b.kind, stmt)
            })
            .collect();
        let imp = |m: &str, i: Option<&str>, level: usize| BindingKind::Import {
            module: m.into(),
            imported: i.map(Into::into),
            level,
        };
        let want = vec![
            ("a", imp("a.b.c", None, 0), "import a.b.c"),
            ("np", imp("numpy", None, 0), "import numpy as np, os"),
            ("os", imp("os", None, 0), "import numpy as np, os"),
            ("z", imp("pkg.mod", Some("y"), 2), "from ..pkg.mod import y as z, w"),
            ("w", imp("pkg.mod", Some("w"), 2), "from ..pkg.mod import y as z, w"),
            ("q", imp("", Some("q"), 1), "from . import q"),
            ("x", BindingKind::Assignment, "x, (y2, *ys) = 1, (2, 3)"),
            ("y2", BindingKind::Assignment, "x, (y2, *ys) = 1, (2, 3)"),
            ("ys", BindingKind::Assignment, "x, (y2, *ys) = 1, (2, 3)"),
            ("ann", BindingKind::Assignment, "ann: int = 1"),
            ("decl", BindingKind::Assignment, "decl: str"),
            ("fn", BindingKind::Function, "@dec"),
            ("K", BindingKind::Class, "class K: pass"),
            ("json", imp("json", None, 0), "import json"),
            ("json", BindingKind::Assignment, "json = None"),
        ];
        let want: Vec<(String, BindingKind, String)> =
            want.into_iter().map(|(n, k, s)| (n.to_string(), k, s.to_string())).collect();
        assert_eq!(got, want);
    }
}
