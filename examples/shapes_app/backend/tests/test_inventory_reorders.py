from sqlalchemy import func, select

from app.models import ReorderRequest

SOUTH = {"X-Tenant": "south"}


def _requests(session):
    rows = session.execute(select(ReorderRequest).order_by(ReorderRequest.id)).scalars()
    return [(r.tenant_id, r.item_id, r.qty, r.status) for r in rows]


def test_request_reorder(client, fresh):
    r = client.post("/inventory/items/3/reorders", json={"qty": 50})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "item_id": 3, "qty": 50, "status": "open"}
    assert _requests(fresh()) == [("north", 3, 50, "open")]
    r = client.post("/inventory/items/5/reorders", json={"qty": 10}, headers=SOUTH)
    assert r.json() == {"id": 2, "item_id": 5, "qty": 10, "status": "open"}
    assert _requests(fresh()) == [("north", 3, 50, "open"), ("south", 5, 10, "open")]


def test_request_reorder_after_the_last_one_was_received(client, fresh):
    s = fresh()
    s.add(ReorderRequest(tenant_id="north", item_id=3, qty=40, status="received"))
    s.commit()
    r = client.post("/inventory/items/3/reorders", json={"qty": 60})
    assert r.status_code == 201
    assert r.json()["id"] == 2
    assert _requests(fresh()) == [("north", 3, 40, "received"), ("north", 3, 60, "open")]


def test_request_reorder_rejections(client, fresh):
    for qty in (0, -3, 10_001):
        r = client.post("/inventory/items/3/reorders", json={"qty": qty})
        assert r.status_code == 422
        assert r.json() == {"detail": "reorder quantity must be 1-10000"}
    for missing in (5, 999):  # other tenant's item, no such item
        r = client.post(f"/inventory/items/{missing}/reorders", json={"qty": 5})
        assert r.status_code == 404
        assert r.json() == {"detail": "item not found"}
    assert fresh().execute(select(func.count(ReorderRequest.id))).scalar_one() == 0


def test_second_open_reorder_is_refused_and_writes_nothing(client, fresh):
    assert client.post("/inventory/items/3/reorders", json={"qty": 50}).status_code == 201
    # The insert itself fails (one open request per item, a unique index).
    r = client.post("/inventory/items/3/reorders", json={"qty": 20})
    assert r.status_code == 409
    assert r.json() == {"detail": "an open reorder already exists for this item"}
    assert _requests(fresh()) == [("north", 3, 50, "open")]
    # Nothing is left half-done: another item can still be reordered.
    r = client.post("/inventory/items/1/reorders", json={"qty": 5})
    assert r.status_code == 201
    assert _requests(fresh()) == [("north", 3, 50, "open"), ("north", 1, 5, "open")]
