#!/usr/bin/env python3
"""Independent meaning checker for a backend rewritten by strata (the test oracle).

Usage:
    python3 tests/audit_migration.py ROOT [--import-root backend] [--files F1 F2 ...]
                                          [--json] [--check-external]

strata's guarantee that "every changed file still parses" is necessary but not sufficient
(docs/design.md §4, "Guarantees of every rewrite": it parses, and it means something): a
registration written as ``registry: T.register(...)`` compiles and never runs, an import of a
module that does not exist compiles, a name bound only as a keyword argument compiles. This
script looks at the *result* of a rewrite and checks what the code means, using nothing but
CPython's own ``compile``/``ast`` and a file-system view of the import roots. It shares no
code, no parser (strata uses tree-sitter) and no rule definitions with strata, so a bug in
strata's analysis cannot hide itself here.

Checks (the ``check`` ids):

``syntax``
    the file compiles as ``compile(src, path, "exec")`` would: parsed, then compiled, so the
    symbol-table and compiler errors (``nonlocal`` at module level, ``return`` outside a
    function, ``await`` outside ``async def``) are caught too.
``unbound-name``
    every name read is bound: a local of its scope, a name of an enclosing function scope,
    a module-level binding or a builtin (Python's own scoping rules: class bodies are not
    visible from their methods, comprehensions have their own scope, keyword-argument and
    attribute names bind nothing). Also the certain UnboundLocalError: a local read in a
    top-level statement of a function strictly before the first statement that assigns it.
    Annotations count only where CPython evaluates them. A module with ``from x import *``
    is skipped.
``unresolved-import``
    every import whose top-level package is a project package (a module or directory
    directly under an import root), and every relative import, resolves to a file under an
    import root, and every imported name is bound at the top level of that module (also
    conditionally, in if/try) or is a submodule; ``import *`` or a module ``__getattr__`` in
    the target accepts any name. Imports in functions and under ``if TYPE_CHECKING:`` count.
    A top-level directory without ``__init__.py`` (e.g. ``alembic/``) loses to an installed
    package of that name, so imports below it are checked only when they name a project file.
    External modules only with ``--check-external`` (``importlib.util.find_spec``).
``layer-import``
    an L4, L5 or L6 module does not import an L2 module (layers from ``[layers.*] paths``
    of ROOT/strata.toml, else the default HOC layout; the first matching layer wins).
``unregistered-operation``
    every operation dispatched as ``<registry>.execute("name", ...)`` anywhere in the
    project is registered by a registration that actually runs: reached from
    ``register_all_handlers`` through ``handler_module.register(registry)`` statements into
    ``<param>.register("name", ...)`` calls run as statements of that ``register``, or made
    at module level of a handler module it imports. An annotation runs nothing, so
    ``registry: T.register(...)`` registers nothing. A dispatch on a private
    ``OperationRegistry()`` or on a parameter without a default (a test fixture) is not a
    dispatch on the application's registry and is not collected.
``handler-driver-signature``
    in handler modules, calls of functions imported from project modules match the
    target function's signature (positional count, keyword names, required parameters).

``uncommitted-write``
    a function of the drivers' layer (the layer with the highest number) that writes through
    a session (``add``/``add_all``/``delete``/``merge``, or ``execute`` of an insert, update or
    delete) and does not commit is reached, by name, from a function that commits: some
    function that calls or references it, or one that calls or references that one, and so on
    up to six levels, calls ``commit()``. Resolution by name is lenient (another function of
    the same name counts), so a finding is a write no committer can reach: a lost write
    unless the project's callers outside the scanned tree commit it.

``--files`` restricts the per-file checks (all but ``unregistered-operation``, which is a
property of the whole project) to the given files. Output: ``path:line: [check] message``
per finding, or a JSON object with ``--json``. Exit status: 0 no finding, 1 findings,
2 usage error.
"""

import argparse
import ast
import builtins
import importlib.util
import json
import re
import sys
import tomllib
import warnings
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

CHECKS = (
    "syntax",
    "unbound-name",
    "unresolved-import",
    "layer-import",
    "unregistered-operation",
    "handler-driver-signature",
)

# The default HOC layout (examples/hoc_app/strata.toml); ROOT/strata.toml overrides it.
DEFAULT_LAYERS = {
    "l2": ["backend/app/hoc/api/{audience}/{domain}/{module}.py", "backend/app/hoc/api/**/{module}.py"],
    "l4": ["backend/app/hoc/cus/hoc_spine/orchestrator/**/{module}.py"],
    "l5": ["backend/app/hoc/cus/{domain}/L5_engines/**/{module}.py"],
    "l6": ["backend/app/hoc/cus/{domain}/L6_drivers/**/{module}.py"],
}
DEFAULT_HANDLERS_DIR = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers"
DEFAULT_REGISTER_ALL = "register_all_handlers"
API_LAYER = "l2"
LOWER_LAYERS = ("l4", "l5", "l6")

# Names every module has without binding them; names the class statement binds in a body.
MODULE_IMPLICIT = {
    "__name__", "__file__", "__doc__", "__package__", "__spec__", "__loader__",
    "__builtins__", "__cached__", "__path__", "__annotations__",
}
CLASS_IMPLICIT = {"__qualname__", "__module__"}
# dir(builtins) plus what `site` adds (absent under `python -S`).
BUILTIN_NAMES = set(dir(builtins)) | {"exit", "quit", "copyright", "credits", "license", "help"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    check: str
    message: str

    def render(self) -> str:
        return f"{self.path}:{self.line}: [{self.check}] {self.message}"


# =========================================================================== configuration
@dataclass
class Layout:
    layers: List[Tuple[str, List["re.Pattern[str]"]]]
    handlers_dir: str
    register_all: str

    def layer_of(self, rel: str) -> Optional[str]:
        for name, patterns in self.layers:
            if any(p.fullmatch(rel) for p in patterns):
                return name
        return None


def glob_to_regex(pattern: str) -> "re.Pattern[str]":
    """`{name}` is one path segment (or part of one), `**` any number of segments, `*` glob."""
    parts = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            parts.append("(?:[^/]+/)*")
            continue
        regex = ""
        for token in re.split(r"(\{[^}]*\}|\*)", segment):
            if token == "*" or (token.startswith("{") and token.endswith("}")):
                regex += "[^/]+" if token != "*" else "[^/]*"
            else:
                regex += re.escape(token)
        parts.append(regex + "/")
    return re.compile("".join(parts)[:-1])


def load_layout(root: Path) -> Layout:
    layers = dict(DEFAULT_LAYERS)
    handlers_dir, register_all = DEFAULT_HANDLERS_DIR, DEFAULT_REGISTER_ALL
    config_file = root / "strata.toml"
    if config_file.is_file():
        config = tomllib.loads(config_file.read_text(encoding="utf-8"))
        configured = {k: v.get("paths", []) for k, v in config.get("layers", {}).items() if isinstance(v, dict)}
        if configured:
            layers = configured
        registry = config.get("registry", {})
        handlers_dir = registry.get("handlers_dir", handlers_dir).strip("/")
        register_all = registry.get("register_all", register_all)
    compiled = [(name, [glob_to_regex(p) for p in paths]) for name, paths in layers.items()]
    return Layout(compiled, handlers_dir, register_all)


# =========================================================================== scopes
@dataclass
class ImportRef:
    """What an import statement bound to a name: a module, or an attribute of a module."""

    level: int
    module: str  # dotted module name as written (relative when level > 0)
    attr: Optional[str]  # `from module import attr`; None for `import module`


@dataclass
class Read:
    name: str
    node: ast.AST
    stmt_index: Optional[int]  # index of the top-level statement of the owner function
    immediate: bool  # runs when that statement runs (not deferred in a lambda/def/genexp)


@dataclass
class Scope:
    kind: str  # module | class | function | lambda | comprehension
    node: ast.AST
    parent: Optional["Scope"]
    genexp: bool = False
    bound: Dict[str, List[Optional[int]]] = field(default_factory=dict)  # name -> stmt indexes
    declared: Set[str] = field(default_factory=set)  # `x: int` without a value
    params: Set[str] = field(default_factory=set)
    globals: Set[str] = field(default_factory=set)
    nonlocals: Set[str] = field(default_factory=set)
    imports: Dict[str, ImportRef] = field(default_factory=dict)
    non_import_bound: Set[str] = field(default_factory=set)
    reads: List[Read] = field(default_factory=list)
    star_import: bool = False

    @property
    def owner(self) -> Optional["Scope"]:
        """The function whose top-level statements drive this scope's execution order."""
        if self.kind == "function":
            return self
        if self.kind == "comprehension" and self.parent is not None:
            return self.parent.owner
        return None

    @property
    def immediate(self) -> bool:
        if self.kind == "function":
            return True
        if self.kind == "comprehension" and self.parent is not None:
            return not self.genexp and self.parent.immediate
        return False

    def binds(self, name: str) -> bool:
        return name in self.bound or name in self.params or name in self.declared


class ScopeBuilder(ast.NodeVisitor):
    """One pass over a module: the scope tree with bindings and reads (CPython's rules)."""

    def __init__(self, future_annotations: bool):
        self.future_annotations = future_annotations
        self.scope: Optional[Scope] = None
        self.stmt_index: Optional[int] = None
        self.scopes: List[Scope] = []
        self.scope_of_name: Dict[int, Scope] = {}  # id(ast.Name) -> scope it is read in

    # -- plumbing
    def build(self, tree: ast.Module) -> Scope:
        module = self._push("module", tree)
        for stmt in tree.body:
            self.visit(stmt)
        return module

    def _push(self, kind: str, node: ast.AST, genexp: bool = False) -> Scope:
        scope = Scope(kind, node, self.scope, genexp)
        self.scopes.append(scope)
        self.scope = scope
        return scope

    def _pop(self) -> None:
        self.scope = self.scope.parent

    def _bind(self, name: str, via_import: Optional[ImportRef] = None) -> None:
        scope = self.scope
        if name in scope.globals:
            scope = self.scopes[0]  # `global x; x = ...` binds the module's x
        index = self.stmt_index if scope.kind == "function" else None
        scope.bound.setdefault(name, []).append(index)
        if via_import is None:
            scope.non_import_bound.add(name)
        else:
            scope.imports[name] = via_import

    def _read(self, node: ast.Name) -> None:
        self.scope.reads.append(Read(node.id, node, self.stmt_index, self.scope.immediate))
        self.scope_of_name[id(node)] = self.scope

    def _annotation(self, node: Optional[ast.AST]) -> None:
        """Annotations are evaluated only without the future import, and never inside strings."""
        if node is None or self.future_annotations:
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return
        self.visit(node)

    # -- names
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node)
        else:  # Store and Del both make the name local to the scope
            self._bind(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        scope = self.scope
        while scope.kind == "comprehension":  # the walrus binds in the enclosing scope
            scope = scope.parent
        saved, self.scope = self.scope, scope
        self._bind(node.target.id)
        self.scope = saved

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target)
            self._bind(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        if self.scope.kind != "function":  # local-variable annotations are never evaluated
            self._annotation(node.annotation)
        if isinstance(node.target, ast.Name):
            if node.value is not None:
                self._bind(node.target.id)
            elif self.scope.kind == "function":
                self.scope.declared.add(node.target.id)
        else:
            self.visit(node.target)

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(alias.asname, ImportRef(0, alias.name, None))
            else:
                top = alias.name.split(".")[0]
                self._bind(top, ImportRef(0, top, None))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.scope.star_import = True
                continue
            ref = ImportRef(node.level, node.module or "", alias.name)
            self._bind(alias.asname or alias.name, ref)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._bind(node.rest)

    # -- scopes
    def _outer_arguments(self, args: ast.arguments) -> None:
        """Defaults and annotations are evaluated where the def/lambda statement runs."""
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if arg is not None:
                self._annotation(arg.annotation)

    @staticmethod
    def _parameter_names(args: ast.arguments) -> Iterator[str]:
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if arg is not None:
                yield arg.arg

    def _function(self, node) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._outer_arguments(node.args)
        self._annotation(node.returns)
        self._bind(node.name)
        scope = self._push("function", node)
        scope.params.update(self._parameter_names(node.args))
        saved = self.stmt_index
        for index, stmt in enumerate(node.body):
            self.stmt_index = index
            self.visit(stmt)
        self.stmt_index = saved
        self._pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._outer_arguments(node.args)
        scope = self._push("lambda", node)
        scope.params.update(self._parameter_names(node.args))
        self.visit(node.body)
        self._pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expr)
        self._bind(node.name)
        self._push("class", node)
        for stmt in node.body:
            self.visit(stmt)
        self._pop()

    def _comprehension(self, node, results: List[ast.AST]) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # the first iterable is evaluated outside
        self._push("comprehension", node, genexp=isinstance(node, ast.GeneratorExp))
        for position, generator in enumerate(generators):
            if position:
                self.visit(generator.iter)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for result in results:
            self.visit(result)
        self._pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


# =========================================================================== module index
class Module:
    """One Python file of the project: read, parsed and analysed at most once, on demand."""

    def __init__(self, path: Path, rel: str, name: Optional[str], is_package: bool):
        self.path = path
        self.rel = rel  # relative to ROOT, POSIX separators
        self.name = name  # dotted module name (None outside the import roots)
        self.is_package = is_package
        self.parse_error: Optional[SyntaxError] = None

    @property
    def package(self) -> str:
        """The package relative imports are resolved against."""
        if self.name is None:
            return ""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @cached_property
    def source(self) -> bytes:
        return self.path.read_bytes()

    @cached_property
    def tree(self) -> Optional[ast.Module]:
        try:
            return ast.parse(self.source, str(self.path))
        except SyntaxError as error:
            self.parse_error = error
        except ValueError as error:  # null bytes
            self.parse_error = SyntaxError(str(error))
        return None

    @cached_property
    def scopes(self) -> Optional[ScopeBuilder]:
        if self.tree is None:
            return None
        builder = ScopeBuilder(has_future_annotations(self.tree))
        builder.build(self.tree)
        return builder

    @property
    def module_scope(self) -> Optional[Scope]:
        return self.scopes.scopes[0] if self.scopes else None

    @cached_property
    def _nodes(self) -> List[ast.AST]:
        return list(ast.walk(self.tree)) if self.tree else []

    @cached_property
    def imports(self) -> List[ast.stmt]:
        """Every import statement, wherever it is (module level, functions, if/try blocks)."""
        return [n for n in self._nodes if isinstance(n, (ast.Import, ast.ImportFrom))]

    @cached_property
    def calls(self) -> List[ast.Call]:
        return [n for n in self._nodes if isinstance(n, ast.Call)]

    def top_level_function(self, name: str) -> Optional[ast.AST]:
        found = None
        for stmt in self.tree.body if self.tree else []:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                found = stmt  # the last definition wins, as at run time
        return found


def dotted_prefixes(name: str) -> List[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        and any(alias.name == "annotations" for alias in stmt.names)
        for stmt in tree.body
    )


SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv"}


class ProjectIndex:
    """The project's modules by path and dotted name, and its top-level package names."""

    def __init__(self, root: Path, import_roots: List[str]):
        self.root = root
        self.import_roots = [root / r for r in import_roots]
        self.by_rel: Dict[str, Module] = {}
        self.by_name: Dict[str, Module] = {}
        self.namespace_dirs: Set[str] = set()  # dotted names of directories without __init__.py
        self.top_level: Dict[str, str] = {}  # name -> "regular" | "namespace"
        for import_root in self.import_roots:
            self._scan(import_root)

    def _scan(self, import_root: Path) -> None:
        if not import_root.is_dir():
            return
        for path in sorted(import_root.rglob("*")):
            relative = path.relative_to(import_root)
            if any(part in SKIP_DIRS or part.startswith(".") for part in relative.parts):
                continue
            dotted_parts = list(relative.parts)
            if path.is_dir():
                name = ".".join(dotted_parts)
                if not (path / "__init__.py").is_file() and name not in self.by_name:
                    self.namespace_dirs.add(name)
                    if len(dotted_parts) == 1:
                        self.top_level.setdefault(name, "namespace")
                continue
            if path.suffix != ".py":
                continue
            is_package = path.name == "__init__.py"
            dotted_parts = dotted_parts[:-1] if is_package else dotted_parts[:-1] + [path.stem]
            name = ".".join(dotted_parts)
            module = Module(path, path.relative_to(self.root).as_posix(), name, is_package)
            self.by_rel.setdefault(module.rel, module)
            if name and name not in self.by_name:
                self.by_name[name] = module
                self.namespace_dirs.discard(name)
                if len(dotted_parts) == 1:
                    self.top_level[name] = "regular"

    # -- lookups
    def module(self, name: str) -> Optional[Module]:
        return self.by_name.get(name)

    def resolves(self, name: str) -> bool:
        return name in self.by_name or name in self.namespace_dirs

    def is_project(self, name: str) -> bool:
        return name.split(".")[0] in self.top_level

    def file_for(self, rel: str) -> Module:
        module = self.by_rel.get(rel)
        if module is None:  # a file outside the import roots: checked, but has no module name
            module = Module(self.root / rel, rel, None, False)
            self.by_rel[rel] = module
        return module

    def absolute(self, importer: Module, level: int, module: str) -> Optional[str]:
        """The absolute name of `from <level dots><module> import ...` in `importer`."""
        if level == 0:
            return module
        if importer.name is None:
            return None
        package = importer.package.split(".") if importer.package else []
        if level - 1 > len(package) or (level - 1 == len(package) and not module):
            return None
        base = package[: len(package) - (level - 1)]
        return ".".join(base + ([module] if module else [])) or None

    def provides(self, module_name: str, attr: str) -> bool:
        """Does `from module_name import attr` succeed (a top-level binding or a submodule)?"""
        if self.resolves(f"{module_name}.{attr}"):
            return True
        module = self.module(module_name)
        if module is None:
            return False
        scope = module.module_scope
        if scope is None:  # unparsable target: reported by its own syntax check
            return True
        return scope.star_import or attr in scope.bound or "__getattr__" in scope.bound

    def loaded_modules(self, importer: Module, node: ast.AST) -> Iterator[List[str]]:
        """For each alias of an import statement, the modules it loads, outermost first
        (`import a.b.c` loads a, a.b, a.b.c; `from a import b` also loads a.b if a module)."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield dotted_prefixes(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = self.absolute(importer, node.level, node.module or "")
            for alias in node.names if base else []:
                submodule = f"{base}.{alias.name}"
                loads_submodule = alias.name != "*" and self.resolves(submodule)
                yield dotted_prefixes(submodule if loads_submodule else base)


# =========================================================================== helpers
def own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Every node of a function (or module) body, not descending into nested scopes."""
    stack = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def statement_calls(body: List[ast.stmt]) -> Iterator[ast.Call]:
    """Calls that run as a whole statement (`f(...)`, `await f(...)`, `x = f(...)`), also under
    if/for/while/try/with/match, never inside a nested def or class. An annotation is not a
    value: `registry: T.register(...)` is an AnnAssign without a value, and runs nothing."""
    for stmt in body:
        value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
        if isinstance(value, ast.Await):
            value = value.value
        if isinstance(value, ast.Call):
            yield value
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            nested = getattr(stmt, name, None)
            if isinstance(nested, list):
                yield from statement_calls(nested)
        for handler in getattr(stmt, "handlers", None) or []:
            yield from statement_calls(handler.body)
        for case in getattr(stmt, "cases", None) or []:
            yield from statement_calls(case.body)


def dotted_name(expr: ast.AST) -> Optional[str]:
    """`a.b.c` for a chain of attributes on a name, else None."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = dotted_name(expr.value)
        return f"{base}.{expr.attr}" if base else None
    return None


def tail_name(expr: ast.AST) -> Optional[str]:
    """`registry` for `registry`, `self._registry`, `get_operation_registry()`."""
    if isinstance(expr, ast.Await):
        return tail_name(expr.value)
    if isinstance(expr, ast.Call):
        return tail_name(expr.func)
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


def string_arg(call: ast.Call) -> Optional[str]:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


# =========================================================================== checks
def check_syntax(module: Module) -> List[Finding]:
    """Parse, then compile the tree: the compiler's symbol-table pass runs on it as well."""
    error = module.parse_error if module.tree is None else None
    if module.tree is not None:
        try:
            compile(module.tree, str(module.path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as raised:
            error = raised
    if error is None:
        return []
    line = getattr(error, "lineno", None) or 1
    return [Finding(module.rel, line, "syntax", f"does not compile: {getattr(error, 'msg', None) or error}")]


def resolve_read(scope: Scope, name: str) -> Optional[Scope]:
    """The scope that binds `name` as read in `scope`, a module for module/builtin, or None."""
    current, first = scope, True
    while current is not None:
        if current.kind == "module":
            if current.binds(name) or name in MODULE_IMPLICIT or name in BUILTIN_NAMES:
                return current
            return None
        if name in current.globals:  # `global x` skips every scope up to the module
            while current.parent is not None:
                current = current.parent
            continue
        if current.kind == "class":
            if first and (current.binds(name) or name in CLASS_IMPLICIT):
                return current
            if name == "__class__":  # the implicit cell of methods
                return current
        elif name in current.nonlocals or current.binds(name):
            return current
        first = False
        current = current.parent
    return None


def check_unbound_names(module: Module) -> List[Finding]:
    builder = module.scopes
    if builder is None or any(s.star_import for s in builder.scopes):
        return []
    findings = []
    for scope in builder.scopes:
        for read in scope.reads:
            home = resolve_read(scope, read.name)
            if home is None:
                findings.append(Finding(module.rel, read.node.lineno, "unbound-name",
                                        f"name '{read.name}' is not bound (no local, enclosing, "
                                        f"module-level or builtin binding)"))
                continue
            # The certain UnboundLocalError: every assignment comes in a later top-level statement.
            if (home.kind == "function" and home is scope.owner and read.immediate
                    and read.name not in home.params and read.name not in home.nonlocals
                    and read.name not in home.globals and read.stmt_index is not None):
                first = min((i for i in home.bound.get(read.name, []) if i is not None), default=None)
                if first is None and read.name in home.declared:
                    findings.append(Finding(module.rel, read.node.lineno, "unbound-name",
                                            f"local '{read.name}' is only annotated, never assigned"))
                elif first is not None and read.stmt_index < first:
                    line = home.node.body[first].lineno
                    findings.append(Finding(module.rel, read.node.lineno, "unbound-name",
                                            f"local '{read.name}' is read before its first assignment "
                                            f"(line {line}): UnboundLocalError"))
    return findings


def check_imports(index: ProjectIndex, module: Module, check_external: bool) -> List[Finding]:
    findings = []

    def report(node: ast.AST, message: str) -> None:
        findings.append(Finding(module.rel, node.lineno, "unresolved-import", message))

    def external_ok(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False
        except Exception:  # a parent package failed to import: not this checker's business
            return True

    def missing_module(name: str) -> Optional[str]:
        return next((prefix for prefix in dotted_prefixes(name) if not index.resolves(prefix)), None)

    def is_checked_project(name: str) -> bool:
        """A project import. A top-level directory without __init__.py (a namespace portion,
        e.g. an `alembic/` migrations folder) loses to a same-named installed package, so an
        import below it is the project's only when it names one of the project's files."""
        kind = index.top_level.get(name.split(".")[0])
        return kind == "regular" or (kind == "namespace" and index.module(name) is not None)

    for node in module.imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_checked_project(alias.name):
                    missing = missing_module(alias.name)
                    if missing:
                        report(node, f"import {alias.name}: no module '{missing}' under the import roots")
                elif check_external and not index.is_project(alias.name) and not external_ok(alias.name):
                    report(node, f"import {alias.name}: external module not found")
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            written = "." * node.level + (node.module or "")
            base = index.absolute(module, node.level, node.module or "")
            if base is None:
                if node.level and module.name is not None:
                    report(node, f"from {written} import ...: relative import beyond the top-level package")
                continue
            if node.level == 0 and not is_checked_project(base):
                if check_external and not index.is_project(base) and not external_ok(base):
                    report(node, f"from {written} import ...: external module not found")
                continue
            missing = missing_module(base)
            if missing:
                report(node, f"from {written} import ...: no module '{missing}' under the import roots")
                continue
            for alias in node.names:
                if alias.name != "*" and not index.provides(base, alias.name):
                    report(node, f"cannot import name '{alias.name}' from '{base}': not bound at its "
                                 f"top level and not a submodule")
    return findings


def check_layer_imports(index: ProjectIndex, layout: Layout, module: Module) -> List[Finding]:
    layer = layout.layer_of(module.rel)
    if layer not in LOWER_LAYERS:
        return []
    findings = []
    for node in module.imports:
        seen = set()
        for loaded in index.loaded_modules(module, node):
            api = [m for m in loaded if index.module(m) and layout.layer_of(index.module(m).rel) == API_LAYER]
            if api and api[-1] not in seen:
                seen.add(api[-1])
                findings.append(Finding(module.rel, node.lineno, "layer-import",
                                        f"{layer.upper()} module {module.name} imports {API_LAYER.upper()} "
                                        f"module {api[-1]} ({index.module(api[-1]).rel})"))
    return findings


# -- unregistered-operation
def is_registry_expr(expr: ast.AST, local_names: Optional[Dict[str, bool]] = None) -> bool:
    """Is `expr` the application's operation registry? `registry`, `self._registry`,
    `get_operation_registry()`, or a local name bound to one. A freshly constructed
    `OperationRegistry()` is a private registry, and a parameter without a default holds
    whatever registry the caller passes (a test fixture, typically): neither is the app's."""
    if isinstance(expr, ast.Name) and local_names and expr.id in local_names:
        return local_names[expr.id]
    tail = tail_name(expr)
    if tail is None or "registry" not in tail.lower():
        return False
    return not (isinstance(expr, ast.Call) and tail[:1].isupper())


def registry_locals(scope_node: ast.AST, nodes: List[ast.AST]) -> Dict[str, bool]:
    """Local names of a function (or module) body and whether each holds the app's registry."""
    local_names: Dict[str, bool] = {}

    def note(name: str, is_registry: bool) -> None:
        local_names[name] = local_names.get(name, False) or is_registry

    args = getattr(scope_node, "args", None)
    if isinstance(args, ast.arguments):
        positional = args.posonlyargs + args.args
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for arg, default in list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults)):
            # `registry=Depends(get_operation_registry)` is injected from the getter.
            injected = isinstance(default, ast.Call) and default.args and is_registry_expr(default.args[0])
            note(arg.arg, default is not None and (is_registry_expr(default) or bool(injected)))
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    note(target.id, is_registry_expr(node.value))
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) and node.value:
            note(node.target.id, is_registry_expr(node.value))
    return local_names


def collect_dispatches(module: Module) -> List[Tuple[str, int]]:
    """(operation name, line) of each `<registry>.execute("name", ...)` in the module."""
    if b".execute(" not in module.source or b"registry" not in module.source.lower() or module.tree is None:
        return []  # the text test first: most files are never parsed here
    dispatches = []
    scope_types = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    for body in [module.tree] + [n for n in ast.walk(module.tree) if isinstance(n, scope_types)]:
        nodes = list(own_nodes(body))
        local_names = registry_locals(body, nodes)
        for node in nodes:
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute"
                    and string_arg(node) is not None and is_registry_expr(node.func.value, local_names)):
                dispatches.append((string_arg(node), node.lineno))
    return dispatches


def module_aliases(index: ProjectIndex, module: Module, nodes: List[ast.AST]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Expressions naming project modules (`alias`, or `a.b.c` after `import a.b.c`), and
    names bound to a module's `register` function."""
    modules, register_functions = {}, {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if index.module(alias.name):
                    modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = index.absolute(module, node.level, node.module or "")
            for alias in node.names if base else []:
                local = alias.asname or alias.name
                if index.module(f"{base}.{alias.name}"):
                    modules[local] = f"{base}.{alias.name}"
                elif alias.name == "register" and index.module(base):
                    register_functions[local] = base
    return modules, register_functions


def registrations_in(function: ast.AST, param: str) -> Set[str]:
    """Operation names of `<param>.register("name", ...)` calls run as statements of a function."""
    names = set()
    for call in statement_calls(function.body):
        if (isinstance(call.func, ast.Attribute) and call.func.attr == "register"
                and isinstance(call.func.value, ast.Name) and call.func.value.id == param
                and string_arg(call) is not None):
            names.add(string_arg(call))
    return names


def module_level_registrations(module: Module) -> Set[str]:
    names = set()
    for call in statement_calls(module.tree.body if module.tree else []):
        if (isinstance(call.func, ast.Attribute) and call.func.attr == "register"
                and is_registry_expr(call.func.value, {}) and string_arg(call) is not None):
            names.add(string_arg(call))
    return names


def first_parameter(function: ast.AST) -> Optional[str]:
    positional = function.args.posonlyargs + function.args.args
    return positional[0].arg if positional else None


def running_registrations(index: ProjectIndex, layout: Layout) -> Optional[Set[str]]:
    """Operation names registered by code that runs from `register_all_handlers`.

    None when the project has no handlers package (not a HOC layout: nothing to check)."""
    init = index.by_rel.get(f"{layout.handlers_dir}/__init__.py")
    if init is None:
        return None
    registered: Set[str] = set()
    register_all = init.top_level_function(layout.register_all)
    if init.tree is None or register_all is None:
        return registered
    param = first_parameter(register_all)
    top_modules, top_functions = module_aliases(index, init, init.tree.body)
    fn_modules, fn_functions = module_aliases(index, init, list(own_nodes(register_all)))
    modules = {**top_modules, **fn_modules}
    functions = {**top_functions, **fn_functions}
    for name in set(modules.values()) | set(functions.values()):
        registered |= module_level_registrations(index.module(name))
    for call in statement_calls(register_all.body):
        if not (call.args and isinstance(call.args[0], ast.Name) and call.args[0].id == param):
            continue
        target = None
        if isinstance(call.func, ast.Attribute) and call.func.attr == "register":
            target = modules.get(dotted_name(call.func.value))
        elif isinstance(call.func, ast.Name):
            target = functions.get(call.func.id)
        handler = index.module(target) if target else None
        register = handler.top_level_function("register") if handler else None
        if register is not None and first_parameter(register):
            registered |= registrations_in(register, first_parameter(register))
    return registered


def check_registrations(index: ProjectIndex, layout: Layout) -> List[Finding]:
    registered = running_registrations(index, layout)
    if registered is None:
        return []
    findings = []
    for module in sorted(index.by_name.values(), key=lambda m: m.rel):
        for operation, line in collect_dispatches(module):
            if operation not in registered:
                findings.append(Finding(module.rel, line, "unregistered-operation",
                                        f"operation '{operation}' is dispatched but no running registration "
                                        f"registers it (from {layout.register_all})"))
    return findings


# -- handler-driver-signature
def import_binding(scope: Scope, name: str) -> Optional[ImportRef]:
    """The import that binds `name` where it is read, if only an import binds it there."""
    home = resolve_read(scope, name)
    if home is None or name in home.non_import_bound or name not in home.imports:
        return None
    return home.imports[name]


def find_function(index: ProjectIndex, module_name: str, name: str, depth: int = 0) -> Optional[Tuple[str, ast.AST]]:
    """A top-level def `name` of a project module, following `from x import name` re-exports."""
    module = index.module(module_name)
    if module is None or module.tree is None or depth > 5:
        return None
    function = module.top_level_function(name)
    if function is not None:
        return module_name, function
    scope = module.module_scope
    ref = scope.imports.get(name) if scope else None
    if ref is not None and ref.attr is not None and name not in scope.non_import_bound:
        target = index.absolute(module, ref.level, ref.module)
        if target and not index.resolves(f"{target}.{ref.attr}"):
            return find_function(index, target, ref.attr, depth + 1)
    return None


def signature_problems(call: ast.Call, function: ast.AST) -> List[str]:
    args = function.args
    positional = args.posonlyargs + args.args
    required_positional = positional[: len(positional) - len(args.defaults)]
    keyword_names = {a.arg for a in args.args + args.kwonlyargs}
    star_args = any(isinstance(a, ast.Starred) for a in call.args)
    star_kwargs = any(k.arg is None for k in call.keywords)
    given_keywords = [k.arg for k in call.keywords if k.arg is not None]
    filled = {a.arg for a in positional[: len(call.args)]}
    problems = []
    if not star_args and args.vararg is None and len(call.args) > len(positional):
        problems.append(f"takes {len(positional)} positional argument(s) but {len(call.args)} were given")
    for keyword in given_keywords:
        if keyword not in keyword_names and args.kwarg is None:
            problems.append(f"unexpected keyword argument '{keyword}'")
        elif keyword in filled and not star_args:
            problems.append(f"multiple values for argument '{keyword}'")
    if not star_args and not star_kwargs:
        missing = [a.arg for a in required_positional if a.arg not in filled and a.arg not in given_keywords]
        missing += [a.arg for a, default in zip(args.kwonlyargs, args.kw_defaults)
                    if default is None and a.arg not in given_keywords]
        if missing:
            problems.append("missing required argument(s): " + ", ".join(f"'{m}'" for m in missing))
    return problems


def check_handler_calls(index: ProjectIndex, layout: Layout, module: Module) -> List[Finding]:
    if not module.rel.startswith(layout.handlers_dir + "/") or module.scopes is None:
        return []
    builder = module.scopes
    findings = []
    for node in module.calls:
        target = None
        if isinstance(node.func, ast.Name) and id(node.func) in builder.scope_of_name:
            ref = import_binding(builder.scope_of_name[id(node.func)], node.func.id)
            if ref and ref.attr:
                base = index.absolute(module, ref.level, ref.module)
                if base and index.is_project(base) and not index.resolves(f"{base}.{ref.attr}"):
                    target = (base, ref.attr)
        elif (isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
              and id(node.func.value) in builder.scope_of_name):
            ref = import_binding(builder.scope_of_name[id(node.func.value)], node.func.value.id)
            if ref:
                base = index.absolute(module, ref.level, ref.module)
                imported = f"{base}.{ref.attr}" if base and ref.attr else base
                if imported and index.is_project(imported) and index.module(imported):
                    target = (imported, node.func.attr)
        found = find_function(index, *target) if target else None
        if found is None:
            continue
        home, function = found
        for problem in signature_problems(node, function):
            findings.append(Finding(module.rel, node.lineno, "handler-driver-signature",
                                    f"call of {home}.{function.name}(): {problem}"))
    return findings


# =========================================================================== driver
WRITE_METHODS = {"add", "add_all", "delete", "merge", "bulk_save_objects"}
WRITE_SQL = re.compile(r"^\s*(insert|update|delete)\b", re.IGNORECASE)
MAX_COMMIT_DEPTH = 6


def functions_of(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def commits(function: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "commit"
        for n in own_nodes(function)
    )


def writes(function: ast.AST) -> bool:
    for n in own_nodes(function):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            continue
        if n.func.attr in WRITE_METHODS:
            return True
        if n.func.attr == "execute" and n.args:
            first = n.args[0]
            callee = tail_name(first.func) if isinstance(first, ast.Call) else None
            if callee in {"insert", "update", "delete"}:
                return True
            text = first.args[0] if isinstance(first, ast.Call) and first.args else first
            if isinstance(text, ast.Constant) and isinstance(text.value, str) and WRITE_SQL.match(text.value):
                return True
    return False


class NameUses:
    """For every name, the project's functions that call or reference it, with their modules
    (built once per run), and what each module imports."""

    def __init__(self, index: ProjectIndex):
        self.users: Dict[str, List[Tuple[ast.AST, Module]]] = {}
        self.classes: Dict[int, str] = {}
        self.imported: Dict[str, Set[str]] = {}
        for module in index.by_rel.values():
            if module.tree is None:
                continue
            self.imported[module.rel] = imported = set()
            for node in module.imports:
                if isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
                else:
                    base = index.absolute(module, node.level, node.module or "")
                    if base:
                        imported.add(base)
                        imported.update(f"{base}.{alias.name}" for alias in node.names)
            for node in ast.walk(module.tree):
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            self.classes[id(item)] = node.name
            for function in functions_of(module.tree):
                names = set()
                for n in own_nodes(function):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
                    elif isinstance(n, ast.Attribute):
                        names.add(n.attr)
                for name in names:
                    self.users.setdefault(name, []).append((function, module))

    def sees(self, user: Module, defining: Module) -> bool:
        """`user` can reach what `defining` defines: the same module, or it imports it (or a
        package above it, which may re-export it)."""
        if user.rel == defining.rel:
            return True
        if defining.name is None:
            return False
        return any(defining.name == m or defining.name.startswith(m + ".") for m in self.imported.get(user.rel, ()))

    def reached_by_a_commit(self, function: ast.AST, module: Module) -> bool:
        seen = {id(function)}
        frontier = [(function, module)]
        for _ in range(MAX_COMMIT_DEPTH):
            next_frontier = []
            for f, defining in frontier:
                # An `__init__` is reached through its class's name.
                name = self.classes.get(id(f), f.name) if f.name == "__init__" else f.name
                for user, user_module in self.users.get(name, []):
                    if id(user) in seen or not self.sees(user_module, defining):
                        continue
                    if commits(user):
                        return True
                    seen.add(id(user))
                    next_frontier.append((user, user_module))
            frontier = next_frontier
        return False


def check_uncommitted_writes(uses: "NameUses", layout: Layout, module: Module) -> List[Finding]:
    layer = layout.layer_of(module.rel)
    drivers = max((name for name, _ in layout.layers), key=lambda n: int("0" + "".join(c for c in n if c.isdigit())), default=None)
    if module.tree is None or layer is None or layer != drivers:
        return []
    findings = []
    for function in functions_of(module.tree):
        if writes(function) and not commits(function) and not uses.reached_by_a_commit(function, module):
            findings.append(Finding(module.rel, function.lineno, "uncommitted-write", f"`{function.name}` writes, and no function that reaches it commits"))
    return findings


def relative_to_root(root: Path, file: str) -> Optional[str]:
    """`file` (relative to ROOT, or absolute inside it) as a POSIX path relative to ROOT."""
    path = (root / file).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) and path.is_file() else None


def run(root: Path, import_roots: List[str], files: Optional[List[str]], check_external: bool) -> List[Finding]:
    index = ProjectIndex(root, import_roots)
    layout = load_layout(root)
    if files is None:
        targets = sorted(index.by_rel.values(), key=lambda m: m.rel)
    else:
        targets = [index.file_for(relative_to_root(root, f)) for f in files if f.endswith(".py")]
    findings: List[Finding] = []
    uses = NameUses(index)
    for module in targets:
        syntax = check_syntax(module)
        findings += syntax
        if syntax or module.tree is None:
            continue
        findings += check_unbound_names(module)
        findings += check_imports(index, module, check_external)
        findings += check_layer_imports(index, layout, module)
        findings += check_handler_calls(index, layout, module)
        findings += check_uncommitted_writes(uses, layout, module)
    findings += check_registrations(index, layout)
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.check, f.message))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", help="project root (containing e.g. backend/app/...)")
    parser.add_argument("--import-root", action="append", dest="import_roots",
                        help="import root relative to ROOT (repeatable; default: backend)")
    parser.add_argument("--files", nargs="+", help="restrict the per-file checks to these paths (relative to ROOT)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of lines")
    parser.add_argument("--check-external", action="store_true",
                        help="also check non-project imports with importlib.util.find_spec")
    options = parser.parse_args(argv)
    root = Path(options.root).resolve()
    if not root.is_dir():
        parser.error(f"ROOT is not a directory: {options.root}")
    import_roots = options.import_roots or ["backend"]
    for import_root in import_roots:
        if not (root / import_root).is_dir():
            parser.error(f"import root is not a directory: {root / import_root}")
    for file in options.files or []:
        if relative_to_root(root, file) is None:
            parser.error(f"--files: no such file under ROOT: {file}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings of the checked code are not findings
        findings = run(root, import_roots, options.files, options.check_external)
    if options.json:
        counts = {check: sum(1 for f in findings if f.check == check) for check in CHECKS}
        output = json.dumps({"findings": [asdict(f) for f in findings], "counts": counts}, indent=2)
    else:
        output = "\n".join(f.render() for f in findings)
    try:
        if output:
            print(output)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
