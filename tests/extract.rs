//! The central rewrite (`l2-db-execute` / `l2-transaction`): four-file diffs of representative
//! endpoints, the semantics of docs/design.md §5, the manual shapes, and the sample app end to end.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

/// A project with the default layout, the modules the L2 code imports from (the semantic guard
/// checks that every import the rewrite writes resolves), a registry, a handlers package and the
/// given L2 module at `shop/items.py`.
fn project(l2: &str) -> tempfile::TempDir {
    let dir = init_project();
    write_registry_scaffold(dir.path());
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
    // L2, driver, handler, wiring, and the new driver packages' `__init__.py`.
    assert!(summary.contains("Would fix 2 violations in 6 files"), "{summary}");
    // Layers point down: the driver gets its own copy of the L2 module's constant, never an
    // import of the L2 module; and it returns both values.
    assert!(diff.contains("+PAGE_SIZE = 20"), "{diff}");
    assert!(!diff.contains("import PAGE_SIZE"), "{diff}");
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
    // A rollback that re-raises stays a rollback, in the handler; the L2 one goes.
    assert!(diff.contains("+            ctx.session.rollback()\n+            raise"), "{diff}");
    assert!(diff.contains("-        db.rollback()\n"), "{diff}");
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
    let (code, _, summary) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{summary}");
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
    assert_eq!(driver.matches("PAGE_SIZE = 20").count(), 1, "{driver}");
    // Every new package gets its `__init__.py`.
    assert!(dir.path().join("backend/app/hoc/cus/shop/__init__.py").is_file());
    assert!(dir.path().join("backend/app/hoc/cus/shop/L6_drivers/__init__.py").is_file());
    assert!(!driver.contains("app.hoc.api"), "{driver}");
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

from app.db import LookupFailed, get_db, open_session
from app.models import Item

router = APIRouter()
COUNTER = 0


@router.get("/early")
async def early_return(item_id: int, db=Depends(get_db)):
    for row in (await db.execute(select(Item))).all():
        if row.id == item_id:
            return {"row": row}
    more = (await db.execute(select(Item).where(Item.parent_id == item_id))).all()
    return {"more": more}


@router.get("/not-found")
async def http_inside(item_id: int, db=Depends(get_db)):
    for row in (await db.execute(select(Item))).all():
        if row.id == item_id:
            raise HTTPException(status_code=409)
    more = (await db.execute(select(Item).where(Item.parent_id == item_id))).all()
    return {"more": more}


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
    rows = (await db.execute(select(Item).where(Item.name == request.query_params["name"]))).all()
    return {"first": first, "rows": rows}


@router.get("/guarded")
async def guarded(db=Depends(get_db)):
    try:
        rows = (await db.execute(select(Item))).all()
    except LookupFailed:
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
    assert_eq!(code, 1, "manual sites remain: {stderr}");
    assert!(json(&stdout)["remaining"].as_u64().unwrap() > 0, "{stdout}");
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
        ("guarded", "whose `except LookupFailed` (line 77) stays in L2"),
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
    let pytest = |when: &str| assert_suite_passes(&app, when);
    pytest("before");

    let (code, stdout, stderr) = run(&app, &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 1, "manual sites remain: {stderr}");
    assert!(json(&stdout)["remaining"].as_u64().unwrap() > 0, "{stdout}");
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
    // What the rewrite means, as check sees it: nothing below L2 imports L2, every dispatch runs.
    assert_eq!(report["statistics"]["imports-l2"]["violations"], 0, "{stdout}");
    assert_eq!(report["statistics"]["unregistered-operation"]["violations"], 0, "{stdout}");

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
    let (code, stdout, stderr) = run(&app, &["fix", "--dry-run", "--color", "never"]);
    assert!(stdout.is_empty(), "a second fix would change:\n{stdout}");
    // Exit 1 all the same: the manual sites remain violations.
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("remain; `strata check` lists them."), "{stderr}");
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
    let (code, _, summary) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 1, "the manual site remains: {summary}");
    assert!(summary.contains("already binds `select` differently"), "{summary}");
    assert!(tree_bytes(dir.path()) == before, "nothing may change: {summary}");
}

/// The sample app's own pytest suite passes (`when`: before or after the migration).
fn assert_suite_passes(app: &Path, when: &str) {
    let out = std::process::Command::new(python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(app.join("backend"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pytest {when} the migration failed:\n{text}");
    assert!(text.contains(" passed"), "{text}");
}

/// The independent audit (tests/audit_migration.py, Python's own `ast`) of the given files of `root`.
fn audit(root: &Path, files: &[String]) -> BTreeSet<String> {
    let out = std::process::Command::new(python())
        .arg(repo_root().join("tests/audit_migration.py"))
        .arg(root)
        .arg("--files")
        .args(files)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    // Findings without line numbers: a finding the code had before the rewrite is not new.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let path = parts.next().unwrap_or_default();
            parts.next();
            format!("{path}:{}", parts.next().unwrap_or_default())
        })
        .collect()
}

/// The audit's own check of lost writes: a driver write that no function reaching it commits is
/// reported, and the same write is not once a handler that reaches it commits.
#[test]
fn the_audit_reports_a_write_no_committer_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let driver = "backend/app/hoc/cus/shop/L6_drivers/items_driver.py";
    write(dir.path(), driver, "async def save(session, item):\n    session.add(item)\n");
    let handler = "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py";
    let handled = |commit: &str| {
        format!(
            "from app.hoc.cus.shop.L6_drivers.items_driver import save\n\n\nasync def handle(ctx):\n    await save(ctx.session, 1)\n{commit}"
        )
    };
    write(dir.path(), handler, handled(""));
    let found = audit(dir.path(), &[driver.to_string()]);
    assert!(found.iter().any(|f| f.contains("[uncommitted-write] `save` writes")), "{found:?}");
    write(dir.path(), handler, handled("    await ctx.session.commit()\n"));
    let found = audit(dir.path(), &[driver.to_string()]);
    assert!(!found.iter().any(|f| f.contains("uncommitted-write")), "{found:?}");
}

/// The second sample backend, written in the shapes real backends have (helpers, try/except
/// wrappers, guard clauses, trailing returns, an annotated `register(registry: T)`, a
/// string-annotated `register_all_handlers` with lazy imports, stale router copies, tenants
/// read from an auth object, a foreign handler class with the name strata would pick): its
/// suite passes before and after `strata fix`, the independent audit finds nothing new in the
/// changed files, and a second fix changes nothing.
#[test]
fn shapes_app_suite_passes_before_and_after_fix_and_the_audit_finds_nothing_new() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    copy_dir(&repo_root().join("examples/shapes_app"), &app);
    git_commit_all(&app);
    let pytest = |when: &str| assert_suite_passes(&app, when);
    pytest("before");
    let before = tree_bytes(&app);
    let (code, stdout, stderr) = run(&app, &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 1, "{stderr}");
    let outcome = json(&stdout);
    let migrated = outcome["applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cs| matches!(cs["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .count();
    assert!(migrated >= 4, "only {migrated} endpoints migrated: {stdout}");
    // Drivers of each self-opening shape receive their sessions (the rest is manual, with reasons):
    // `async for` around each method with factories up to a handler, `_get_session()` tuples,
    // `session=None` fallbacks, a plain `AsyncSessionLocal()` closed in `finally`.
    let injected: BTreeSet<String> = outcome["applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cs| cs["rule"] == "l6-session-lifecycle")
        .map(|cs| cs["location"].as_str().unwrap().split(':').next().unwrap().to_string())
        .collect();
    for driver in
        ["webhook_driver.py", "stock_driver.py", "warehouse_driver.py", "reorder_driver.py", "warehouse_tag_driver.py"]
    {
        assert!(injected.iter().any(|p| p.ends_with(driver)), "{driver} not injected: {injected:?}\n{stdout}");
    }
    assert!(outcome["dropped"].as_array().unwrap().is_empty(), "planning refuses what the guard would drop: {stdout}");
    let l2 = |v: &serde_json::Value| matches!(v["rule"].as_str(), Some("l2-db-execute" | "l2-transaction"));
    let manual: BTreeSet<String> = outcome["manual"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cs| l2(cs))
        .map(|cs| cs["location"].as_str().unwrap().to_string())
        .collect();
    let (_, check_out, _) = run(&app, &["check", "--format", "json", "--color", "never"]);
    let statistics = &json(&check_out)["statistics"];
    assert_eq!(statistics["imports-l2"]["violations"], 0, "{check_out}");
    assert_eq!(statistics["unregistered-operation"]["violations"], 0, "{check_out}");
    let remaining: BTreeSet<String> = json(&check_out)["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| l2(v))
        .map(|v| format!("{}:{}:{}", v["path"].as_str().unwrap(), v["start"]["line"], v["start"]["column"]))
        .collect();
    assert_eq!(remaining, manual, "every remaining L2 site is one fix reported manual, with its reason");
    let after = tree_bytes(&app);
    let changed: Vec<String> =
        after.iter().filter(|(p, b)| p.ends_with(".py") && before.get(*p) != Some(b)).map(|(p, _)| p.clone()).collect();
    assert!(!changed.is_empty());
    pytest("after");

    // What the audit finds in the changed files now, it found in them before (stale imports of
    // the unimported router copies, which strata refuses to carry into drivers).
    let existed: Vec<String> = changed.iter().filter(|p| before.contains_key(*p)).cloned().collect();
    let git_stash = |args: &[&str]| git(&app, args);
    let now = audit(&app, &changed);
    git_stash(&["stash", "--include-untracked"]);
    let was = audit(&app, &existed);
    git_stash(&["stash", "pop"]);
    let new: Vec<&String> = now.difference(&was).collect();
    assert!(new.is_empty(), "the rewrite introduced: {new:#?}");

    git_commit_all(&app);
    let (code, _, summary) = run(&app, &["fix", "--color", "never"]);
    assert_eq!(code, 1, "manual sites remain: {summary}");
    assert!(git(&app, &["status", "--porcelain"]).trim().is_empty(), "a second fix changed files");
}

const TENANT_AND_KEYWORDS: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.models import Item

router = APIRouter()


class Page:
    def __init__(self, items, total):
        self.items, self.total = items, total


@router.get("/items")
async def list_items(q: str = "", auth=Depends(get_session), session: AsyncSession = Depends(get_session)):
    if not q:
        return Page(items=[], total=0)
    total = (await session.execute(select(func.count(Item.id)).where(Item.tenant_id == auth.tenant_id))).scalar_one()
    items = (await session.execute(select(Item).where(Item.name == q))).scalars().all()
    return Page(items=items, total=total)
"#;

/// Regressions seen on a real backend: a name bound only as a keyword argument (`total=0`) was
/// passed to the registry as if it were a variable, and the tenant was `None` although the
/// endpoint reads it from its auth object.
#[test]
fn keyword_argument_names_are_not_variables_and_the_tenant_comes_from_the_auth_object() {
    let dir = project(TENANT_AND_KEYWORDS);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 2 violations"), "{summary}\n{diff}");
    assert!(diff.contains("+            tenant_id=auth.tenant_id,"), "{diff}");
    assert!(diff.contains("+            params={\"method\": \"list_items\", \"auth\": auth, \"q\": q},"), "{diff}");
    assert!(diff.contains("+async def list_items(session, *, auth, q):"), "{diff}");
}

/// Regressions seen on a real backend: `register(registry: OperationRegistry)` got
/// `registry: OperationRegistry.register(...)` (an annotation, never run), and a string-annotated
/// `register_all_handlers(registry: "OperationRegistry")` became a syntax error. Registrations are
/// plain statements on the parameter's name, and lazy imports stay lazy.
#[test]
fn registrations_run_with_annotated_registry_parameters_and_lazy_wiring() {
    let dir = project(ASYNC_PAGINATED);
    write(
        dir.path(),
        "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py",
        "from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult\n\n\n\
         class ShopStatsHandler:\n    async def execute(self, ctx: OperationContext) -> OperationResult:\n        return OperationResult.ok({})\n\n\n\
         def register(registry: \"OperationRegistry\") -> None:\n    registry.register(\"shop.stats\", ShopStatsHandler())\n",
    );
    write(
        dir.path(),
        WIRING,
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext\n\n\n\
         def register_all_handlers(registry: \"OperationRegistry\") -> None:\n    \"\"\"Handlers are imported lazily.\"\"\"\n    \
         from app.hoc.cus.hoc_spine.orchestrator.handlers import other_handler\n\n    other_handler.register(registry)\n",
    );
    write(
        dir.path(),
        "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/other_handler.py",
        "def register(registry):\n    pass\n",
    );
    git_commit_all(dir.path());
    let (code, _, summary) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{summary}");
    let handler = read(dir.path(), "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py");
    assert!(handler.contains("\n    registry.register(\"shop.items\", ShopItemsHandler())\n"), "{handler}");
    assert!(!handler.contains("registry: \"OperationRegistry\".register"), "{handler}");
    let wiring = read(dir.path(), WIRING);
    assert!(
        wiring.contains(
            "    from app.hoc.cus.hoc_spine.orchestrator.handlers import shop_handler\n\n    shop_handler.register(registry)\n"
        ),
        "{wiring}"
    );
    assert!(!wiring.starts_with("from app.hoc.cus.hoc_spine.orchestrator.handlers import shop_handler"), "{wiring}");
    // The registration runs: Python itself registers the operation.
    let script = "import sys\nsys.path.insert(0, 'backend')\nimport types\n\
                  seen = []\nclass R:\n    def register(self, name, handler):\n        seen.append(name)\n\
                  from app.hoc.cus.hoc_spine.orchestrator.handlers import register_all_handlers\n\
                  register_all_handlers(R())\nprint(sorted(seen))\n";
    let out = std::process::Command::new(python()).args(["-c", script]).current_dir(dir.path()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "['shop.items', 'shop.stats']", "{out:?}");
}

const STALE_COPY: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from ..legacy_db import get_legacy_session
from ..models.legacy import LegacyItem

router = APIRouter()


@router.get("/legacy")
def list_legacy(session=Depends(get_legacy_session)):
    rows = session.execute(select(LegacyItem)).scalars().all()
    return [r.name for r in rows]
"#;

/// Regression seen on a real backend: a stale router copy that Python never imports had relative
/// imports of modules that do not exist, and its drivers carried them (`app.hoc.api.cus.models...`).
/// Planning refuses to carry an import that does not resolve (and the semantic guard would
/// refuse to write one).
#[test]
fn imports_that_do_not_resolve_are_never_carried_into_a_driver() {
    let dir = project(STALE_COPY);
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(!dir.path().join("backend/app/hoc/cus/shop/L6_drivers/items_driver.py").exists());
    let outcome = json(&stdout);
    let why: Vec<String> =
        outcome["manual"].as_array().unwrap().iter().map(|d| d["reason"].as_str().unwrap().to_string()).collect();
    assert!(why.iter().any(|w| w.contains("does not resolve in the project")), "{why:#?}");
    assert!(outcome["applied"].as_array().unwrap().is_empty(), "{stdout}");
}

const GUARD_CLAUSES: &str = r#"from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.post("/items/{item_id}/rename")
def rename(item_id: int, name: str, tenant_id: str, db: Session = Depends(get_db)):
    item = db.execute(select(Item).where(Item.id == item_id)).scalar_one_or_none()
    if item is None:
        raise HTTPException(status_code=404, detail="not found")
    if not name:
        return {"id": item.id, "unchanged": True}
    item.name = name
    db.commit()
    return {"id": item.id, "name": item.name}
"#;

/// A guard clause (an HTTP error) or an early `return` between database statements stays in L2:
/// the database code on each side becomes its own dispatch on the same session, and only the run
/// that commits has its handler commit.
#[test]
fn guard_clauses_and_early_returns_stay_in_l2_between_two_dispatches() {
    let dir = project(GUARD_CLAUSES);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 2 violations"), "{summary}\n{diff}");
    assert!(
        diff.contains("(2 parts)") || summary.contains("(2 parts)") || diff.matches("execute(\n").count() == 2,
        "{diff}"
    );
    assert_eq!(diff.matches("+    op_result = await get_operation_registry().execute(").count(), 2, "{diff}");
    // The guard and the early return stay where they were, between the dispatches.
    assert!(
        !diff.contains("-    if item is None:")
            && !diff.contains("-        return {\"id\": item.id, \"unchanged\": True}"),
        "{diff}"
    );
    assert!(diff.contains("\"method\": \"rename\"") && diff.contains("\"method\": \"rename_2\""), "{diff}");
    // The first run only reads; the second commits: its handler commits, and the driver flushes.
    assert_eq!(diff.matches("ctx.session.commit()").count(), 1, "{diff}");
    assert!(diff.contains("+def rename_2(db):") && diff.contains("+    db.flush()"), "{diff}");
    snapshot("extract_guard_clauses", &diff);
}

const COPIED_ROUTER: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from ..catalog.entries import CatalogEntry

router = APIRouter()


@router.get("/entries")
def list_entries(db=Depends(get_db)):
    rows = db.execute(select(CatalogEntry)).scalars().all()
    return [r.name for r in rows]
"#;

/// A router copied from elsewhere keeps relative imports that do not resolve where it now is
/// (Python never imports it). When exactly one project module has that path, the driver imports
/// it and the follow-up says so; when none has (see above), the site stays manual.
#[test]
fn a_stale_relative_import_is_carried_only_to_the_one_module_it_can_mean() {
    let dir = project(COPIED_ROUTER);
    write(dir.path(), "backend/app/catalog/entries.py", "class CatalogEntry:\n    pass\n");
    git_commit_all(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert!(driver.contains("from app.catalog.entries import CatalogEntry"), "{driver}");
    let outcome = json(&stdout);
    let follow_ups = outcome["applied"][0]["follow_ups"].to_string();
    assert!(follow_ups.contains("the only project module of that name"), "{stdout}");
}

const ROUTER_WITH_A_FAILING_IMPORT: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from app.models import Item
from ..catalog.entries import CatalogEntry

router = APIRouter()


@router.get("/items")
def list_items(db=Depends(get_db)):
    rows = db.execute(select(Item)).scalars().all()
    return [r.name for r in rows]


@router.get("/entries")
def list_entries(db=Depends(get_db)):
    rows = db.execute(select(CatalogEntry)).scalars().all()
    return [r.name for r in rows]
"#;

/// The one module a stale import can mean may itself fail to import (its package imports a module
/// that is gone). Moving code that needs it into a driver would make the driver, its handler and
/// the registry fail at import: the change set is refused, and says why.
#[test]
fn code_is_not_moved_next_to_an_import_that_fails() {
    let dir = project(ROUTER_WITH_A_FAILING_IMPORT);
    write(dir.path(), "backend/app/catalog/__init__.py", "from .registry_service import REGISTRY\n");
    write(dir.path(), "backend/app/catalog/entries.py", "class CatalogEntry:\n    pass\n");
    git_commit_all(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 1, "a violation is left: {stderr}");
    let outcome = json(&stdout);
    assert_eq!(outcome["applied"].as_array().unwrap().len(), 1, "the other endpoint moves: {stdout}");
    // Refused when the pass checks what its change sets mean, with the reason; the site is
    // planned again after the other endpoint moved its lines, and listed once.
    assert_eq!(outcome["dropped"].as_array().unwrap().len(), 1, "{stdout}");
    let reasons = outcome["dropped"].to_string();
    assert!(
        reasons.contains("importing `app.catalog.entries` fails")
            && reasons.contains("backend/app/catalog/__init__.py imports `app.catalog.registry_service`"),
        "{stdout}"
    );
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert!(driver.contains("def list_items") && !driver.contains("CatalogEntry"), "{driver}");
}

const COMMITTING_HELPER: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


def _audit(db, what):
    try:
        db.add(Item(name=what))
        db.commit()
    except Exception:
        db.rollback()


@router.get("/items")
def list_items(db=Depends(get_db)):
    rows = db.execute(select(Item)).scalars().all()
    _audit(db, "listed")
    return [r.name for r in rows]
"#;

/// A helper of the L2 module that commits its caller's transaction (and swallows the error)
/// cannot become driver code: the endpoint that calls it stays manual, with the reason.
#[test]
fn a_helper_that_commits_its_callers_transaction_keeps_the_endpoint_manual() {
    let dir = project(COMMITTING_HELPER);
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert!(code == 0 || code == 1, "{stderr}");
    let outcome = json(&stdout);
    let reasons = outcome["manual"].to_string();
    assert!(reasons.contains("commits or rolls back its caller's transaction"), "{stdout}");
    assert!(!dir.path().join("backend/app/hoc/cus/shop/L6_drivers/items_driver.py").exists());
}

/// `check --plan` and `fix` plan each site in one step: the manual reasons `check --plan` shows are
/// exactly the ones `fix` reports, and a site it calls safe is one `fix` applies. Without `--plan`,
/// `check` does not run transforms and shows the recipe's declared fix.
#[test]
fn check_shows_what_fix_does_site_by_site() {
    let dir = project(MANUAL_SHAPES);
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json", "--color", "never"]);
    let declared = json(&stdout);
    let extract_sites: Vec<&serde_json::Value> =
        declared["violations"].as_array().unwrap().iter().filter(|v| v["rule"] == "l2-db-execute").collect();
    assert!(!extract_sites.is_empty());
    for v in extract_sites {
        assert_eq!(v["fix"]["applicability"], "safe", "{v}");
        assert_eq!(v["fix"]["planned"], false, "{v}");
        assert!(v["fix"]["description"].as_str().unwrap().starts_with("move the database code of"), "{v}");
    }
    let (_, text, _) = run(dir.path(), &["check", "--select", "l2-db-execute", "--color", "never"]);
    assert!(text.contains("safe fix to plan: move the database code of"), "{text}");
    assert!(text.contains("more with a safe fix to plan: `strata fix` applies it or says why not"), "{text}");
    assert!(!text.contains("fixable with `strata fix`"), "nothing is planned, so nothing is claimed fixable:\n{text}");
    let (_, stdout, _) = run(dir.path(), &["check", "--plan", "--format", "json", "--color", "never"]);
    let report = json(&stdout);
    let hinted: BTreeSet<(String, String)> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .map(|v| {
            let location = format!("{}:{}:{}", v["path"].as_str().unwrap(), v["start"]["line"], v["start"]["column"]);
            assert_eq!(v["fix"]["applicability"], "manual", "{v}");
            assert_eq!(v["fix"]["planned"], true, "{v}");
            (location, v["fix"]["description"].as_str().unwrap().to_string())
        })
        .collect();
    let (_, stdout, _) = run(dir.path(), &["fix", "--dry-run", "--json", "--color", "never"]);
    let outcome = json(&stdout);
    let manual: BTreeSet<(String, String)> = outcome["manual"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cs| matches!(cs["rule"].as_str(), Some("l2-db-execute" | "l2-transaction")))
        .map(|cs| (cs["location"].as_str().unwrap().to_string(), cs["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(hinted, manual);

    let dir = project(GUARD_CLAUSES);
    let (_, stdout, _) = run(dir.path(), &["check", "--plan", "--format", "json", "--color", "never"]);
    let report = json(&stdout);
    for v in report["violations"].as_array().unwrap().iter().filter(|v| v["rule"] != "l2-registry-dispatch") {
        assert_eq!(v["fix"]["applicability"], "safe", "{v}");
        assert!(v["fix"]["description"].as_str().unwrap().contains("(2 parts)"), "{v}");
    }
}

/// What the guard refuses to write, `check` reports on the project as it is: a driver importing
/// an L2 module (`imports-l2`) and an operation dispatched but registered only by an annotation,
/// which never runs (`unregistered-operation`).
#[test]
fn check_reports_imports_of_l2_and_operations_no_running_registration_provides() {
    let dir = project(
        "from fastapi import APIRouter\n\nrouter = APIRouter()\nPAGE_SIZE = 20\n\n\n\
         @router.get(\"/items\")\nasync def list_items(registry):\n    return await registry.execute(\"shop.items\", None)\n\n\n\
         @router.get(\"/stats\")\nasync def stats(registry):\n    return await registry.execute(\"shop.stats\", None)\n",
    );
    write(
        dir.path(),
        "backend/app/hoc/cus/shop/L6_drivers/items_driver.py",
        "from app.hoc.api.cus.shop.items import PAGE_SIZE\n\n\ndef page():\n    return PAGE_SIZE\n",
    );
    write(
        dir.path(),
        "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/shop_handler.py",
        "def register(registry: \"OperationRegistry\") -> None:\n    registry: OperationRegistry.register(\"shop.items\", object())\n    registry.register(\"shop.stats\", object())\n",
    );
    write(
        dir.path(),
        WIRING,
        "def register_all_handlers(registry: \"OperationRegistry\") -> None:\n    from app.hoc.cus.hoc_spine.orchestrator.handlers import shop_handler\n\n    shop_handler.register(registry)\n",
    );
    git_commit_all(dir.path());
    let (code, stdout, _) =
        run(dir.path(), &["check", "--format", "json", "--select", "imports-l2,unregistered-operation"]);
    assert_eq!(code, 1);
    let report = json(&stdout);
    let found: BTreeSet<String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{} {}:{}", v["rule"].as_str().unwrap(), v["path"].as_str().unwrap(), v["start"]["line"]))
        .collect();
    let expected: BTreeSet<String> = [
        "imports-l2 backend/app/hoc/cus/shop/L6_drivers/items_driver.py:1",
        "unregistered-operation backend/app/hoc/api/cus/shop/items.py:9",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(found, expected, "{stdout}");
    // The messages render (no template error text reaches a user).
    for v in report["violations"].as_array().unwrap() {
        let message = v["message"].as_str().unwrap();
        assert!(!message.contains("failed to render"), "{message}");
    }
    let messages = report["violations"].to_string();
    assert!(messages.contains(r#"operation \"shop.items\" is dispatched"#), "{messages}");
}

const RESPONSE_MODEL: &str = r#"from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from app.db import get_db
from app.models import Item


class ItemOut(BaseModel):
    id: int
    name: str


router = APIRouter()


@router.get("/items", response_model=list[ItemOut])
def list_items(db=Depends(get_db)):
    out = [ItemOut(id=r.id, name=r.name) for r in db.execute(select(Item)).scalars()]
    return out
"#;

/// A class of the L2 module that the moved code uses (a response model) moves to the schemas
/// module below L2; L2 imports it from there, so there is still one class, and the driver
/// imports it from there too, never from L2.
#[test]
fn an_l2_class_the_moved_code_uses_moves_below_l2_and_stays_one_class() {
    let dir = project(RESPONSE_MODEL);
    let (code, _, summary) = run(dir.path(), &["fix", "--color", "never"]);
    assert_eq!(code, 0, "{summary}");
    let l2 = read(dir.path(), "backend/app/hoc/api/cus/shop/items.py");
    let schemas = read(dir.path(), "backend/app/hoc/cus/shop/L5_schemas/items_schemas.py");
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert!(!l2.contains("class ItemOut"), "{l2}");
    assert!(l2.contains("from app.hoc.cus.shop.L5_schemas.items_schemas import ItemOut"), "{l2}");
    assert!(
        schemas.contains("class ItemOut(BaseModel):") && schemas.contains("from pydantic import BaseModel"),
        "{schemas}"
    );
    assert!(driver.contains("from app.hoc.cus.shop.L5_schemas.items_schemas import ItemOut"), "{driver}");
    assert!(dir.path().join("backend/app/hoc/cus/shop/L5_schemas/__init__.py").is_file());
    // The same class object everywhere: Python says so.
    write(dir.path(), "backend/app/db.py", "def get_db():\n    pass\n");
    let script = "import sys\nsys.path.insert(0, 'backend')\n\
                  from app.hoc.api.cus.shop import items\n\
                  from app.hoc.cus.shop.L6_drivers import items_driver\n\
                  print(items.ItemOut is items_driver.ItemOut)\n";
    let out = std::process::Command::new(python()).args(["-c", script]).current_dir(dir.path()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "True", "{out:?}");
}

const SESSION_HELPER: &str = r#"from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


def _load(session, item_id):
    return session.execute(select(Item).where(Item.id == item_id)).scalar_one_or_none()


@router.get("/items/{item_id}")
def get_item(item_id: int, db=Depends(get_db)):
    item = _load(db, item_id)
    return {"id": item.id}


@router.get("/items/{item_id}/name")
def get_name(item_id: int, db=Depends(get_db)):
    return {"name": _load(session=db, item_id=item_id).name}
"#;

/// Database code in a module-level helper that receives the session moves with the endpoints
/// that call it: each endpoint dispatches, the driver gets the helper, and the helper leaves L2
/// with its last caller.
#[test]
fn a_session_helper_moves_with_the_endpoints_that_call_it() {
    let dir = project(SESSION_HELPER);
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    let l2 = read(dir.path(), "backend/app/hoc/api/cus/shop/items.py");
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert!(!l2.contains("def _load") && !l2.contains("session.execute"), "{l2}");
    assert_eq!(l2.matches("get_operation_registry().execute(").count(), 2, "{l2}");
    assert_eq!(driver.matches("def _load(session, item_id):").count(), 1, "{driver}");
    assert!(json(&stdout)["manual"].as_array().unwrap().is_empty(), "{stdout}");
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json", "--select", "l2-db-execute"]);
    assert_eq!(json(&stdout)["summary"]["violations"], 0, "{stdout}");
}

const LOCAL_IMPORT: &str = r#"from fastapi import APIRouter, Depends

from app.db import get_db

router = APIRouter()


@router.get("/count")
def count(tenant_id: str, db=Depends(get_db)):
    from sqlalchemy import text

    limit = 10
    note = f"up to {limit}"
    rows = db.execute(text("SELECT id FROM items WHERE tenant_id = :t"), {"t": tenant_id}).fetchall()
    return {"n": len(rows), "note": note}
"#;

/// Regression seen on a real backend: a function-local import (`from sqlalchemy import text`)
/// was passed to the registry as a parameter. The driver imports it itself.
#[test]
fn a_function_local_import_is_imported_by_the_driver_not_passed_to_it() {
    let dir = project(LOCAL_IMPORT);
    let (diff, _) = dry_run(dir.path());
    assert!(diff.contains("+            params={\"method\": \"count\", \"tenant_id\": tenant_id},"), "{diff}");
    assert!(diff.contains("+from sqlalchemy import text"), "{diff}");
    assert!(diff.contains("+def count(db, *, tenant_id):"), "{diff}");
}

const APP_ROUTE: &str = r#"from fastapi import Depends, FastAPI
from sqlalchemy import select

from app.db import get_db
from app.models import Item

app = FastAPI()


@app.get("/items")
def list_items(db=Depends(get_db)):
    rows = db.execute(select(Item)).scalars().all()
    return [r.name for r in rows]
"#;

/// An endpoint declared on the FastAPI application (`@app.get`) is an endpoint like a router's.
#[test]
fn an_endpoint_on_the_fastapi_app_is_extracted_too() {
    let dir = project(APP_ROUTE);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 1 violation"), "{summary}\n{diff}");
    assert!(diff.contains("+async def list_items(db=Depends(get_db)):"), "{diff}");
}

const NESTED_GUARD: &str = r#"from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.post("/items/{item_id}/approve")
async def approve(item_id: int, db=Depends(get_db)):
    item = (await db.execute(select(Item).where(Item.id == item_id))).scalar_one_or_none()
    if item.expired:
        item.status = "expired"
        await db.commit()
        raise HTTPException(status_code=400, detail="expired")
    item.status = "approved"
    await db.commit()
    return {"status": item.status}
"#;

/// A guard clause nested in an `if` that also writes keeps its `raise` in L2: the database code
/// inside it becomes a dispatch of its own, like the code around it.
#[test]
fn a_guard_clause_nested_in_a_branch_that_writes_stays_in_l2() {
    let dir = project(NESTED_GUARD);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 3 violations"), "{summary}\n{diff}");
    assert!(diff.contains("(3 parts)") || diff.matches("get_operation_registry().execute(").count() == 3, "{diff}");
    assert!(!diff.contains("-        raise HTTPException(status_code=400"), "the guard stays in L2: {diff}");
    assert!(diff.contains("+        op_result = await get_operation_registry().execute("), "{diff}");
}

const CALLS_ENDPOINT: &str = r#"from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.get("/items/{item_id}")
async def get_item(item_id: int, db=Depends(get_db)):
    item = (await db.execute(select(Item).where(Item.id == item_id))).scalar_one_or_none()
    if item is None:
        raise HTTPException(status_code=404)
    return {"id": item.id}


@router.post("/items/{item_id}/touch")
async def touch(item_id: int, db=Depends(get_db)):
    await db.execute(select(Item).where(Item.id == item_id))
    await db.commit()
    return await get_item(item_id, db)
"#;

/// An endpoint that returns what another endpoint of its module answers, passing its session,
/// keeps that call in L2: the other endpoint is migrated on its own.
#[test]
fn a_call_of_another_endpoint_with_the_session_stays_in_l2() {
    let dir = project(CALLS_ENDPOINT);
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--json", "--color", "never"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(json(&stdout)["manual"].as_array().unwrap().is_empty(), "{stdout}");
    let l2 = read(dir.path(), "backend/app/hoc/api/cus/shop/items.py");
    assert!(l2.contains("    return await get_item(item_id, db)\n"), "{l2}");
    assert_eq!(l2.matches("get_operation_registry().execute(").count(), 2, "{l2}");
    let driver = read(dir.path(), "backend/app/hoc/cus/shop/L6_drivers/items_driver.py");
    assert!(!driver.contains("get_item(item_id"), "{driver}");
}

const BUILTIN_EXCEPT: &str = r#"from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from app.db import get_db
from app.models import Item

router = APIRouter()


@router.post("/items/{item_id}/review")
async def review(item_id: int, db=Depends(get_db)):
    try:
        item = (await db.execute(select(Item).where(Item.id == item_id))).scalar_one()
        item.reviewed = True
        await db.commit()
    except ValueError as e:
        raise HTTPException(status_code=400, detail=str(e))
    return {"id": item_id}
"#;

/// A narrow `except` of a builtin exception type around the moved code still sees it: the
/// registry's error code names the type, and the failure re-raises it with the same message.
#[test]
fn a_narrow_except_of_a_builtin_exception_still_sees_it_through_the_error_code() {
    let dir = project(BUILTIN_EXCEPT);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 2 violations"), "{summary}\n{diff}");
    assert!(
        diff.contains(
            "+        if not op_result.success:\n+            if op_result.error_code == \"HANDLER_EXCEPTION:ValueError\":\n+                raise ValueError(op_result.error)\n+            raise RuntimeError(op_result.error)\n"
        ),
        "{diff}"
    );
    assert!(
        diff.contains("     except ValueError as e:\n         raise HTTPException(status_code=400, detail=str(e))"),
        "{diff}"
    );
}

const SCHEDULED_HELPER: &str = r#"from fastapi import APIRouter
from sqlalchemy import select

from app.models import Item

router = APIRouter()


async def run_cleanup(session) -> int:
    """Called by a scheduler with its own session, not by an endpoint."""
    rows = (await session.execute(select(Item))).scalars().all()
    for row in rows:
        row.stale = True
    await session.commit()
    return len(rows)
"#;

/// An async helper that receives the session but that no endpoint calls (a scheduler does)
/// dispatches its database code itself; its callers keep calling it the same way.
#[test]
fn an_async_helper_no_endpoint_calls_dispatches_itself() {
    let dir = project(SCHEDULED_HELPER);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("Would fix 2 violations"), "{summary}\n{diff}");
    assert!(diff.contains(" async def run_cleanup(session) -> int:"), "the helper keeps its signature: {diff}");
    assert!(diff.contains("+    op_result = await get_operation_registry().execute("), "{diff}");
    assert!(
        diff.contains("+            ctx.session.commit()") || diff.contains("+            await ctx.session.commit()"),
        "{diff}"
    );
}

const OWN_SESSION_HELPER: &str = r#"from fastapi import APIRouter
from sqlalchemy import select

from app.db import get_session
from app.models import Item

router = APIRouter()


async def _get_item(item_id: int):
    async with get_session() as session:
        row = (await session.execute(select(Item).where(Item.id == item_id))).scalar_one_or_none()
        if row is None:
            return None
        return {"id": row.id}


async def _save(item, writer_factory):
    async with get_session() as session:
        writer = writer_factory(session)
        await writer.commit()
        await session.execute(select(Item))


@router.get("/items/{item_id}")
async def get_item(item_id: int):
    return await _get_item(item_id)
"#;

/// An async L2 helper that opens its own session keeps opening it (L2 may hold a session) and
/// dispatches the work done with it; a commit through another object stays manual.
#[test]
fn an_async_helper_that_opens_its_session_dispatches_the_work_done_with_it() {
    let dir = project(OWN_SESSION_HELPER);
    let (diff, summary) = dry_run(dir.path());
    assert!(summary.contains("`writer.commit()` at line"), "{summary}");
    // The helper keeps opening its session in L2; the work done with it is dispatched.
    assert!(
        diff.contains("     async with get_session() as session:\n") && !diff.contains("-    async with"),
        "{diff}"
    );
    assert!(diff.contains("+        op_result = await get_operation_registry().execute("), "{diff}");
    assert!(
        diff.contains("+async def get_item(session, *, item_id):"),
        "the driver function has a public name: {diff}"
    );
}

/// `fix --dry-run --json` prints one JSON document on stdout, with the diffs inside it, and
/// writes nothing.
#[test]
fn dry_run_json_is_one_document_with_the_diffs_inside() {
    let dir = project(ASYNC_PAGINATED);
    let before = tree_bytes(dir.path());
    let (code, stdout, stderr) = run(dir.path(), &["fix", "--dry-run", "--json", "--color", "never"]);
    assert_eq!(code, 1, "{stderr}");
    let document = json(&stdout);
    let diffs = document["diffs"].as_array().unwrap();
    assert!(
        diffs.iter().any(|d| d["path"] == "backend/app/hoc/api/cus/shop/items.py"
            && d["diff"].as_str().unwrap().contains("+    op_result = await get_operation_registry().execute(")),
        "{stdout}"
    );
    assert_eq!(tree_bytes(dir.path()), before, "a dry run wrote files");
}

/// A router of many endpoints moves in a few passes, not one pass per endpoint: its file's edits
/// are per changed run of lines, the driver's appended functions and the handler's new branches
/// and methods commute, and what the extractions left unused together (the router's `update`
/// and model imports) goes in a follow-on change set. The result is what one pass per endpoint
/// gave: every file compiles, nothing is left, a second run changes nothing.
#[test]
fn a_router_s_endpoints_move_in_a_few_passes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let generator = common::repo_root().join("scripts/bench_corpus.py");
    let out = std::process::Command::new(python())
        .arg(&generator)
        .arg(root)
        .args(["--router-endpoints", "24"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    git_commit_all(root);
    let (code, stdout, stderr) = run(root, &["fix", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let outcome = json(&stdout);
    let applied = outcome["applied"].as_array().unwrap();
    let moved = applied.iter().filter(|cs| cs["follow_on"] != true).count();
    let follow_ons = applied.len() - moved;
    assert_eq!(moved, 24, "{stdout}");
    assert!(follow_ons >= 1, "no follow-on change set tidied the router");
    assert!(outcome["passes"].as_u64().unwrap() <= 6, "{} passes for 24 endpoints", outcome["passes"]);
    assert_eq!(outcome["dropped"], serde_json::json!([]));
    let router = read(root, "backend/app/hoc/api/cus/orders/orders.py");
    assert!(!router.contains("from sqlalchemy import update") && !router.contains("import Order"), "{router}");
    assert_eq!(router.matches("get_operation_registry().execute(").count(), 24);
    let handler = read(root, "backend/app/hoc/cus/hoc_spine/orchestrator/handlers/orders_handler.py");
    for i in 0..24 {
        assert_eq!(handler.matches(&format!("\"step_{i}\"")).count(), 1, "step_{i} dispatched once:\n{handler}");
    }
    let files: Vec<String> =
        tree_bytes(root).keys().filter(|p| p.ends_with(".py")).map(|p| root.join(p).display().to_string()).collect();
    let compiled = std::process::Command::new(python()).args(["-m", "py_compile"]).args(&files).output().unwrap();
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    let (code, stdout, _) = run(root, &["fix", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&stdout)["applied"], serde_json::json!([]), "a second run changes something");
}
