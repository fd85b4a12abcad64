import json

from sqlalchemy import func, select

from app.models import Warehouse

SOUTH = {"X-Tenant": "south"}


def test_list_warehouses(client):
    r = client.get("/inventory/warehouses")
    assert r.status_code == 200
    assert r.json() == [{"id": 1, "name": "Central"}, {"id": 2, "name": "Harbor"}]
    assert client.get("/inventory/warehouses", headers=SOUTH).json() == [{"id": 3, "name": "Depot"}]
    assert client.get("/inventory/warehouses", headers={"X-Tenant": "west"}).json() == []


def test_create_warehouse(client, fresh):
    r = client.post("/inventory/warehouses", json={"name": " Annex "})
    assert r.status_code == 201
    assert r.json() == {"id": 4, "name": "Annex"}
    w = fresh().get(Warehouse, 4)
    assert (w.tenant_id, w.name) == ("north", "Annex")
    assert [w["name"] for w in client.get("/inventory/warehouses").json()] == ["Annex", "Central", "Harbor"]
    # same name, other tenant: allowed
    assert client.post("/inventory/warehouses", json={"name": "Annex"}, headers=SOUTH).json() == {"id": 5, "name": "Annex"}


def test_create_warehouse_rejections(client, fresh):
    r = client.post("/inventory/warehouses", json={"name": "Central"})
    assert r.status_code == 409
    assert r.json() == {"detail": "duplicate"}
    r = client.post("/inventory/warehouses", json={"name": "   "})
    assert r.status_code == 422
    assert r.json() == {"detail": "warehouse name is required"}
    assert fresh().execute(select(func.count(Warehouse.id))).scalar_one() == 3


def test_warehouse_stock(client):
    r = client.get("/inventory/warehouses/1/stock")
    assert r.status_code == 200
    assert r.json() == {
        "warehouse_id": 1,
        "items": [
            {"sku": "NUT-10", "name": "Nut 10mm", "qty": 300},
            {"sku": "BOLT-10", "name": "Bolt 10mm", "qty": 120},
        ],
        "units": 420,
    }
    r = client.get("/inventory/warehouses/1/stock", params={"min_qty": 200})
    assert r.json()["items"] == [{"sku": "NUT-10", "name": "Nut 10mm", "qty": 300}]
    assert client.get("/inventory/warehouses/3/stock").json() == {"warehouse_id": 3, "items": [], "units": 0}


def test_warehouse_stock_query_failure(client):
    r = client.get("/inventory/warehouses/1/stock", params={"min_qty": 2**70})
    assert r.status_code == 500
    assert r.json() == {
        "detail": {"error": "query_failed", "message": "Python int too large to convert to SQLite INTEGER"}
    }


def test_stream_movements(client):
    r = client.get("/inventory/warehouses/1/movements")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in r.text.splitlines()] == [
        {"sku": "BOLT-10"},
        {"sku": "BOLT-10", "delta": 100, "reason": "receipt"},
        {"sku": "BOLT-10", "delta": 20, "reason": "receipt"},
        {"sku": "NUT-10"},
    ]
    assert client.get("/inventory/warehouses/3/movements").text == ""
