from sqlalchemy import func, select

from app.models import Order, OrderLine

T2 = {"X-Tenant-ID": "t2"}


def test_list_orders(client):
    r = client.get("/orders")
    assert r.status_code == 200
    assert r.json() == {
        "items": [
            {"id": 1, "customer": "alice", "status": "open"},
            {"id": 2, "customer": "bob", "status": "shipped"},
        ]
    }
    assert client.get("/orders", params={"status": "shipped"}).json()["items"] == [
        {"id": 2, "customer": "bob", "status": "shipped"}
    ]
    assert client.get("/orders", headers=T2).json()["items"][0]["customer"] == "carol"


def test_export_orders(client):
    r = client.get("/orders/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == "id,customer,status\n1,alice,open\n2,bob,shipped\n# lines=3\n"


def test_get_order(client):
    r = client.get("/orders/1")
    assert r.status_code == 200
    assert r.json() == {
        "id": 1,
        "customer": "alice",
        "status": "open",
        "lines": [
            {"sku": "HAM", "qty": 2, "unit_price_cents": 1000},
            {"sku": "WRN", "qty": 1, "unit_price_cents": 1500},
        ],
        "total_cents": 3500,
    }
    assert client.get("/orders/999").status_code == 404
    assert client.get("/orders/3").status_code == 404


def test_get_order_lines(client):
    r = client.get("/orders/1/lines")
    assert r.status_code == 200
    assert r.json() == {"order_id": 1, "lines": ["HAM", "WRN"]}
    assert client.get("/orders/999/lines").json() == {"order_id": 999, "lines": []}
    assert client.post("/orders/1/status", json={"status": "cancelled"}).status_code == 200
    assert client.get("/orders/1/lines").json() == {"order_id": 1, "lines": []}


def test_set_order_status(client, fresh):
    r = client.post("/orders/1/status", json={"status": "shipped"})
    assert r.status_code == 200
    assert r.json() == {"id": 1, "status": "shipped"}
    assert fresh().get(Order, 1).status == "shipped"
    assert client.post("/orders/1/status", json={"status": "lost"}).status_code == 422
    assert client.post("/orders/999/status", json={"status": "open"}).status_code == 404
    assert client.post("/orders/3/status", json={"status": "shipped"}).status_code == 404
    assert fresh().get(Order, 3).status == "open"


def test_orders_summary(client):
    r = client.get("/orders-ops/summary")
    assert r.status_code == 200
    assert r.json() == {"orders": 2, "by_status": {"open": 1, "shipped": 1}, "total_cents": 4400}
    assert client.get("/orders-ops/summary", headers=T2).json() == {
        "orders": 1,
        "by_status": {"open": 1},
        "total_cents": 50,
    }


def test_create_order(client, fresh):
    r = client.post("/orders-ops", json={"customer": "dave"})
    assert r.status_code == 201
    assert r.json() == {"id": 4}
    o = fresh().get(Order, 4)
    assert o is not None and o.customer == "dave" and o.status == "open" and o.tenant_id == "t1"
    assert client.get("/orders-ops/summary").json()["by_status"] == {"open": 2, "shipped": 1}


def test_add_order_line(client, fresh):
    r = client.post("/orders-ops/1/lines", json={"sku": "SAW", "qty": 1, "unit_price_cents": 2500})
    assert r.status_code == 200
    assert r.json() == {"added": True}
    lines = fresh().execute(select(OrderLine).where(OrderLine.order_id == 1).order_by(OrderLine.id)).scalars().all()
    assert [(l.sku, l.qty) for l in lines] == [("HAM", 2), ("WRN", 1), ("SAW", 1)]
    # duplicate SKU: rejected, nothing written
    r = client.post("/orders-ops/1/lines", json={"sku": "HAM", "qty": 9, "unit_price_cents": 1})
    assert r.status_code == 409
    lines = fresh().execute(select(OrderLine).where(OrderLine.order_id == 1).order_by(OrderLine.id)).scalars().all()
    assert [(l.sku, l.qty) for l in lines] == [("HAM", 2), ("WRN", 1), ("SAW", 1)]
    # the session is usable again after the rollback
    assert client.post("/orders-ops/1/lines", json={"sku": "NUT", "qty": 5, "unit_price_cents": 10}).json() == {
        "added": True
    }
    assert fresh().execute(select(OrderLine).where(OrderLine.sku == "NUT")).scalar_one().qty == 5


def test_cancel_order(client, fresh):
    r = client.post("/orders-ops/1/cancel")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "status": "cancelled"}
    assert fresh().get(Order, 1).status == "cancelled"
    assert client.post("/orders-ops/999/cancel").status_code == 404
    assert client.post("/orders-ops/3/cancel").status_code == 404
    assert fresh().get(Order, 3).status == "open"
    assert client.get("/orders-ops/summary").json()["total_cents"] == 900


def test_create_order_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("orders", "INSERT")
    r = client.post("/orders-ops", json={"customer": "dave"})
    assert r.status_code == 400
    assert "INSERT on orders refused" in r.json()["detail"]
    s = fresh()
    assert s.execute(select(func.count(Order.id))).scalar_one() == 3
    assert s.execute(select(Order).where(Order.customer == "dave")).first() is None


def test_cancel_order_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("orders", "UPDATE")
    r = client.post("/orders-ops/1/cancel")
    assert r.status_code == 400
    assert "UPDATE on orders refused" in r.json()["detail"]
    assert fresh().get(Order, 1).status == "open"
    assert client.get("/orders-ops/summary").json()["total_cents"] == 4400
