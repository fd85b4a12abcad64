//! The central rewrite (`l2-db-execute` / `l2-transaction`): four-file diffs of representative
//! endpoints, the semantics of DESIGN.md §8, the manual shapes, and the sample app end to end.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

const WIRING: &str = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/__init__.py";

/// A project with the default layout, a handlers package and the given L2 module at `shop/items.py`.
fn project(l2: &str) -> tempfile::TempDir {
    let dir = init_project();
    write(dir.path(), WIRING, "def register_all_handlers(registry):\n    pass\n");
    write(dir.path(), "backend/app/hoc/api/cus/shop/items.py", l2);
    git_commit_all(dir.path());
    dir
}

fn dry_run(dir: &Path) -> (String, String) {
    let (code, stdout, stderr) = run(dir, &["fix", "--dry-run", "--color", "never"]);
    assert!(code == 0 || code == 1, "fix --dry-run failed: {stderr}");
    (stdout, stderr)
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, value);
    });
}

const ASYNC_PAGINATED: &str = r#"from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.models import Item

router = APIRouter()
PAGE_SIZE = 20


@router.get("/items")
async def list_items(page: int, tenant_id: str, session: AsyncSession = Depends(get_session)):
    if page < 1:
        raise HTTPException(status_code=422)
    total = (await session.execute(select(func.count(Item.id)).where(Item.tenant_id == tenant_id))).scalar_one()
    rows = await session.execute(select(Item).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    items = [r.name for r in rows.scalars()]
    return {"total": total, "items": items}
"#;

#[test]
fn async_endpoint_with_count_and_pagination_becomes_four_files() {
    let dir = project(ASYNC_PAGINATED);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 2 violations in 4 files"), "{summary}");
    // The driver reads the module constant from its home module and returns both values.
    assert!(diff.contains("+from app.hoc.api.cus.shop.items import PAGE_SIZE"), "{diff}");
    assert!(diff.contains("+    return {\"total\": total, \"rows\": rows}"), "{diff}");
    // Reads only: the handler does not commit.
    assert!(!diff.contains("commit()"), "{diff}");
    snapshot("extract_async_paginated", &diff);
}

const SYNC_WRITE: &str = r#"from fastapi import APIRouter, Depends
from sqlmodel import select
from sqlalchemy.orm import Session

from app.db import get_db
from ....models import Item

router = APIRouter()


@router.post("/items")
def create_item(name: str, db: Session = Depends(get_db)):
    result = "the endpoint's own result"
    op_result = "taken too"
    item = Item(name=name)
    try:
        existing = db.execute(select(Item).where(Item.name == name)).first()
        db.add(item)
        db.commit()
        db.refresh(item)
    except Exception:
        db.rollback()
        raise
    return {"id": item.id, "existed": existing is not None, "note": result + op_result}
"#;

#[test]
fn sync_write_keeps_sync_session_flushes_and_moves_the_transaction_to_the_handler() {
    let dir = project(SYNC_WRITE);
    let (diff, _) = dry_run(dir.path());
    // Sync stays sync: the driver is a plain function and the session is never awaited.
    assert!(diff.contains("+def create_item(db, *, name, item):"), "{diff}");
    assert!(diff.contains("+            ctx.session.commit()"), "{diff}");
    assert!(!diff.contains("await ctx.session"), "{diff}");
    // The endpoint must await the registry, so it becomes async (nothing else wraps or calls it).
    assert!(diff.contains("+async def create_item("), "{diff}");
    // Commit, then reading generated values: flush in the driver, commit in the handler.
    assert!(diff.contains("+    db.flush()") && diff.contains("+    db.refresh(item)"), "{diff}");
    // A rollback that re-raises stays a rollback, in the handler.
    assert!(diff.contains("+            ctx.session.rollback()\n+            raise"), "{diff}");
    // Fresh names: the endpoint already uses `result` and `op_result`.
    assert!(diff.contains("+    op_result_2 = await get_operation_registry().execute("), "{diff}");
    // Imports come from where the moved code got them; relative imports become absolute.
    assert!(diff.contains("+from sqlmodel import select"), "{diff}");
    assert!(diff.contains("+from app.hoc.models import Item"), "{diff}");
    snapshot("extract_sync_write", &diff);
}

#[test]
fn an_existing_handler_module_and_class_are_extended_not_duplicated() {
    let dir = project(ASYNC_PAGINATED);
    write(
        dir.path(),
        "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py",
        "from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult\n\n\n\
         class ShopStatsHandler:\n    async def execute(self, ctx: OperationContext) -> OperationResult:\n        return OperationResult.ok({})\n\n\n\
         def register(registry):\n    registry.register(\"shop.stats\", ShopStatsHandler())\n",
    );
    write(
        dir.path(),
        WIRING,
        "from app.hoc.cus.hoc_spine.orchestrator.handlers import shop_handler\n\n\n\
         def register_all_handlers(registry):\n    shop_handler.register(registry)\n",
    );
    let second = ASYNC_PAGINATED.replace("def list_items(", "def count_items(").replace("\"/items\"", "\"/count\"");
    let both = format!("{ASYNC_PAGINATED}\n\n{}", &second[second.find("@router").unwrap()..]);
    write(dir.path(), "backend/app/hoc/api/cus/shop/items.py", &both);
    git_commit_all(dir.path());
    let (code, _, stderr) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let handler = read(dir.path(), "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py");
    assert_eq!(handler.matches("class ShopItemsHandler").count(), 1, "{handler}");
    assert_eq!(handler.matches("registry.register(\"shop.items\"").count(), 1, "{handler}");
    assert!(
        handler.contains("if method == \"list_items\"") && handler.contains("if method == \"count_items\""),
        "{handler}"
    );
    let wiring = read(dir.path(), WIRING);
    assert_eq!(wiring.matches("shop_handler.register(registry)").count(), 1, "{wiring}");
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert_eq!(driver.matches("from app.hoc.api.cus.shop.items import PAGE_SIZE").count(), 1, "{driver}");
    snapshot(
        "extract_extended_handler",
        &format!("{handler}\n# ---- wiring ----\n{wiring}\n# ---- driver ----\n{driver}"),
    );
    // Idempotent: nothing left to do.
    let (code, _, _) = run(dir.path(), &["fix", "--dry-run", "--color", "never"]);
    assert_eq!(code, 0);
}

const MANUAL_SHAPES: &str = r#"from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from app.db import get_db, open_session
from app.models import Item

router = APIRouter()
COUNTER = 0


@router.get("/early")
async def early_return(item_id: int, db=Depends(get_db)):
    row = (await db.execute(select(Item).where(Item.id == item_id))).first()
    if row is None:
        return {"missing": True}
    more = (await db.execute(select(Item).where(Item.parent_id == item_id))).all()
    return {"row": row, "more": more}


@router.get("/not-found")
async def http_inside(item_id: int, db=Depends(get_db)):
    row = (await db.execute(select(Item).where(Item.id == item_id))).first()
    if row is None:
        raise HTTPException(status_code=404)
    more = (await db.execute(select(Item).where(Item.parent_id == item_id))).all()
    return {"row": row, "more": more}


@router.get("/stream")
async def streaming(db=Depends(get_db)):
    async def generate():
        for row in (await db.execute(select(Item))).scalars():
            yield row.name
    return generate()


@router.post("/touch")
async def uses_global(db=Depends(get_db)):
    global COUNTER
    await db.execute(select(Item))
    COUNTER += 1
    await db.commit()
    return {"n": COUNTER}


@router.get("/rebind")
async def rebinds(db=Depends(get_db)):
    rows = (await db.execute(select(Item))).all()
    db = open_session()
    more = (await db.execute(select(Item))).all()
    return {"rows": rows, "more": more}


@router.post("/swallow")
async def swallows(name: str, db=Depends(get_db)):
    created = True
    try:
        db.add(Item(name=name))
        await db.commit()
    except Exception:
        await db.rollback()
        created = False
    return {"created": created}


@router.get("/request")
async def reads_request(request: Request, db=Depends(get_db)):
    first = (await db.execute(select(Item))).first()
    body = await request.json()
    rows = (await db.execute(select(Item).where(Item.name == body["name"]))).all()
    return {"first": first, "rows": rows}


@router.get("/guarded")
async def guarded(db=Depends(get_db)):
    try:
        rows = (await db.execute(select(Item))).all()
    except ValueError:
        raise HTTPException(status_code=400)
    return {"rows": rows}


def helper(db):
    return db.execute(select(Item)).all()
"#;

#[test]
fn unsafe_shapes_are_reported_manual_with_reasons_and_left_untouched() {
    let dir = project(MANUAL_SHAPES);
    let before = tree_bytes(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let changed: Vec<String> = tree_bytes(dir.path())
        .into_iter()
        .filter(|(path, bytes)| before.get(path) != Some(bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(changed.is_empty(), "a manual site must never be rewritten, but these changed: {changed:?}");
    let summary = json(&stdout);
    let reasons: BTreeSet<String> =
        summary["manual"].as_array().unwrap().iter().map(|cs| cs["reason"].as_str().unwrap().to_string()).collect();
    let expect = [
        ("early_return", "`return` at line"),
        ("http_inside", "`HTTPException` at line"),
        ("generate", "is not a router endpoint"),
        ("uses_global", "is declared `global`/`nonlocal`"),
        ("rebinds", "the session `db` is rebound"),
        ("swallows", "does not re-raise"),
        ("reads_request", "`request` at line"),
        ("guarded", "whose `except` stays in L2"),
        ("helper", "is not a router endpoint"),
    ];
    for (endpoint, reason) in expect {
        assert!(
            reasons.iter().any(|r| r.contains(&format!("`{endpoint}`")) && r.contains(reason)),
            "no manual reason for {endpoint} containing {reason:?} in {reasons:#?}"
        );
    }
    snapshot("extract_manual_reasons", &reasons.into_iter().collect::<Vec<_>>().join("\n"));
}

#[test]
fn a_sync_endpoint_wrapped_by_another_decorator_stays_sync_and_manual() {
    let code = SYNC_WRITE.replace("@router.post(\"/items\")\n", "@router.post(\"/items\")\n@cached(ttl=5)\n");
    let dir = project(&code);
    let (_, summary) = dry_run(dir.path());
    assert!(summary.contains("`@cached(ttl=5)` also wraps it"), "{summary}");
    assert!(!summary.contains("Would fix 1"), "{summary}");
}

/// The sample app end to end: its suite passes, `strata fix` rewrites it, `strata check` finds only
/// the manual sites it listed, everything compiles, the suite passes again, a second fix is a no-op.
#[test]
fn sample_app_migrates_and_its_suite_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    copy_dir(&sample_app(), &app);
    git_commit_all(&app);
    let pytest = |when: &str| {
        let out = std::process::Command::new(python())
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(app.join("backend"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "pytest {when} the migration failed:\n{text}");
        assert!(text.contains(" passed"), "{text}");
    };
    pytest("before");

    let (code, stdout, stderr) = run(&app, &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let outcome = json(&stdout);
    let applied = outcome["applied"].as_array().unwrap();
    let migrated: BTreeSet<String> = applied
        .iter()
        .filter(|cs| matches!(cs["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .map(|cs| cs["description"].as_str().unwrap().to_string())
        .collect();
    assert!(migrated.len() >= 12, "only {} endpoints migrated: {migrated:#?}", migrated.len());
    let manual: BTreeSet<String> = outcome["manual"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cs| matches!(cs["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .map(|cs| cs["location"].as_str().unwrap().to_string())
        .collect();
    let manual_endpoints: BTreeSet<String> = outcome["manual"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|cs| cs["reason"].as_str()?.split('`').nth(1).map(str::to_string))
        .collect();
    assert!(manual_endpoints.len() >= 3, "{manual_endpoints:?}");

    let (_, stdout, _) = run(&app, &["check", "--format", "json", "--color", "never"]);
    let report = json(&stdout);
    let remaining: BTreeSet<String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .map(|v| format!("{}:{}:{}", v["path"].as_str().unwrap(), v["start"]["line"], v["start"]["column"]))
        .collect();
    assert_eq!(remaining, manual, "every remaining L2 violation is a listed manual site");
    assert_eq!(report["statistics"]["l6-transaction"]["violations"], 0);

    let files: Vec<String> = tree_bytes(&app).into_keys().filter(|p| p.ends_with(".py")).collect();
    let out = std::process::Command::new(python())
        .args(["-m", "py_compile"])
        .args(&files)
        .current_dir(&app)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    pytest("after");

    git_commit_all(&app);
    let before = tree_bytes(&app);
    let (code, stdout, _) = run(&app, &["fix", "--dry-run", "--color", "never"]);
    assert_eq!(code, 0, "a second fix would change:\n{stdout}");
    assert!(tree_bytes(&app) == before, "a dry run must not write");
}

const NESTED: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.get("/names")
async def names(tenant_id: str, db=Depends(get_db)):
    found = []
    if tenant_id:
        for kind in ("a", "b"):
            rows = (await db.execute(select(Item).where(Item.kind == kind))).scalars()
            found.extend(r.name for r in rows if (n := r.name))
    return {"names": found}
"#;

#[test]
fn code_in_nested_blocks_moves_from_the_innermost_block_holding_every_session_use() {
    let dir = project(NESTED);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 1 violation"), "{summary}");
    // The loop and the `if` stay in L2.
    assert!(diff.contains("         for kind in (\"a\", \"b\"):\n-            rows = "), "{diff}");
    assert!(diff.contains("+            op_result = await get_operation_registry().execute("), "{diff}");
    // Only the statement that uses the session moves (the smallest run holding every use); the
    // comprehension and its walrus stay in L2, `kind` comes from the loop, `rows` goes back.
    assert!(diff.contains("+async def names(db, *, kind):"), "{diff}");
    assert!(diff.contains("+    return rows"), "{diff}");
    assert!(diff.contains("+            rows = op_result.data\n             found.extend("), "{diff}");
}

const CONDITIONAL: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.post("/maybe")
async def maybe_create(name: str, db=Depends(get_db)):
    created = False
    rows = (await db.execute(select(Item).where(Item.name == name))).all()
    if not rows:
        db.add(Item(name=name))
        created = True
    await db.commit()
    return {"created": created}
"#;

#[test]
fn an_output_assigned_on_some_paths_starts_from_the_endpoints_value() {
    let dir = project(CONDITIONAL);
    let (diff, _) = dry_run(dir.path());
    // `created` is assigned only when nothing was found, and read after the moved code: the driver
    // receives the endpoint's earlier value, so every path returns a bound name.
    assert!(diff.contains("+async def maybe_create(db, *, name, created):"), "{diff}");
    assert!(diff.contains("+    return created"), "{diff}");
    assert!(diff.contains("+    created = op_result.data"), "{diff}");
}

#[test]
fn a_driver_that_binds_an_imported_name_differently_is_not_extended() {
    let dir = project(ASYNC_PAGINATED);
    let driver = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
    write(
        dir.path(),
        driver,
        "from sqlmodel import select\n\n\ndef old(session):\n    return session.exec(select(1))\n",
    );
    git_commit_all(dir.path());
    let before = tree_bytes(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("already binds `select` differently"), "{stdout}");
    assert!(tree_bytes(dir.path()) == before, "nothing may change: {stdout}");
}
