#!/usr/bin/env python3
"""Seeded generator of HOC-layout Python backends for scripts/bench.

    bench_corpus.py OUT --lines N [--seed S]          a whole backend of about N lines
    bench_corpus.py OUT --driver-commits N [--seed S] one L6 driver with N commits (and its L4 callers)
    bench_corpus.py OUT --router-endpoints N [--seed S] one L2 router with N endpoints

The same arguments always write the same bytes (one `random.Random(seed)`, no clocks, no set
iteration). Besides the tree, OUT/counts.json holds the known number of sites of each benchmark
rule and OUT/sites.json their locations (`path:line:column`, 1-based). They are computed from the
written files with Python's own parser (`ast`), not from what the templates meant to write, so a
template slip cannot make the expected counts wrong:

    l2-execute          `R.execute(...)` / `R.exec(...)`, R session-like, in backend/app/hoc/api/**
    l6-commit-rollback  `X.commit(...)` / `X.rollback(...)`, any receiver, in backend/app/hoc/cus/*/L6_drivers/**
    execute-any         `R.execute(...)` / `R.exec(...)`, R session-like, in any file
    await-commit        the statement `await X.commit()`, in any file

Session-like is the regex of recipes/l2-db-execute.toml, matched against R's source text.

The backend follows the shapes of real HOC code (see examples/*/backend): routers whose endpoints
guard, call module helpers that take the session, run several statements, commit or wrap their
writes in try/except; drivers that receive a session (functions and classes keeping
`self._session`) or open their own (`async with AsyncSessionLocal() as session:`, `with
Session(...)`, a `_get_session()` helper); L4 handlers that call the drivers and commit; and, in
most files, code in no checked layer: models, schemas, services, utils, workers, migrations and
tests, some of which use sessions too. Comments and strings sometimes mention `session.execute(`,
as real code does, which a text search counts and a syntax-aware tool must not. File sizes follow
a log-normal distribution (median about 175 lines, capped), so about 5,000 files (with the packages' `__init__.py`) make 10^6 lines.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import random
import re
import sys
from pathlib import Path

SESSION_LIKE = re.compile(r"(?i)^(self\._*)?(db|conn|\w*session\w*)$")
L2_PREFIX = "backend/app/hoc/api/"
L6_PATH = re.compile(r"^backend/app/hoc/cus/[^/]+/L6_drivers/.+\.py$")

# Share of generated files per kind (after the fixed skeleton). Routers and drivers about 5 % each;
# the rest is in no checked layer, apart from a few L5 engines (and the L4 handlers each domain with
# drivers gets).
KINDS = [
    ("router", 0.05),
    ("driver", 0.05),
    ("engine", 0.03),
    ("service", 0.20),
    ("test", 0.22),
    ("util", 0.13),
    ("schema", 0.11),
    ("model", 0.08),
    ("worker", 0.05),
    ("migration", 0.08),
]

# Log-normal file sizes: median 175 lines, sigma 0.75 (mean about 230), clamped.
SIZE_MEDIAN, SIZE_SIGMA, SIZE_MIN, SIZE_MAX = 175, 0.75, 20, 2500

DOMAINS = """orders billing catalog inventory accounts audit shipping payments reports users invoices
pricing support notifications subscriptions analytics warehouse returns reviews coupons loyalty tax
fulfillment vendors contracts projects tasks teams documents media search webhooks integrations
exports feeds ledger quotes leads campaigns""".split()
ENTITIES = """Order Invoice Widget Item Account Event Shipment Payment Report Member Statement Price
Ticket Notice Plan Metric Slot Refund Review Coupon Reward Rate Parcel Vendor Contract Project Task
Team Document Asset Query Hook Link Export Entry Quote Lead Campaign""".split()
WORDS = """cache clock config retry batch token mailer parser format slug money address phone
geo timezone pager limiter metrics tracing hashing crypto csv pdf image locale currency
calendar policy quota feature flags scoring ranking matcher resolver planner""".split()
ROUTER_MODULES = "admin public internal bulk search stats exports history settings v2 legacy".split()


def snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


class Entity:
    """The names one domain's code uses for its main table."""

    def __init__(self, domain: str, camel: str):
        self.d = domain
        self.E = camel
        self.e = snake(camel)
        self.es = self.e + "s"


class Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.files: dict[str, str] = {}
        self.domains: list[Entity] = []
        # domain -> [(driver module, its session-taking functions, its class or None)]: what the
        # domain's L4 handler calls
        self.driver_api: dict[str, list] = {}
        self.used_names: set[str] = set()
        self.total_lines = 0

    # -- bookkeeping ---------------------------------------------------------------------------
    def add(self, path: str, text: str) -> None:
        # A package's __init__.py is written empty when a module lands in it, and may be given
        # its text later (the handlers package); anything else is written once.
        assert self.files.get(path, "") == "" and (path not in self.files or path.endswith("/__init__.py")), path
        self.files[path] = text
        self.total_lines += text.count("\n")
        # Every directory on the way is a package, as in a real backend.
        parent = Path(path).parent
        while str(parent) not in ("backend", "."):
            init = f"{parent}/__init__.py"
            if init not in self.files:
                self.files[init] = ""
            parent = parent.parent

    def size(self, minimum: int = SIZE_MIN) -> int:
        n = int(SIZE_MEDIAN * math.exp(self.rng.gauss(0, SIZE_SIGMA)))
        return max(minimum, min(SIZE_MAX, n))

    def unique(self, stem: str) -> str:
        name, i = stem, 2
        while name in self.used_names:
            name, i = f"{stem}_{i}", i + 1
        self.used_names.add(name)
        return name

    def domain(self, new_share: float = 0.3) -> Entity:
        if self.domains and self.rng.random() > new_share:
            return self.rng.choice(self.domains)
        i = len(self.domains)
        base, camel = DOMAINS[i % len(DOMAINS)], ENTITIES[i % len(ENTITIES)]
        if i >= len(DOMAINS):
            base, camel = f"{base}{i // len(DOMAINS) + 1}", f"{camel}{i // len(DOMAINS) + 1}"
        ent = Entity(base, camel)
        self.domains.append(ent)
        self.add(f"backend/app/models/{ent.d}.py", model_module(ent, self.rng, 40))
        return ent

    # -- the fixed skeleton --------------------------------------------------------------------
    def skeleton(self) -> None:
        self.add("backend/app/db.py", DB_MODULE)
        self.add("backend/app/auth.py", AUTH_MODULE)
        self.add("backend/app/cache.py", CACHE_MODULE)
        self.add("backend/app/hoc/cus/hoc_spine/orchestrator/operation_registry.py", REGISTRY_MODULE)

    def finish(self) -> None:
        """Writes each domain's L4 handler (callers of its drivers) and register_all_handlers."""
        handlers = []
        for ent in self.domains:
            path = f"backend/app/hoc/cus/hoc_spine/orchestrator/handlers/{ent.d}_handler.py"
            if ent.d in self.driver_api:
                self.add(path, handler_module(ent, self.driver_api[ent.d]))
            if path in self.files:
                handlers.append(ent.d)
        imports = "".join(f"from app.hoc.cus.hoc_spine.orchestrator.handlers import {d}_handler\n" for d in handlers)
        calls = "".join(f"    {d}_handler.register(registry)\n" for d in handlers) or "    pass\n"
        self.add(
            "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/__init__.py",
            f'"""Every L4 handler module registers its operations here."""\n\n{imports}\n\ndef register_all_handlers(registry):\n{calls}',
        )

    # -- one file of each kind -----------------------------------------------------------------
    def make(self, kind: str) -> None:
        rng = self.rng
        if kind == "router":
            ent = self.domain()
            stem = ent.es if f"{ent.d}/{ent.es}" not in self.used_names else rng.choice(ROUTER_MODULES)
            module = self.unique(f"{ent.d}/{stem}")
            self.add(f"backend/app/hoc/api/cus/{module}.py", router_module(ent, rng, self.size(80)))
        elif kind == "driver":
            ent = self.domain()
            role = rng.choice(["store", "repo", "writer", "reader", "sync", "archive", "ledger"])
            name = self.unique(f"{ent.d}/{ent.e}_{role}").split("/")[1] + "_driver"
            cls = "".join(w.title() for w in name.split("_"))
            text, functions = driver_module(ent, name, cls, rng, self.size(60))
            self.add(f"backend/app/hoc/cus/{ent.d}/L6_drivers/{name}.py", text)
            self.driver_api.setdefault(ent.d, []).append((name, functions, cls))
        elif kind == "engine":
            ent = self.domain(0.1)
            name = self.unique(f"{ent.d}/{rng.choice(WORDS)}_engine").split("/")[1]
            self.add(f"backend/app/hoc/cus/{ent.d}/L5_engines/{name}.py", engine_module(ent, rng, self.size()))
        elif kind == "model":
            ent = self.domain(0.1)
            name = self.unique(f"models/{ent.d}_{rng.choice(['history', 'links', 'archive', 'meta'])}")
            self.add(f"backend/app/{name}.py", model_module(ent, rng, self.size()))
        else:
            ent = self.domain(0.05)
            word = rng.choice(WORDS)
            body = FILLERS[kind]
            stem = {
                "service": f"app/services/{ent.d}_{word}_service",
                "util": f"app/utils/{word}",
                "schema": f"app/schemas/{ent.d}_{word}",
                "worker": f"app/workers/{ent.d}_{word}_jobs",
                "migration": f"alembic/versions/{rng.getrandbits(48):012x}_{ent.d}_{word}",
                "test": f"tests/{ent.d}/test_{word}",
            }[kind]
            self.add(f"backend/{self.unique(stem)}.py", body(ent, rng, self.size()))


# ---------------------------------------------------------------------------------------------
# Fixed modules
# ---------------------------------------------------------------------------------------------
DB_MODULE = '''"""Database wiring: engines, session factories and FastAPI dependencies."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterator, Optional

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

_engine: Optional[Engine] = None
SessionLocal: Optional[sessionmaker] = None
AsyncSessionLocal: Optional[async_sessionmaker] = None


class Base(DeclarativeBase):
    pass


def configure(url_sync: str, url_async: str) -> None:
    global _engine, SessionLocal, AsyncSessionLocal
    _engine = create_engine(url_sync)
    SessionLocal = sessionmaker(bind=_engine, expire_on_commit=False)
    AsyncSessionLocal = async_sessionmaker(create_async_engine(url_async), expire_on_commit=False)


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database not configured")
    return _engine


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


async def get_async_session_dep() -> AsyncIterator[AsyncSession]:
    async with AsyncSessionLocal() as session:
        yield session


@asynccontextmanager
async def get_async_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSessionLocal() as session:
        yield session
'''

AUTH_MODULE = '''"""Request authentication: the tenant of the caller."""

from fastapi import Header, HTTPException


async def current_tenant(x_tenant: str = Header(default="")) -> str:
    if not x_tenant:
        raise HTTPException(status_code=401, detail="missing tenant")
    return x_tenant
'''

CACHE_MODULE = '''"""A tiny async cache client (Redis protocol)."""


class Cache:
    async def execute(self, *command):
        return None


cache = Cache()
'''

REGISTRY_MODULE = '''"""L4 operation registry: the only door from L2 into business operations."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


@dataclass
class OperationContext:
    session: Any
    tenant_id: Optional[str] = None
    params: dict = field(default_factory=dict)


@dataclass
class OperationResult:
    success: bool
    data: Any = None
    error: Optional[str] = None

    @classmethod
    def ok(cls, data=None) -> "OperationResult":
        return cls(success=True, data=data)

    @classmethod
    def fail(cls, error: str) -> "OperationResult":
        return cls(success=False, error=error)


class OperationRegistry:
    def __init__(self) -> None:
        self._handlers: Dict[str, Any] = {}

    def register(self, name: str, handler) -> None:
        if name in self._handlers:
            raise ValueError(f"operation already registered: {name}")
        self._handlers[name] = handler

    async def execute(self, name: str, ctx: OperationContext) -> OperationResult:
        handler = self._handlers.get(name)
        if handler is None:
            return OperationResult.fail(f"unknown operation: {name}")
        try:
            return await handler.execute(ctx)
        except Exception as exc:
            logger.exception("operation %s failed", name)
            return OperationResult.fail(f"HANDLER_EXCEPTION:{type(exc).__name__}")


_registry: Optional[OperationRegistry] = None


def get_operation_registry() -> OperationRegistry:
    global _registry
    if _registry is None:
        from app.hoc.cus.hoc_spine.orchestrator.handlers import register_all_handlers

        registry = OperationRegistry()
        register_all_handlers(registry)
        _registry = registry
    return _registry
'''


def fill(rng: random.Random, header: str, units: list, target: int) -> str:
    """The header, then units drawn from `units` (functions of a counter, each text starting with
    a newline) until `target` lines; top-level definitions end up two blank lines apart."""
    out, n, i = [header], header.count("\n"), 0
    while n < target:
        unit = "\n" + rng.choice(units)(i)
        out.append(unit)
        n += unit.count("\n")
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# L2 routers
# ---------------------------------------------------------------------------------------------
def router_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, e, es, d = ent.E, ent.e, ent.es, ent.d
    header = f'''"""{d.title()} API: {es}."""

from __future__ import annotations

import json
import logging
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth import current_tenant
from app.cache import cache
from app.db import get_async_session_dep, get_db
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry
from app.models.{d} import {E}, {E}Audit

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/{d}", tags=["{d}"])

MAX_PAGE = 100
DEFAULT_PAGE = 20


class {E}Out(BaseModel):
    id: int
    name: str
    status: str = "active"


class {E}In(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    status: str = "active"


def _to_out(obj: {E}) -> dict:
    return {{"id": obj.id, "name": obj.name, "status": obj.status}}


async def _load_{e}(session: AsyncSession, tenant_id: str, {e}_id: int) -> Optional[{E}]:
    result = await session.execute(select({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id))
    return result.scalar_one_or_none()
'''
    deps = "tenant_id: str = Depends(current_tenant),\n    session: AsyncSession = Depends(get_async_session_dep),"

    def listing(i):
        return f'''
@router.get("/{es}/page{i}")
async def list_{es}_{i}(
    q: Optional[str] = None,
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    {deps}
):
    """Page through the tenant's {es}, newest first."""
    stmt = select({E}).where({E}.tenant_id == tenant_id)
    if q:
        stmt = stmt.where({E}.name.contains(q))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by({E}.id.desc()).limit(limit))).scalars().all()
    return {{"items": [_to_out(r) for r in rows], "total": total}}
'''

    def get_one(i):
        return f'''
@router.get("/{es}/{{{e}_id}}/v{i}")
async def get_{e}_{i}(
    {e}_id: int,
    {deps}
):
    obj = await _load_{e}(session, tenant_id, {e}_id)
    if obj is None:
        raise HTTPException(status_code=404, detail="{e} not found")
    return _to_out(obj)
'''

    def create(i):
        return f'''
@router.post("/{es}/new{i}", status_code=201)
async def create_{e}_{i}(
    body: {E}In,
    {deps}
):
    if not body.name.strip():
        raise HTTPException(status_code=422, detail="name must not be blank")
    obj = {E}(tenant_id=tenant_id, name=body.name, status=body.status)
    session.add(obj)
    await session.commit()
    await session.refresh(obj)
    logger.info("created {e} %s", obj.id)
    return {{"id": obj.id}}
'''

    def update_one(i):
        return f'''
@router.patch("/{es}/{{{e}_id}}/edit{i}")
async def update_{e}_{i}(
    {e}_id: int,
    body: {E}In,
    {deps}
):
    """Rename; 409 when the name is taken."""
    try:
        res = await session.execute(
            update({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id).values(name=body.name)
        )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(status_code=409, detail="name taken")
    if res.rowcount == 0:
        raise HTTPException(status_code=404, detail="{e} not found")
    return {{"id": {e}_id, "name": body.name}}
'''

    def delete_one(i):
        return f'''
@router.delete("/{es}/{{{e}_id}}/drop{i}", status_code=204)
async def delete_{e}_{i}(
    {e}_id: int,
    dry_run: bool = False,
    {deps}
):
    obj = await _load_{e}(session, tenant_id, {e}_id)
    if obj is None:
        raise HTTPException(status_code=404, detail="{e} not found")
    # session.execute(delete(...)) first: the audit rows reference the {e}
    await session.execute(delete({E}Audit).where({E}Audit.{e}_id == obj.id))
    await session.delete(obj)
    if not dry_run:
        await session.commit()
    return None
'''

    def export(i):
        return f'''
@router.get("/{es}/export{i}")
def export_{es}_{i}(tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    """CSV export; sync because the CSV writer is."""
    rows = db.execute(select({E}).where({E}.tenant_id == tenant_id).order_by({E}.id)).scalars().all()
    lines = ["id,name,status"]
    for r in rows:
        lines.append(f"{{r.id}},{{r.name}},{{r.status}}")
    return {{"csv": "\\n".join(lines), "count": len(rows)}}
'''

    def stats(i):
        return f'''
@router.get("/{es}/stats{i}")
async def {e}_stats_{i}(
    {deps}
):
    cache_key = f"{d}:stats:{{tenant_id}}"
    cached = await cache.execute("GET", cache_key)
    if cached is not None:
        return json.loads(cached)
    row = (
        await session.execute(select(func.count({E}.id), func.max({E}.id)).where({E}.tenant_id == tenant_id))
    ).one()
    stats = {{"count": row[0], "last_id": row[1]}}
    await cache.execute("SET", cache_key, json.dumps(stats))
    return stats
'''

    def dispatch(i):
        return f'''
@router.post("/{es}/{{{e}_id}}/archive{i}")
async def archive_{e}_{i}(
    {e}_id: int,
    {deps}
):
    registry = get_operation_registry()
    result = await registry.execute(
        "{d}.write", OperationContext(session=session, tenant_id=tenant_id, params={{"id": {e}_id}})
    )
    if not result.success:
        raise HTTPException(status_code=400, detail=result.error)
    return result.data
'''

    def audit(i):
        return f'''
@router.post("/{es}/{{{e}_id}}/touch{i}")
async def touch_{e}_{i}(
    {e}_id: int,
    {deps}
):
    """Record an audit row, then bump the status (two statements, one transaction)."""
    obj = await _load_{e}(session, tenant_id, {e}_id)
    if obj is None or obj.status == "archived":
        return {{"id": {e}_id, "touched": False}}
    session.add({E}Audit({e}_id={e}_id, action="touch"))
    await session.execute(update({E}).where({E}.id == {e}_id).values(status="touched"))
    await session.commit()
    return {{"id": {e}_id, "touched": True}}
'''

    return fill(rng, header, [listing, get_one, create, update_one, delete_one, export, stats, audit, dispatch], target)


# ---------------------------------------------------------------------------------------------
# L6 drivers
# ---------------------------------------------------------------------------------------------
def driver_module(ent: Entity, name: str, cls: str, rng: random.Random, target: int):
    """The module's text and the names of its functions that take the caller's session."""
    E, e, es = ent.E, ent.e, ent.es
    header = f'''"""L6 driver: {es} ({name})."""

from __future__ import annotations

from typing import List, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import AsyncSessionLocal, get_engine
from app.models.{ent.d} import {E}, {E}Audit


class {cls}:
    """Reads and writes {es} on the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, tenant_id: str, {e}_id: int) -> Optional[{E}]:
        result = await self._session.execute(select({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id))
        return result.scalar_one_or_none()

    async def create(self, tenant_id: str, name: str) -> int:
        obj = {E}(tenant_id=tenant_id, name=name)
        self._session.add(obj)
        await self._session.commit()
        await self._session.refresh(obj)
        return obj.id

    async def rename(self, tenant_id: str, {e}_id: int, name: str) -> bool:
        try:
            res = await self._session.execute(
                update({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id).values(name=name)
            )
            await self._session.commit()
        except Exception:
            await self._session.rollback()
            raise
        return res.rowcount > 0
'''
    functions: list[str] = []

    def injected(i):
        functions.append(f"set_status_{i}")
        return f'''
async def set_status_{i}(session: AsyncSession, tenant_id: str, {e}_id: int, status: str) -> None:
    await session.execute(
        update({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id).values(status=status)
    )
    session.add({E}Audit({e}_id={e}_id, action=status))
    await session.commit()
'''

    def reader(i):
        return f'''
async def list_{es}_{i}(session: AsyncSession, tenant_id: str, limit: int = 50) -> List[{E}]:
    """Newest first. (Callers pass their session; session.execute(...) never commits.)"""
    rows = await session.execute(
        select({E}).where({E}.tenant_id == tenant_id).order_by({E}.id.desc()).limit(limit)
    )
    return list(rows.scalars())
'''

    def self_opened(i):
        return f'''
async def purge_{es}_{i}(tenant_id: str, keep_last: int = 100) -> int:
    # Opens its own session: runs from a nightly job without a request.
    async with AsyncSessionLocal() as session:
        ids = (
            await session.execute(select({E}.id).where({E}.tenant_id == tenant_id).order_by({E}.id.desc()))
        ).scalars().all()
        if len(ids) <= keep_last:
            return 0
        res = await session.execute(delete({E}).where({E}.id.in_(ids[keep_last:])))
        await session.commit()
        return res.rowcount
'''

    def sync_opened(i):
        return f'''
def count_{es}_{i}(tenant_id: str) -> int:
    with Session(get_engine()) as session:
        total = session.execute(select({E}.id).where({E}.tenant_id == tenant_id)).scalars().all()
        if not total:
            session.rollback()
            return 0
        return len(total)
'''

    def helper_session(i):
        return f'''
class {cls}Legacy{i}:
    """Uses the given session, or opens its own."""

    def __init__(self, session: Optional[Session] = None) -> None:
        self._session = session

    def _get_session(self) -> Session:
        if self._session is not None:
            return self._session
        return Session(get_engine())

    def mark(self, tenant_id: str, {e}_id: int, status: str) -> bool:
        session = self._get_session()
        try:
            obj = session.execute(
                select({E}).where({E}.tenant_id == tenant_id, {E}.id == {e}_id)
            ).scalar_one_or_none()
            if obj is None:
                return False
            obj.status = status
            session.commit()
            return True
        finally:
            if self._session is None:
                session.close()
'''

    text = fill(rng, header, [injected, injected, reader, self_opened, sync_opened, helper_session], target)
    return text, functions


# ---------------------------------------------------------------------------------------------
# L4 handlers: they call the drivers and own the transaction (the callers l6-transaction looks for)
# ---------------------------------------------------------------------------------------------
def handler_module(ent: Entity, api: list) -> str:
    imports, branches = [], []
    for module, functions, cls in api:
        imports.append(f"from app.hoc.cus.{ent.d}.L6_drivers import {module}\n")
        imports.append(f"from app.hoc.cus.{ent.d}.L6_drivers.{module} import {cls}\n")
        branches.append(
            f'''        if method == "{module}.create":
            driver = {cls}(ctx.session)
            new_id = await driver.create(ctx.tenant_id, ctx.params["name"])
            await ctx.session.commit()
            return OperationResult.ok({{"id": new_id}})
        if method == "{module}.rename":
            driver = {cls}(ctx.session)
            done = await driver.rename(ctx.tenant_id, ctx.params["id"], ctx.params["name"])
            await ctx.session.commit()
            return OperationResult.ok({{"renamed": done}})
'''
        )
        for fn in functions:
            branches.append(
                f'''        if method == "{module}.{fn}":
            await {module}.{fn}(ctx.session, ctx.tenant_id, ctx.params["id"], ctx.params["status"])
            await ctx.session.commit()
            return OperationResult.ok(None)
'''
            )
    return f'''"""L4 handlers for the {ent.d} domain. They own the transaction."""

from __future__ import annotations

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult
{"".join(imports)}

class {ent.E}WriteHandler:
    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params.get("method", "")
{"".join(branches)}        return OperationResult.fail(f"unknown method: {{method}}")


def register(registry):
    registry.register("{ent.d}.write", {ent.E}WriteHandler())
'''


# ---------------------------------------------------------------------------------------------
# L5 engines and the files in no checked layer
# ---------------------------------------------------------------------------------------------
def engine_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, e = ent.E, ent.e
    header = f'''"""L5 engine: business rules for {ent.es}."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable
'''
    if rng.random() < 0.3:  # a known layering smell, as real engines have
        header += "\nfrom app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext\n"

    def rule(i):
        return f'''
@dataclass
class {E}Rule{i}:
    threshold: Decimal = Decimal("{rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
    weight: int = {rng.randint(1, 9)}

    def applies(self, amount: Decimal) -> bool:
        return amount >= self.threshold

    def score(self, amounts: Iterable[Decimal]) -> int:
        total = 0
        for amount in amounts:
            if self.applies(amount):
                total += self.weight
            elif amount < 0:
                raise ValueError("negative amount")
        return total
'''

    def helper(i):
        return f'''
def normalise_{e}_name_{i}(name: str) -> str:
    """Trim, collapse spaces, title-case the words."""
    words = [w for w in name.strip().split(" ") if w]
    if not words:
        raise ValueError("empty name")
    return " ".join(w[:1].upper() + w[1:].lower() for w in words)
'''

    return fill(rng, header, [rule, helper], target)


def model_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, e = ent.E, ent.e
    header = f'''"""ORM models: {ent.d}."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class {E}(Base):
    __tablename__ = "{ent.es}"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="active")


class {E}Audit(Base):
    __tablename__ = "{e}_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    {e}_id: Mapped[int] = mapped_column(ForeignKey("{ent.es}.id"))
    action: Mapped[str] = mapped_column(String(32))
'''

    def table(i):
        cols = "".join(
            f"    {rng.choice(WORDS)}_{j}: Mapped[Optional[{rng.choice(['int', 'str', 'datetime'])}]] = mapped_column(nullable=True)\n"
            for j in range(rng.randint(3, 12))
        )
        return f'''
class {E}Extra{i}(Base):
    __tablename__ = "{e}_extra_{i}"

    id: Mapped[int] = mapped_column(primary_key=True)
    {e}_id: Mapped[int] = mapped_column(ForeignKey("{ent.es}.id"), index=True)
{cols}'''

    return fill(rng, header, [table], target)


def service_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, e, es = ent.E, ent.e, ent.es
    header = f'''"""Application service for {es} (outside the HOC layers)."""

from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.{ent.d} import {E}

logger = logging.getLogger(__name__)
'''

    def lookup(i):
        return f'''
async def find_{e}_{i}(session: AsyncSession, tenant_id: str, name: str) -> Optional[{E}]:
    result = await session.execute(select({E}).where({E}.tenant_id == tenant_id, {E}.name == name))
    return result.scalar_one_or_none()
'''

    def write(i):
        return f'''
async def deactivate_{es}_{i}(session: AsyncSession, tenant_id: str, ids: list[int]) -> int:
    if not ids:
        return 0
    res = await session.execute(update({E}).where({E}.tenant_id == tenant_id, {E}.id.in_(ids)).values(status="inactive"))
    await session.commit()
    logger.info("deactivated %d {es}", res.rowcount)
    return res.rowcount
'''

    def logic(i):
        return f'''
class {E}Policy{i}:
    """Which {es} a tenant may see; no database access."""

    def __init__(self, roles: list[str]) -> None:
        self.roles = set(roles)

    def can_view(self, obj: {E}) -> bool:
        if "admin" in self.roles:
            return True
        return obj.status == "active" and "viewer" in self.roles

    def filter(self, objs: list[{E}]) -> list[{E}]:
        return [o for o in objs if self.can_view(o)]
'''

    return fill(rng, header, [lookup, write, logic, logic], target)


def test_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, e, es = ent.E, ent.e, ent.es
    header = f'''"""Tests for {es}."""

import pytest
from sqlalchemy import select

from app.models.{ent.d} import {E}
'''

    def db_test(i):
        return f'''
@pytest.mark.asyncio
async def test_{e}_roundtrip_{i}(session):
    session.add({E}(tenant_id="t{i}", name="n{i}"))
    await session.commit()
    rows = (await session.execute(select({E}).where({E}.tenant_id == "t{i}"))).scalars().all()
    assert [r.name for r in rows] == ["n{i}"]
'''

    def api_test(i):
        return f'''
def test_list_{es}_{i}(client):
    response = client.get("/{ent.d}/{es}/page{i}", headers={{"x-tenant": "t1"}})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] >= 0
    assert isinstance(body["items"], list)
'''

    def pure_test(i):
        return f'''
@pytest.mark.parametrize("raw, expected", [("  a  b ", "A B"), ("x", "X"), ("MiXed case", "Mixed Case")])
def test_normalise_{i}(raw, expected):
    words = [w for w in raw.strip().split(" ") if w]
    assert " ".join(w[:1].upper() + w[1:].lower() for w in words) == expected
'''

    return fill(rng, header, [db_test, api_test, pure_test, pure_test], target)


def util_module(ent: Entity, rng: random.Random, target: int) -> str:
    header = '''"""Small helpers with no database access."""

from __future__ import annotations

import re
from datetime import datetime, timezone
'''

    def slug(i):
        return f'''
def slugify_{i}(text: str, max_len: int = {rng.randint(20, 80)}) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:max_len] or "item"
'''

    def when(i):
        return f'''
def parse_when_{i}(value: str) -> datetime:
    """ISO dates, with or without a time; naive values are UTC."""
    if "T" not in value:
        value += "T00:00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
'''

    def chunks(i):
        return f'''
def chunks_{i}(items: list, size: int = {rng.randint(10, 500)}):
    # A docstring-free helper: "session.execute(" in a string is not a call.
    if size <= 0:
        raise ValueError("size must be positive: session.execute(...) batches need one")
    for start in range(0, len(items), size):
        yield items[start : start + size]
'''

    return fill(rng, header, [slug, when, chunks], target)


def schema_module(ent: Entity, rng: random.Random, target: int) -> str:
    E = ent.E
    header = f'''"""Pydantic schemas for {ent.es}."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field
'''

    def schema(i):
        fields = "".join(
            f"    {rng.choice(WORDS)}_{j}: Optional[{rng.choice(['int', 'str', 'float', 'bool'])}] = None\n"
            for j in range(rng.randint(2, 10))
        )
        return f'''
class {E}Schema{i}(BaseModel):
    id: int
    name: str = Field(min_length=1, max_length=200)
{fields}'''

    return fill(rng, header, [schema], target)


def worker_module(ent: Entity, rng: random.Random, target: int) -> str:
    E, es = ent.E, ent.es
    header = f'''"""Background jobs for {es}: each opens its own session."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from app.db import AsyncSessionLocal, SessionLocal
from app.models.{ent.d} import {E}

logger = logging.getLogger(__name__)
'''

    def job(i):
        return f'''
async def refresh_{es}_{i}(tenant_id: str) -> int:
    async with AsyncSessionLocal() as session:
        rows = (await session.execute(select({E}).where({E}.tenant_id == tenant_id))).scalars().all()
        for row in rows:
            row.status = "active" if row.name else "empty"
        await session.commit()
    logger.info("refreshed %d {es}", len(rows))
    return len(rows)
'''

    def sync_job(i):
        return f'''
def close_{es}_{i}(tenant_id: str) -> None:
    db = SessionLocal()
    try:
        db.execute(update({E}).where({E}.tenant_id == tenant_id).values(status="closed"))
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
'''

    return fill(rng, header, [job, sync_job], target)


def migration_module(ent: Entity, rng: random.Random, target: int) -> str:
    header = f'''"""{ent.d}: schema change."""

import sqlalchemy as sa
from alembic import op

revision = "{rng.getrandbits(48):012x}"
down_revision = None
'''

    def step(i):
        return f'''
def upgrade_step_{i}() -> None:
    op.add_column("{ent.es}", sa.Column("extra_{i}", sa.String(64), nullable=True))
    op.execute("UPDATE {ent.es} SET extra_{i} = name")
    conn = op.get_bind()
    conn.execute(sa.text("ANALYZE {ent.es}"))
'''

    return fill(rng, header, [step], target)


FILLERS = {
    "service": service_module,
    "test": test_module,
    "util": util_module,
    "schema": schema_module,
    "worker": worker_module,
    "migration": migration_module,
}


# ---------------------------------------------------------------------------------------------
# The special corpora for fix scaling
# ---------------------------------------------------------------------------------------------
def driver_commits(g: Gen, n: int) -> None:
    """One L6 driver with n functions that each commit, and an L4 handler calling every one."""
    ent = g.domain(1.0)
    fns = "".join(
        f'''

async def step_{i}(session: AsyncSession, tenant_id: str, {ent.e}_id: int, status: str) -> None:
    await session.execute(update({ent.E}).where({ent.E}.id == {ent.e}_id).values(status=status))
    await session.commit()
'''
        for i in range(n)
    )
    g.add(
        f"backend/app/hoc/cus/{ent.d}/L6_drivers/bulk_driver.py",
        f'''"""L6 driver with many small writes."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.{ent.d} import {ent.E}
{fns}''',
    )
    # Its callers: one small L4 handler per step that commits after the call (not one giant
    # method), so that the time measured is the driver's, as in real handler modules.
    handlers = "".join(
        f'''

class Step{i}Handler:
    async def execute(self, ctx: OperationContext) -> OperationResult:
        await bulk_driver.step_{i}(ctx.session, ctx.tenant_id, ctx.params["id"], ctx.params["status"])
        await ctx.session.commit()
        return OperationResult.ok(None)
'''
        for i in range(n)
    )
    registrations = "".join(f'    registry.register("{ent.d}.step_{i}", Step{i}Handler())\n' for i in range(n))
    g.add(
        f"backend/app/hoc/cus/hoc_spine/orchestrator/handlers/{ent.d}_handler.py",
        f'''"""L4 handlers for the bulk steps. They own the transaction."""

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult
from app.hoc.cus.{ent.d}.L6_drivers import bulk_driver
{handlers}

def register(registry):
{registrations}''',
    )


def router_endpoints(g: Gen, n: int) -> None:
    """One L2 router with n endpoints, each running a statement and committing."""
    ent = g.domain(1.0)
    eps = "".join(
        f'''

@router.post("/{ent.es}/{{{ent.e}_id}}/step{i}")
async def step_{i}({ent.e}_id: int, tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)):
    await session.execute(update({ent.E}).where({ent.E}.tenant_id == tenant_id, {ent.E}.id == {ent.e}_id).values(status="s{i}"))
    await session.commit()
    return {{"id": {ent.e}_id}}
'''
        for i in range(n)
    )
    g.add(
        f"backend/app/hoc/api/cus/{ent.d}/{ent.es}.py",
        f'''"""A router with many endpoints."""

from fastapi import APIRouter, Depends
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import current_tenant
from app.db import get_async_session_dep
from app.models.{ent.d} import {ent.E}

router = APIRouter(prefix="/{ent.d}")
{eps}''',
    )


# ---------------------------------------------------------------------------------------------
# Known counts, from the written files with Python's parser
# ---------------------------------------------------------------------------------------------
def sites(path: str, text: str) -> dict[str, list[str]]:
    tree = ast.parse(text, filename=path)
    found: dict[str, list[str]] = {k: [] for k in ("l2-execute", "l6-commit-rollback", "execute-any", "await-commit")}

    lines = text.splitlines()

    def at(node: ast.AST) -> str:
        return f"{path}:{node.lineno}:{node.col_offset + 1}"

    def source(node: ast.AST) -> str:
        # ast.get_source_segment, without re-splitting the file on every call. Generated files
        # are ASCII, so ast's byte offsets are character offsets.
        if node.lineno == node.end_lineno:
            return lines[node.lineno - 1][node.col_offset : node.end_col_offset]
        return "\n"  # a receiver spanning lines is never a plain name: not session-like

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            recv = source(node.func.value)
            if node.func.attr in ("execute", "exec") and SESSION_LIKE.match(recv):
                found["execute-any"].append(at(node))
                if path.startswith(L2_PREFIX):
                    found["l2-execute"].append(at(node))
            if node.func.attr in ("commit", "rollback") and L6_PATH.match(path):
                found["l6-commit-rollback"].append(at(node))
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Await)
            and isinstance(call := node.value.value, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "commit"
            and not call.args
            and not call.keywords
        ):
            found["await-commit"].append(at(node.value))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--lines", type=int, help="a whole backend of about this many lines")
    what.add_argument("--driver-commits", type=int, help="one L6 driver with this many commits")
    what.add_argument("--router-endpoints", type=int, help="one L2 router with this many endpoints")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} exists and is not empty")
    g = Gen(args.seed)
    g.skeleton()
    if args.lines is not None:
        # A router and a driver first, so that even the smallest corpus has both.
        g.make("router")
        g.make("driver")
        kinds, weights = zip(*KINDS)
        while g.total_lines < args.lines:
            g.make(g.rng.choices(kinds, weights)[0])
    elif args.driver_commits is not None:
        driver_commits(g, args.driver_commits)
    else:
        router_endpoints(g, args.router_endpoints)
    g.finish()

    all_sites: dict[str, list[str]] = {}
    for path, text in sorted(g.files.items()):
        dest = args.out / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        for rule, locs in sites(path, text).items():
            all_sites.setdefault(rule, []).extend(locs)
    paths = list(g.files)
    counts = {
        "seed": args.seed,
        "lines": g.total_lines,
        "files": len(paths),
        "l2_files": sum(p.startswith(L2_PREFIX) for p in paths),
        "l6_files": sum(bool(L6_PATH.match(p)) for p in paths),
        "largest_file_lines": max(t.count("\n") for t in g.files.values()),
        "sites": {rule: len(locs) for rule, locs in all_sites.items()},
    }
    (args.out / "counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    (args.out / "sites.json").write_text(json.dumps(all_sites, indent=1) + "\n")
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
