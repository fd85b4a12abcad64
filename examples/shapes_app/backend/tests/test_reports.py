from sqlalchemy import func, select

from app.models import ReportRun, Snapshot

SOUTH = {"X-Tenant": "south"}

NORTH_ROWS = [
    {"warehouse": "Central", "items": 2, "units": 420},
    {"warehouse": "Harbor", "items": 1, "units": 15},
    {"warehouse": "(unassigned)", "items": 1, "units": 0},
]


def test_item_count(client):
    r = client.get("/reports/item-count")
    assert r.status_code == 200
    assert r.json() == {"count": 4}
    assert client.get("/reports/item-count", params={"warehouse_id": 1}).json() == {"count": 2}
    assert client.get("/reports/item-count", headers=SOUTH).json() == {"count": 1}


def test_stock_by_warehouse(client):
    r = client.get("/reports/stock-by-warehouse")
    assert r.status_code == 200
    assert r.json() == {"rows": NORTH_ROWS, "total": 435, "top_n": 10}
    assert client.get("/reports/stock-by-warehouse", params={"min_units": 100}).json() == {
        "rows": NORTH_ROWS[:1],
        "total": 435,
        "top_n": 10,
    }
    assert client.get("/reports/stock-by-warehouse", params={"top": 2}).json()["rows"] == NORTH_ROWS[:2]
    assert client.get("/reports/stock-by-warehouse", params={"top": 0}).json() == {"rows": [], "total": 0, "top_n": 10}
    assert client.get("/reports/stock-by-warehouse", headers=SOUTH).json() == {
        "rows": [{"warehouse": "Depot", "items": 1, "units": 7}],
        "total": 7,
        "top_n": 10,
    }


def test_stock_by_warehouse_query_failure(client):
    r = client.get("/reports/stock-by-warehouse", params={"min_units": 2**70})
    assert r.status_code == 500
    assert r.json() == {
        "detail": {"error": "query_failed", "message": "Python int too large to convert to SQLite INTEGER"}
    }


def test_create_snapshot(client, fresh):
    r = client.post("/reports/snapshots", json={})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "metric": "stock_on_hand", "value": 435}
    snap = fresh().get(Snapshot, 1)
    assert (snap.tenant_id, snap.name, snap.value) == ("north", "stock_on_hand", 435)
    r = client.post("/reports/snapshots", json={"metric": "stock_on_hand"}, headers=SOUTH)
    assert r.json() == {"id": 2, "metric": "stock_on_hand", "value": 7}


def test_create_snapshot_unknown_metric(client, fresh):
    r = client.post("/reports/snapshots", json={"metric": "revenue"})
    assert r.status_code == 422
    assert r.json() == {"detail": "Unknown metric: revenue"}
    assert fresh().execute(select(func.count(Snapshot.id))).scalar_one() == 0


def test_export_items_csv(client):
    r = client.get("/reports/exports/items.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == (
        "warehouse,sku,name,qty\n"
        "Central,BOLT-10,Bolt 10mm,120\n"
        "Central,NUT-10,Nut 10mm,300\n"
        "Harbor,GEAR-A,Gear A,15\n"
        ",BELT-X,Belt X,0\n"
    )
    assert client.get("/reports/exports/items.csv", headers={"X-Tenant": "west"}).text == "warehouse,sku,name,qty\n"


def test_start_export_run(client, fresh):
    r = client.post("/reports/exports/runs/items")
    assert r.status_code == 201
    assert r.json() == {"run_id": 1, "kind": "items", "rows": 4, "snapshot_id": 1}
    s = fresh()
    run = s.get(ReportRun, 1)
    assert (run.tenant_id, run.kind, run.status, run.rows) == ("north", "items", "done", 4)
    snap = s.get(Snapshot, 1)
    assert (snap.tenant_id, snap.name, snap.value) == ("north", "export.items.rows", 4)


def test_start_export_run_unknown_kind(client, fresh):
    r = client.post("/reports/exports/runs/payroll")
    assert r.status_code == 404
    assert r.json() == {"detail": "unknown export: payroll"}
    s = fresh()
    assert s.execute(select(func.count(ReportRun.id))).scalar_one() == 0
    assert s.execute(select(func.count(Snapshot.id))).scalar_one() == 0


def test_db_health(client, drop_table):
    r = client.get("/health/db")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "counts": {"items": 5, "accounts": 4}}
    drop_table("accounts")
    r = client.get("/health/db")
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert detail["error"] == "database_unavailable"
    assert "no such table: accounts" in detail["message"]


def test_create_snapshot_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("snapshots", "INSERT")
    r = client.post("/reports/snapshots", json={})
    assert r.status_code == 500
    assert "INSERT on snapshots refused" in str(r.json()["detail"])
    assert fresh().execute(select(func.count(Snapshot.id))).scalar_one() == 0


def test_start_export_run_failure_writes_nothing(lenient_client, fresh, reject_writes):
    reject_writes("report_runs", "INSERT")
    r = lenient_client.post("/reports/exports/runs/items")
    assert r.status_code == 500
    s = fresh()
    assert s.execute(select(func.count(ReportRun.id))).scalar_one() == 0
    assert s.execute(select(func.count(Snapshot.id))).scalar_one() == 0


def test_complete_export_run_failure_writes_nothing_of_the_completion(lenient_client, fresh, reject_writes):
    # Completing the run is refused. Whether the run's `running` row survives depends on
    # where the transaction boundary is (the start may have committed on its own), so it is
    # not asserted; the completion and the snapshot after it must not be persisted.
    reject_writes("report_runs", "UPDATE")
    r = lenient_client.post("/reports/exports/runs/items")
    assert r.status_code == 500
    s = fresh()
    completed = select(func.count(ReportRun.id)).where((ReportRun.status != "running") | ReportRun.rows.is_not(None))
    assert s.execute(completed).scalar_one() == 0
    assert s.execute(select(func.count(Snapshot.id))).scalar_one() == 0
