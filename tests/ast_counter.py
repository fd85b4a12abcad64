#!/usr/bin/env python3
"""Independent reference counter for strata's seven HOC rules, using Python's ``ast``.

Usage: python tests/ast_counter.py ROOT

Prints a JSON object ``{"rule-id": count, ...}`` plus
``"l2-registry-dispatch:classified": {"bridge": n, "facade": n, "adapter": n, "stateless": n}``.
Paths are relative to ROOT; files that fail to parse (or are not UTF-8) are skipped.
The counting units are documented per rule below; they intentionally mirror the
product's rule definitions, not its implementation.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

SESSION_NAMES = {"session", "db", "db_session", "sync_session", "async_session", "conn"}
SESSION_FACTORIES = {
    "Session",
    "AsyncSession",
    "sessionmaker",
    "async_sessionmaker",
    "create_engine",
    "create_async_engine",
    "get_session",
    "get_async_session",
    "get_engine",
    "SessionLocal",
    "AsyncSessionLocal",
    "async_session_context",
}
SERVICE_LOCATOR = re.compile(r"^get_\w+_from_l4$")
BRIDGE = re.compile(r"^get_\w+_bridge$")
L4_PACKAGE = "app.hoc.cus.hoc_spine.orchestrator"

RULES = [
    "l2-db-execute",
    "l2-transaction",
    "l6-transaction",
    "l6-session-lifecycle",
    "l4-service-locator",
    "l5-imports-l4",
    "l2-registry-dispatch",
]


# --------------------------------------------------------------------------- helpers
def _name_is_session_like(name: str) -> bool:
    return name in SESSION_NAMES or "session" in name.lower()


def is_session_like(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return _name_is_session_like(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return _name_is_session_like(node.attr.lstrip("_"))
    return False


def callee_name(call: ast.Call) -> Optional[str]:
    """Name of a call's callee: a Name, or the last attribute of an Attribute."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def method_calls(tree: ast.AST, methods) -> Iterator[Tuple[ast.Call, ast.AST]]:
    """Yield (call, receiver) for every ``RECV.method(...)`` with method in ``methods``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
            yield node, node.func.value


def module_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def rel_parts(rel: Path) -> List[str]:
    return list(rel.parts)


def under(parts: List[str], prefix: List[str]) -> bool:
    return parts[: len(prefix)] == prefix


def is_l2(parts: List[str]) -> bool:
    return under(parts, ["backend", "app", "hoc", "api"])


def is_cus_layer(parts: List[str], layer: str) -> bool:
    # backend/app/hoc/cus/<domain>/<layer>/**.py
    return len(parts) >= 7 and under(parts, ["backend", "app", "hoc", "cus"]) and parts[5] == layer


def file_package(parts: List[str]) -> List[str]:
    """Package (as module path components) containing the file, import root = backend/."""
    mod = parts[1:]  # drop "backend"
    pkg = mod[:-1]
    return pkg  # for __init__.py the package is the directory itself, same as here


def resolve_from(node: ast.ImportFrom, parts: List[str]) -> Optional[str]:
    if node.level == 0:
        return node.module or ""
    pkg = file_package(parts)
    if node.level - 1 > len(pkg):
        return None
    base = pkg[: len(pkg) - (node.level - 1)]
    if node.module:
        base = base + node.module.split(".")
    return ".".join(base)


# --------------------------------------------------------------------------- rules
def count_file(parts: List[str], tree: ast.AST, counts: dict, classified: dict) -> None:
    # l4-service-locator: every file
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and SERVICE_LOCATOR.match(node.name):
            counts["l4-service-locator"] += 1
        elif isinstance(node, ast.Call):
            name = callee_name(node)
            if name and SERVICE_LOCATOR.match(name):
                counts["l4-service-locator"] += 1

    if is_l2(parts):
        for _call, recv in method_calls(tree, {"execute", "exec"}):
            if is_session_like(recv):
                counts["l2-db-execute"] += 1
        for _call, recv in method_calls(tree, {"commit", "rollback"}):
            if is_session_like(recv):
                counts["l2-transaction"] += 1
        classify_l2(parts, tree, counts, classified)

    if is_cus_layer(parts, "L6_drivers"):
        for _call, _recv in method_calls(tree, {"commit", "rollback"}):
            counts["l6-transaction"] += 1
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and callee_name(node) in SESSION_FACTORIES:
                counts["l6-session-lifecycle"] += 1

    if is_cus_layer(parts, "L5_engines"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                if any(module_within(alias.name, L4_PACKAGE) for alias in node.names):
                    counts["l5-imports-l4"] += 1
            elif isinstance(node, ast.ImportFrom):
                module = resolve_from(node, parts)
                if module is None:
                    continue
                hit = module_within(module, L4_PACKAGE) or any(
                    module_within(f"{module}.{alias.name}" if module else alias.name, L4_PACKAGE)
                    for alias in node.names
                    if alias.name != "*"
                )
                if hit:
                    counts["l5-imports-l4"] += 1


def imported_modules(tree: ast.AST, parts: List[str]) -> List[str]:
    """Modules a file imports from. ``from M import n`` contributes M and M.n
    (so ``from app import db`` counts as importing ``app.db``); relative imports
    are resolved against the file's package."""
    mods = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = resolve_from(node, parts)
            if module is None:
                continue
            if module:
                mods.append(module)
            mods.extend(f"{module}.{a.name}" if module else a.name for a in node.names if a.name != "*")
    return mods


def classify_l2(parts: List[str], tree: ast.AST, counts: dict, classified: dict) -> None:
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if not any(callee_name(c) == "APIRouter" for c in calls):
        return
    for c in calls:
        if isinstance(c.func, ast.Attribute) and c.func.attr == "execute" and "registry" in ast.unparse(c.func.value):
            return  # dispatches through the registry
    mods = imported_modules(tree, parts)
    if any(BRIDGE.match(callee_name(c) or "") for c in calls):
        classified["bridge"] += 1
    elif any(m.startswith("app.hoc.cus.hoc_spine.services") for m in mods):
        classified["facade"] += 1
    elif any(m.startswith("app.adapters") for m in mods):
        classified["adapter"] += 1
    elif not any(module_within(m, p) for m in mods for p in ("sqlalchemy", "sqlmodel", "app.db")):
        classified["stateless"] += 1
    else:
        counts["l2-registry-dispatch"] += 1


# --------------------------------------------------------------------------- main
def iter_py(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".py"):
                yield Path(dirpath) / fn


def count(root: Path) -> dict:
    counts = {rule: 0 for rule in RULES}
    classified = {"bridge": 0, "facade": 0, "adapter": 0, "stateless": 0}
    for path in iter_py(root):
        try:
            source = path.read_bytes().decode("utf-8")
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        count_file(rel_parts(path.relative_to(root)), tree, counts, classified)
    counts["l2-registry-dispatch:classified"] = classified
    return counts


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: ast_counter.py ROOT", file=sys.stderr)
        return 2
    root = Path(argv[1])
    if not root.is_dir():
        print(f"not a directory: {root}", file=sys.stderr)
        return 2
    print(json.dumps(count(root), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
