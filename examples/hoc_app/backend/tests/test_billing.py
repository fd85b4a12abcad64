from sqlalchemy import func, select

from app.models import Invoice

T2 = {"X-Tenant-ID": "t2"}


def test_get_invoice(client):
    r = client.get("/billing/invoices/1")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "order_id": 1, "amount_cents": 3500, "status": "open"}
    assert client.get("/billing/invoices/999").status_code == 404
    assert client.get("/billing/invoices/3").status_code == 404
    assert client.get("/billing/invoices/3", headers=T2).json()["amount_cents"] == 50


def test_quote_invoice(client):
    r = client.get("/billing/invoices/1/quote")
    assert r.status_code == 200
    assert r.json() == {"invoice_id": 1, "net_cents": 3500, "tax_cents": 700, "gross_cents": 4200}
    assert client.get("/billing/invoices/999/quote").status_code == 404


def test_create_invoice(client, fresh):
    r = client.post("/billing/invoices", json={"order_id": 2})
    assert r.status_code == 201
    assert r.json() == {"id": 4, "order_id": 2, "amount_cents": 900, "status": "open"}
    inv = fresh().get(Invoice, 4)
    assert inv is not None and inv.amount_cents == 900 and inv.tenant_id == "t1" and inv.status == "open"
    assert client.post("/billing/invoices", json={"order_id": 999}).status_code == 404
    assert client.post("/billing/invoices", json={"order_id": 3}).status_code == 404
    assert fresh().execute(select(func.count(Invoice.id))).scalar_one() == 4


def test_touch_invoice(client, fresh):
    assert client.get("/billing/invoices/last-touched").json()["invoice_id"] in (None, 1, 2, 3)
    r = client.post("/billing/invoices/2/touch")
    assert r.status_code == 200
    assert r.json() == {"id": 2, "touched": True}
    assert fresh().get(Invoice, 2).touch_count == 1
    client.post("/billing/invoices/2/touch")
    assert fresh().get(Invoice, 2).touch_count == 2
    body = client.get("/billing/invoices/last-touched").json()
    assert body["invoice_id"] == 2
    assert "db.commit() belongs to L4" in body["note"]
    assert client.post("/billing/invoices/999/touch").status_code == 404
    assert client.get("/billing/invoices/last-touched").json()["invoice_id"] == 2


def test_invoices_by_order(client):
    r = client.get("/billing/invoices/by-order/1")
    assert r.status_code == 200
    assert r.json() == {
        "order_id": 1,
        "customer": "alice",
        "invoices": [{"id": 1, "order_id": 1, "amount_cents": 3500, "status": "open"}],
    }
    assert client.get("/billing/invoices/by-order/999").status_code == 404


def test_statement(client):
    r = client.get("/billing/statements")
    assert r.status_code == 200
    body = r.json()
    assert body["tenant_id"] == "t1"
    assert body["orders"] == {"orders": 2, "by_status": {"open": 1, "shipped": 1}, "total_cents": 4400}
    assert body["invoices"] == [
        {"id": 1, "order_id": 1, "amount_cents": 3500, "status": "open"},
        {"id": 2, "order_id": 2, "amount_cents": 900, "status": "paid"},
    ]


def test_pay_invoice(client, fresh):
    r = client.post("/billing/statements/invoices/1/pay")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "status": "paid"}
    assert fresh().get(Invoice, 1).status == "paid"
    assert client.post("/billing/statements/invoices/999/pay").status_code == 404
    assert client.post("/billing/statements/invoices/3/pay").status_code == 404
    assert fresh().get(Invoice, 3).status == "open"


def test_void_invoice(client, fresh):
    r = client.post("/billing/statements/invoices/1/void")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "status": "void"}
    assert fresh().get(Invoice, 1).status == "void"
    r = client.post("/billing/statements/invoices/2/void")  # already paid
    assert r.status_code == 400
    assert "already paid" in r.json()["detail"]
    assert fresh().get(Invoice, 2).status == "paid"
    assert client.post("/billing/statements/invoices/999/void").status_code == 404


def test_outstanding_facade(client, fresh):
    r = client.get("/billing/facade/outstanding")
    assert r.status_code == 200
    assert r.json() == {"count": 1, "net_cents": 3500, "tax_cents": 700}
    client.post("/billing/statements/invoices/1/pay")
    assert client.get("/billing/facade/outstanding").json() == {"count": 0, "net_cents": 0, "tax_cents": 0}
    assert client.get("/billing/facade/outstanding", headers=T2).json() == {"count": 1, "net_cents": 50, "tax_cents": 10}


def test_pay_invoice_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("invoices", "UPDATE")
    r = client.post("/billing/statements/invoices/1/pay")
    assert r.status_code == 400
    assert "UPDATE on invoices refused" in r.json()["detail"]
    assert fresh().get(Invoice, 1).status == "open"


def test_void_invoice_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("invoices", "UPDATE")
    r = client.post("/billing/statements/invoices/1/void")
    assert r.status_code == 400
    assert "UPDATE on invoices refused" in r.json()["detail"]
    assert fresh().get(Invoice, 1).status == "open"
