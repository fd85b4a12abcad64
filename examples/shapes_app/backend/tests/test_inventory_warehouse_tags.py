from sqlalchemy import func, select

from app.models import WarehouseTag

SOUTH = {"X-Tenant": "south"}


def _tags(session):
    rows = session.execute(select(WarehouseTag).order_by(WarehouseTag.id)).scalars()
    return [(t.tenant_id, t.warehouse_id, t.tag) for t in rows]


def test_add_warehouse_tag(client, fresh):
    r = client.post("/inventory/warehouses/2/tags", json={"tag": " Cold "})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "warehouse_id": 2, "tag": "cold"}
    assert _tags(fresh()) == [("north", 2, "cold")]
    # The same tag on another warehouse, and on another tenant's warehouse: allowed.
    assert client.post("/inventory/warehouses/1/tags", json={"tag": "cold"}).status_code == 201
    r = client.post("/inventory/warehouses/3/tags", json={"tag": "cold"}, headers=SOUTH)
    assert r.status_code == 201
    assert r.json() == {"id": 3, "warehouse_id": 3, "tag": "cold"}
    assert _tags(fresh()) == [("north", 2, "cold"), ("north", 1, "cold"), ("south", 3, "cold")]


def test_add_warehouse_tag_rejections(client, fresh):
    for bad in ("", "   ", "-cold", "cold storage", "x" * 33):
        r = client.post("/inventory/warehouses/1/tags", json={"tag": bad})
        assert r.status_code == 422
        assert r.json() == {
            "detail": "tag must be 1-32 letters, digits or dashes, starting with a letter or digit"
        }
    for missing in (3, 999):  # other tenant's warehouse, no such warehouse
        r = client.post(f"/inventory/warehouses/{missing}/tags", json={"tag": "cold"})
        assert r.status_code == 404
        assert r.json() == {"detail": "warehouse not found"}
    assert fresh().execute(select(func.count(WarehouseTag.id))).scalar_one() == 0


def test_duplicate_tag_is_refused_and_writes_nothing(client, fresh):
    assert client.post("/inventory/warehouses/1/tags", json={"tag": "bulk"}).status_code == 201
    # The insert itself fails (a warehouse carries each tag once, a unique constraint).
    r = client.post("/inventory/warehouses/1/tags", json={"tag": "BULK"})
    assert r.status_code == 409
    assert r.json() == {"detail": "the warehouse already has this tag"}
    assert _tags(fresh()) == [("north", 1, "bulk")]
    # Nothing is left half-done: the warehouse can still take another tag.
    r = client.post("/inventory/warehouses/1/tags", json={"tag": "cold"})
    assert r.status_code == 201
    assert _tags(fresh()) == [("north", 1, "bulk"), ("north", 1, "cold")]
