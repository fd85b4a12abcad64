from sqlalchemy import func, select

from app.models import Item, StockMovement, Warehouse

SOUTH = {"X-Tenant": "south"}


def _item(id_, sku, name, qty, warehouse_id):
    return {"id": id_, "sku": sku, "name": name, "qty": qty, "warehouse_id": warehouse_id}


BOLT = _item(1, "BOLT-10", "Bolt 10mm", 120, 1)
NUT = _item(2, "NUT-10", "Nut 10mm", 300, 1)
GEAR = _item(3, "GEAR-A", "Gear A", 15, 2)
BELT = _item(4, "BELT-X", "Belt X", 0, None)


def test_list_items(client):
    r = client.get("/inventory/items")
    assert r.status_code == 200
    assert r.json() == {"items": [BOLT, NUT, GEAR, BELT], "total": 4, "limit": 20}
    assert client.get("/inventory/items", params={"q": "10"}).json() == {"items": [BOLT, NUT], "total": 2, "limit": 20}
    assert client.get("/inventory/items", params={"warehouse_id": 2}).json()["items"] == [GEAR]
    assert client.get("/inventory/items", params={"limit": 1}).json() == {"items": [BOLT], "total": 4, "limit": 1}
    assert client.get("/inventory/items", params={"limit": 500}).json()["limit"] == 100
    assert client.get("/inventory/items", params={"limit": -1}).status_code == 422


def test_list_items_other_tenant_and_unknown_warehouse(client):
    r = client.get("/inventory/items", headers=SOUTH)
    assert r.json() == {"items": [_item(5, "BOLT-10", "Bolt (south)", 7, 3)], "total": 1, "limit": 20}
    r = client.get("/inventory/items", params={"warehouse_id": 3})
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0, "limit": 20}
    r = client.get("/inventory/items", headers={"X-Tenant": ""})
    assert r.status_code == 401
    assert r.json() == {"detail": "missing tenant"}


def test_get_item(client):
    r = client.get("/inventory/items/3")
    assert r.status_code == 200
    assert r.json() == GEAR
    for missing in (999, 5):
        r = client.get(f"/inventory/items/{missing}")
        assert r.status_code == 404
        assert r.json() == {"detail": "item not found"}


def test_create_item(client, fresh):
    r = client.post("/inventory/items", json={"sku": "PIN-3", "name": "Pin 3mm", "qty": 40, "warehouse_id": 2})
    assert r.status_code == 201
    assert r.json() == {"id": 6, "warehouse_id": 2, "created": True}
    item = fresh().get(Item, 6)
    assert (item.tenant_id, item.sku, item.name, item.qty, item.warehouse_id) == ("north", "PIN-3", "Pin 3mm", 40, 2)
    # no warehouse given: the tenant's first warehouse
    r = client.post("/inventory/items", json={"sku": "PIN-4", "name": "Pin 4mm"})
    assert r.json() == {"id": 7, "warehouse_id": 1, "created": True}
    assert fresh().get(Item, 7).qty == 0


def test_create_item_new_tenant_gets_default_warehouse(client, fresh):
    r = client.post("/inventory/items", json={"sku": "BOLT-10", "name": "Bolt"}, headers={"X-Tenant": "west"})
    assert r.status_code == 201
    assert r.json() == {"id": 6, "warehouse_id": 4, "created": True}
    s = fresh()
    assert s.get(Warehouse, 4).name == "Main" and s.get(Warehouse, 4).tenant_id == "west"
    assert s.get(Item, 6).tenant_id == "west"


def test_create_item_duplicate_sku(client, fresh):
    r = client.post("/inventory/items", json={"sku": "BOLT-10", "name": "Again", "warehouse_id": 1})
    assert r.status_code == 409
    assert r.json() == {"detail": "duplicate"}
    s = fresh()
    assert s.execute(select(func.count(Item.id))).scalar_one() == 5
    assert s.execute(select(func.count(Warehouse.id))).scalar_one() == 3
    assert s.get(Item, 1).name == "Bolt 10mm"


def test_update_item(client, fresh):
    r = client.patch("/inventory/items/3", json={"name": "Gear A2", "warehouse_id": 1})
    assert r.status_code == 200
    assert r.json() == _item(3, "GEAR-A", "Gear A2", 15, 1)
    item = fresh().get(Item, 3)
    assert (item.name, item.warehouse_id) == ("Gear A2", 1)
    r = client.patch("/inventory/items/5", json={"name": "Mine now"})
    assert r.status_code == 404
    assert r.json() == {"detail": "item not found"}
    assert fresh().get(Item, 5).name == "Bolt (south)"


def test_adjust_stock(client, fresh):
    r = client.post("/inventory/items/3/adjust", json={"delta": -5, "reason": "sale"})
    assert r.status_code == 200
    assert r.json() == {"id": 3, "sku": "GEAR-A", "qty": 10}
    s = fresh()
    assert s.get(Item, 3).qty == 10
    moves = s.execute(select(StockMovement).where(StockMovement.item_id == 3).order_by(StockMovement.id)).scalars()
    assert [(m.delta, m.reason, m.tenant_id) for m in moves] == [(15, "receipt", "north"), (-5, "sale", "north")]


def test_adjust_stock_rejections(client, fresh):
    r = client.post("/inventory/items/3/adjust", json={"delta": -16, "reason": "sale"})
    assert r.status_code == 409
    assert r.json() == {"detail": "only 15 in stock"}
    r = client.post("/inventory/items/3/adjust", json={"delta": 1, "reason": "gift"})
    assert r.status_code == 422
    assert r.json() == {"detail": "unknown reason: gift"}
    r = client.post("/inventory/items/5/adjust", json={"delta": 1})
    assert r.status_code == 404
    assert r.json() == {"detail": "item not found"}
    s = fresh()
    assert [s.get(Item, 3).qty, s.get(Item, 5).qty] == [15, 7]
    assert s.execute(select(func.count(StockMovement.id))).scalar_one() == 4


def test_delete_item(client, fresh):
    r = client.delete("/inventory/items/1")
    assert r.status_code == 204
    assert r.content == b""
    s = fresh()
    assert s.get(Item, 1) is None
    assert s.execute(select(StockMovement.item_id).order_by(StockMovement.id)).scalars().all() == [3, 5]
    r = client.delete("/inventory/items/1")
    assert r.status_code == 404
    assert r.json() == {"detail": "item not found"}
    assert client.delete("/inventory/items/5").status_code == 404
    assert fresh().get(Item, 5) is not None


def test_delete_item_failure_keeps_the_item(lenient_client, fresh, drop_table):
    drop_table("stock_movements")
    r = lenient_client.delete("/inventory/items/3")
    assert r.status_code == 500
    assert fresh().get(Item, 3).sku == "GEAR-A"


def test_adjust_stock_failure_writes_nothing(lenient_client, fresh, reject_writes):
    # The item's new quantity is written first, then the movement insert is refused:
    # both belong to one transaction, so the quantity must not change either.
    reject_writes("stock_movements", "INSERT")
    r = lenient_client.post("/inventory/items/3/adjust", json={"delta": -5, "reason": "sale"})
    assert r.status_code == 500
    s = fresh()
    assert s.get(Item, 3).qty == 15
    assert s.execute(select(func.count(StockMovement.id))).scalar_one() == 4
