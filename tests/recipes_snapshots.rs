//! Snapshot tests (insta, stored in `snapshots/`) of every shipped recipe: `check` diagnostics on a
//! positive and a negative input, and for the fixable recipes the `fix --dry-run` diff and summary and
//! the summary of a real fix.

mod common;

use std::path::Path;

use common::{init_project, run, write};

const L2: &str = "backend/app/hoc/api/cus/shop/items.py";
const L2_ORDERS: &str = "backend/app/hoc/api/cus/shop/orders.py";
const L4: &str = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py";
const L5: &str = "backend/app/hoc/cus/shop/L5_engines/pricing_engine.py";
const L6: &str = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
const L6_LEGACY: &str = "backend/app/hoc/cus/shop/L6_drivers/legacy_driver.py";

/// Snapshots `value` under `name` in /snapshots, with the temp dir path normalised.
fn snapshot(name: &str, root: &Path, value: &str) {
    let root = std::fs::canonicalize(root).unwrap().display().to_string();
    let value = value.replace(&root, "[ROOT]");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, value);
    });
}

/// A project (strata init) holding `files`; runs `check --select id --color never`, snapshots the
/// output, checks the exit code and returns the project.
fn check_case(id: &str, case: &str, files: &[(&str, &str)], expect_violations: bool) -> tempfile::TempDir {
    let dir = init_project();
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    // Planned, so the snapshot shows what `fix` does with each site (the manual reasons of transforms).
    let (code, stdout, stderr) = run(dir.path(), &["check", "--plan", "--select", id, "--color", "never"]);
    assert!(!stdout.contains("warning: skipped"), "an input did not parse:\n{stdout}");
    assert_eq!(code, if expect_violations { 1 } else { 0 }, "{id} {case}:\n{stdout}{stderr}");
    if expect_violations {
        assert!(stdout.contains(&format!("[{id}]")), "{stdout}");
    } else {
        assert!(stdout.starts_with("No violations found."), "{id} {case} must be clean:\n{stdout}");
    }
    snapshot(&format!("{id}__{case}__check"), dir.path(), &stdout);
    dir
}

/// Snapshots the `fix --dry-run` diff and summary, then applies the fix and snapshots its summary and
/// the fixed files; finally a second run must change nothing.
fn fix_case(id: &str, case: &str, dir: &Path, fixed_files: &[&str]) {
    let (code, diff, summary) = run(dir, &["fix", "--dry-run", "--select", id, "--color", "never"]);
    assert_eq!(code, 1, "{id}: the dry run has changes:\n{diff}{summary}");
    assert!(diff.starts_with("--- "), "{diff}");
    snapshot(&format!("{id}__{case}__dry_run_diff"), dir, &diff);
    snapshot(&format!("{id}__{case}__dry_run_summary"), dir, &summary);
    let (code, _, summary) = run(dir, &["fix", "--allow-dirty", "--select", id, "--color", "never"]);
    // Each positive case keeps one site that is left manual: the violation remains, exit 1.
    assert_eq!(code, 1, "{summary}");
    assert!(summary.contains("1 violation remains"), "{summary}");
    assert!(!summary.contains("Dropped"), "a change set strata built was refused by its own checks:\n{summary}");
    snapshot(&format!("{id}__{case}__fix_summary"), dir, &summary);
    let mut fixed = String::new();
    for rel in fixed_files {
        fixed.push_str(&format!("=== {rel}\n{}", common::read(dir, rel)));
    }
    // What the snapshot shows must at least compile.
    let compiled = std::process::Command::new(common::python())
        .args(["-m", "py_compile"])
        .args(fixed_files.iter().map(|rel| dir.join(rel)))
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    snapshot(&format!("{id}__{case}__fixed_files"), dir, &fixed);
    let (code, diff, _) = run(dir, &["fix", "--dry-run", "--select", id]);
    assert!(diff.is_empty(), "a second run would change:\n{diff}");
    assert_eq!(code, 1, "the manual site remains");
}

/// Words that must never match: comments, docstrings, strings, f-strings.
const NOISE: &str = r#""""Module docstring: session.execute(q), db.exec(q), session.commit(), db.rollback(),
Session(engine), create_engine(url), get_orders_from_l4(), registry.execute("x"), APIRouter()."""
# session.execute(select(Item)); db.commit(); session.rollback(); Session(engine)
# from app.hoc.cus.hoc_spine.orchestrator import registry; get_pricing_from_l4()
SQL = "session.execute(select(Item)); db.commit(); Session(engine); create_engine('sqlite://')"
RAW = r'conn.execute(text("..."))'
BYTES = b"db.exec(q)"
"#;

// ================================================================ l2-db-execute

const L2_DB_POSITIVE: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import insert, select

from app.db import get_async_session, get_session

router = APIRouter()


@router.get("/items")
async def list_items(db_session=Depends(get_session)):
    result = await db_session.execute(select(Item))
    return [row.name for row in result.scalars()]


@router.post("/items")
async def create_item(payload: dict):
    async with get_async_session() as session:
        async with session.begin():
            await session.exec(insert(Item).values(**payload))
    return {"ok": True}


class ItemView:
    def __init__(self, session):
        self._session = session

    @property
    def names(self):
        return [r.name for r in self._session.execute(select(Item)).scalars()]


def count(conn, db, sync_session):
    total = sum(1 for _ in conn.execute(select(Item)))
    total += len({row.id: row for row in db.execute(select(Item))})
    return total + sync_session.execute(select(Item)).rowcount
"#;

const L2_DB_NEGATIVE: &str = r#"from fastapi import APIRouter

router = APIRouter()
registry = get_operation_registry()


@router.get("/items")
async def list_items(tenant_id: str):
    """Calls session.execute(select(Item)) through the registry, never db.execute()."""
    # db.execute(select(Item)) would be wrong here
    message = f"session.execute({tenant_id})"
    runner.execute(job)
    engine.execute("select 1")
    executor.exec(task)
    session.executemany(rows)
    session.add(message)
    return await registry.execute("shop.items", OperationContext(params={"tenant_id": tenant_id}))
"#;

#[test]
fn l2_db_execute() {
    check_case("l2-db-execute", "positive", &[(L2, L2_DB_POSITIVE)], true);
    check_case("l2-db-execute", "negative", &[(L2, &format!("{NOISE}{L2_DB_NEGATIVE}"))], false);
    // The same code outside L2 is not this rule's business.
    check_case("l2-db-execute", "outside_l2", &[(L6, L2_DB_POSITIVE)], false);
}

// ================================================================ l2-transaction

const L2_TX_POSITIVE: &str = r#"from fastapi import APIRouter, Depends, HTTPException

router = APIRouter()


@router.post("/orders")
async def create_order(payload: dict, db_session=Depends(get_session)):
    db_session.add(Order(**payload))
    try:
        await db_session.commit()
    except Exception:
        await db_session.rollback()
        raise HTTPException(status_code=409)
    return {"ok": True}


@router.delete("/orders/{order_id}")
def delete_order(order_id: int, db=Depends(get_db)):
    with db.begin_nested():
        if order_id:
            db.delete(db.get(Order, order_id))
            db.commit()


class OrderApi:
    def __init__(self, session):
        self._session = session

    async def close(self):
        await self._session.rollback()

    def flush_all(self, conn, async_session):
        [conn.commit() for _ in range(1)]
        return async_session.commit()
"#;

const L2_TX_NEGATIVE: &str = r#"from fastapi import APIRouter

router = APIRouter()


@router.post("/orders")
async def create_order(payload: dict):
    """The handler runs session.commit() for us; L2 never calls db.rollback()."""
    # session.commit()  -- not here
    note = f"db.commit() is {payload!r}"
    transaction.commit()
    repo.rollback()
    git.commit("message")
    session.commit_later = True
    return await registry.execute("shop.orders", OperationContext(params=payload))
"#;

#[test]
fn l2_transaction() {
    check_case("l2-transaction", "positive", &[(L2_ORDERS, L2_TX_POSITIVE)], true);
    check_case("l2-transaction", "negative", &[(L2_ORDERS, &format!("{NOISE}{L2_TX_NEGATIVE}"))], false);
}

// ================================================================ l6-transaction (fixable)

const L6_TX_POSITIVE: &str = r#""""Items driver."""

from sqlalchemy import select, update


async def save_item(session, item):
    session.add(item)
    await session.commit()


def rename_item(db_session, item_id: int, name: str) -> None:
    try:
        db_session.execute(update(Item).where(Item.id == item_id).values(name=name))
        db_session.commit()
    except Exception:
        db_session.rollback()


class ItemWriter:
    def __init__(self, session):
        self._session = session

    @staticmethod
    def label():
        return "writer"

    async def create(self, name: str) -> int:
        item = Item(name=name)
        self._session.add(item)
        await self._session.commit()
        await self._session.refresh(item)
        return item.id

    async def archive(self, ids):
        for item_id in ids:
            if item_id:
                await self._session.execute(update(Item).where(Item.id == item_id).values(archived=True))
        await self._session.commit()

    def touch(self, item):
        self._session.add(item)
        self._session.commit()
        return item.id


def self_made(item):
    with Session(engine) as session:
        session.add(item)
        session.commit()
"#;

const L6_TX_NEGATIVE: &str = r#"from sqlalchemy import select


async def list_items(session):
    """Never calls session.commit() or session.rollback(): the L4 handler does."""
    # await session.commit()
    text = f"{session}.commit()"
    rows = await session.execute(select(Item))
    await session.flush()
    transaction_log.append("session.rollback()")
    return [r for r in rows.scalars()]
"#;

#[test]
fn l6_transaction() {
    // Without a caller that commits, deleting a driver's commit is only an unsafe fix.
    check_case("l6-transaction", "no_committing_caller", &[(L6, L6_TX_POSITIVE)], true);
    let dir =
        check_case("l6-transaction", "positive", &[(L6, L6_TX_POSITIVE), (L4_CALLER, L4_COMMITTING_CALLER)], true);
    fix_case("l6-transaction", "positive", dir.path(), &[L6]);
    check_case("l6-transaction", "negative", &[(L6, &format!("{NOISE}{L6_TX_NEGATIVE}"))], false);
}

/// The L4 handler that calls every driver function above and commits after each call.
const L4_CALLER: &str = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py";
const L4_COMMITTING_CALLER: &str = r#"from app.hoc.cus.shop.L6_drivers.items_driver import ItemWriter, rename_item, save_item


async def handle(ctx, item):
    await save_item(ctx.session, item)
    rename_item(ctx.session, item.id, "x")
    writer = ItemWriter(ctx.session)
    await writer.create("a")
    await writer.archive([item.id])
    writer.touch(item)
    await ctx.session.commit()
"#;

// ================================================================ l6-session-lifecycle (fixable)

const L6_SESSION_POSITIVE: &str = r#""""Legacy driver: makes its own sessions."""

from typing import List, Optional

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.db import get_async_session, get_engine


class LegacyDriver:
    def __init__(self, session: Optional[Session] = None):
        self._session = session

    def _get_session(self) -> Session:
        if self._session is not None:
            return self._session
        return Session(get_engine())

    def list_items(self) -> List[Item]:
        session = self._get_session()
        try:
            return list(session.execute(select(Item)).scalars())
        finally:
            if self._session is None:
                session.close()


async def recent(limit: int):
    async with get_async_session() as session:
        rows = await session.execute(select(Item).limit(limit))
        return [r for r in rows.scalars()]


def count_sync() -> int:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        return conn.execute(select(Item)).rowcount
"#;

const L6_SESSION_NEGATIVE: &str = r#"from sqlalchemy import select
from sqlalchemy.orm import Session


class ItemDriver:
    """Uses the injected session; never calls Session(engine) or create_engine(url)."""

    def __init__(self, session: Session):
        # self._session = Session(engine)  -- not any more
        self._session = session
        self.label = f"Session({session!r})"

    def list_items(self):
        return list(self._session.execute(select(Item)).scalars())

    def session_factory_name(self) -> str:
        return "sessionmaker(bind=engine)"
"#;

#[test]
fn l6_session_lifecycle() {
    let dir = check_case("l6-session-lifecycle", "positive", &[(L6_LEGACY, L6_SESSION_POSITIVE)], true);
    fix_case("l6-session-lifecycle", "positive", dir.path(), &[L6_LEGACY]);
    check_case("l6-session-lifecycle", "negative", &[(L6_LEGACY, &format!("{NOISE}{L6_SESSION_NEGATIVE}"))], false);
}

// ================================================================ l4-service-locator

const L4_LOCATOR_POSITIVE: &str = r#"from app.hoc.cus.shop.L6_drivers.items_driver import ItemDriver


def get_items_driver_from_l4(session):
    return ItemDriver(session)


async def get_pricing_engine_from_l4():
    return PricingEngine()


class ShopHandler:
    async def execute(self, ctx):
        driver = get_items_driver_from_l4(ctx.session)
        engine = await get_pricing_engine_from_l4()
        return [driver, engine]
"#;

const L5_LOCATOR_CALLER: &str = r#"from app.hoc.cus.hoc_spine.services import locators


def price(item):
    return locators.get_pricing_engine_from_l4().price(item)
"#;

const L4_LOCATOR_NEGATIVE: &str = r#"def get_items_driver(session):
    """Not a locator: get_items_driver_from_l4() is only mentioned here."""
    # get_items_driver_from_l4(session)
    name = "get_items_driver_from_l4"
    label = f"{name}_from_l4"
    return ItemDriver(session)


def load_from_l4_cache():
    return get_from_l4_table
"#;

#[test]
fn l4_service_locator() {
    check_case("l4-service-locator", "positive", &[(L4, L4_LOCATOR_POSITIVE), (L5, L5_LOCATOR_CALLER)], true);
    check_case("l4-service-locator", "negative", &[(L4, &format!("{NOISE}{L4_LOCATOR_NEGATIVE}"))], false);
}

// ================================================================ l5-imports-l4

const L5_IMPORTS_POSITIVE: &str = r#"import app.hoc.cus.hoc_spine.orchestrator
import app.hoc.cus.hoc_spine.orchestrator.operation_registry as reg
from app.hoc.cus.hoc_spine.orchestrator.handlers import shop_handler
from app.hoc.cus.hoc_spine.orchestrator import (
    OperationContext,
    get_operation_registry,
)


def price(item):
    if item:
        from app.hoc.cus.hoc_spine.orchestrator.coordinators import pricing_bridge

        return pricing_bridge.price(item)
    return 0
"#;

const L5_IMPORTS_NEGATIVE: &str = r#""""Engine: must not import app.hoc.cus.hoc_spine.orchestrator."""
# from app.hoc.cus.hoc_spine.orchestrator import registry
import app.hoc.cus.hoc_spine.services.pricing_facade
from app.hoc.cus.shop.L6_drivers.items_driver import ItemDriver
from app.orchestrator_utils import helper

ORCHESTRATOR = "app.hoc.cus.hoc_spine.orchestrator"
WHERE = f"{ORCHESTRATOR}.handlers"
"#;

#[test]
fn l5_imports_l4() {
    check_case("l5-imports-l4", "positive", &[(L5, L5_IMPORTS_POSITIVE)], true);
    check_case("l5-imports-l4", "negative", &[(L5, &format!("{NOISE}{L5_IMPORTS_NEGATIVE}"))], false);
}

// ================================================================ l2-registry-dispatch

const ROUTER_UNCLASSIFIED: &str = r#"from fastapi import APIRouter
from sqlalchemy import select

router = APIRouter(prefix="/items")
# registry.execute("shop.items", ...) is only a comment here


@router.get("/")
async def list_items(session):
    return await session.execute(select(Item))
"#;

const ROUTER_MODULE_ATTR: &str = r#"import fastapi
from app.db import get_session

router = fastapi.APIRouter()


@router.get("/orders")
def list_orders():
    return "registry.execute('shop.orders')"
"#;

const ROUTER_BRIDGE: &str = r#"from fastapi import APIRouter
from sqlalchemy import select
from app.hoc.cus.hoc_spine.orchestrator.coordinators.bridges import get_shop_bridge

router = APIRouter()


@router.get("/bridge")
async def via_bridge():
    return await get_shop_bridge().list_items()
"#;

const ROUTER_FACADE: &str = r#"from fastapi import APIRouter
from sqlalchemy import select
from app.hoc.cus.hoc_spine.services.shop_facade import ShopFacade

router = APIRouter()


@router.get("/facade")
async def via_facade():
    return await ShopFacade().list_items()
"#;

const ROUTER_ADAPTER: &str = r#"from fastapi import APIRouter
from sqlalchemy import select
import app.adapters.shop_adapter as adapter

router = APIRouter()


@router.get("/adapter")
async def via_adapter():
    return await adapter.list_items()
"#;

const ROUTER_STATELESS: &str = r#"from fastapi import APIRouter

router = APIRouter()


@router.get("/health")
def health():
    return {"status": "ok"}
"#;

const ROUTER_DISPATCHING: &str = r#"from fastapi import APIRouter
from sqlalchemy import select

router = APIRouter()


@router.get("/items")
async def list_items(tenant_id: str):
    registry = get_operation_registry()
    return await registry.execute("shop.items", OperationContext(params={"tenant_id": tenant_id}))
"#;

const NOT_A_ROUTER: &str = r#""""Helpers; mentions APIRouter() only in text."""
from sqlalchemy import select

# router = APIRouter()
NAME = "APIRouter()"
LABEL = f"{NAME}: APIRouter(prefix='/x')"
"#;

#[test]
fn l2_registry_dispatch() {
    let api = "backend/app/hoc/api/cus/shop";
    check_case(
        "l2-registry-dispatch",
        "positive",
        &[
            (&format!("{api}/items.py"), ROUTER_UNCLASSIFIED),
            (&format!("{api}/orders.py"), ROUTER_MODULE_ATTR),
            (&format!("{api}/bridge_api.py"), ROUTER_BRIDGE),
            (&format!("{api}/facade_api.py"), ROUTER_FACADE),
            (&format!("{api}/adapter_api.py"), ROUTER_ADAPTER),
            (&format!("{api}/health.py"), ROUTER_STATELESS),
        ],
        true,
    );
    let dir = check_case(
        "l2-registry-dispatch",
        "negative",
        &[
            (&format!("{api}/items.py"), &format!("{NOISE}{ROUTER_DISPATCHING}")),
            (&format!("{api}/helpers.py"), &format!("{NOISE}{NOT_A_ROUTER}")),
        ],
        false,
    );
    let (_, stdout, _) = run(dir.path(), &["check", "--select", "l2-registry-dispatch", "--format", "json"]);
    let v = common::json(&stdout);
    assert_eq!(v["summary"]["classified"], 0, "nothing to classify in the negative case: {stdout}");

    // The classified routers are counted per label, not hidden.
    let dir = init_project();
    for (name, text) in [
        ("bridge_api", ROUTER_BRIDGE),
        ("facade_api", ROUTER_FACADE),
        ("adapter_api", ROUTER_ADAPTER),
        ("health", ROUTER_STATELESS),
    ] {
        write(dir.path(), &format!("{api}/{name}.py"), text);
    }
    let (code, stdout, _) =
        run(dir.path(), &["check", "--select", "l2-registry-dispatch", "--color", "never", "--statistics"]);
    assert_eq!(code, 0, "{stdout}");
    snapshot("l2-registry-dispatch__classified__check", dir.path(), &stdout);
}
