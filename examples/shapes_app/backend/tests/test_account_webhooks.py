from sqlalchemy import func, select

from app.models import Webhook

SOUTH = {"X-Tenant": "south"}
STOCK_LOW = {"event": "stock.low", "url": "https://hooks.example.com/north"}


def _hooks(session):
    rows = session.execute(select(Webhook).order_by(Webhook.id)).scalars()
    return [(h.tenant_id, h.account_id, h.event, h.url, h.active) for h in rows]


def test_subscribe_webhook(client, fresh):
    r = client.post("/accounts/1/webhooks", json={"event": "stock.low", "url": " https://hooks.example.com/north "})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "event": "stock.low", "url": "https://hooks.example.com/north", "active": True}
    assert _hooks(fresh()) == [("north", 1, "stock.low", "https://hooks.example.com/north", True)]
    r = client.post("/accounts/4/webhooks", json={"event": "export.done", "url": "https://ops.example.org/x"}, headers=SOUTH)
    assert r.status_code == 201
    assert r.json()["id"] == 2
    assert _hooks(fresh())[1] == ("south", 4, "export.done", "https://ops.example.org/x", True)


def test_list_webhooks(client):
    assert client.get("/accounts/1/webhooks").json() == []
    client.post("/accounts/1/webhooks", json=STOCK_LOW)
    client.post("/accounts/1/webhooks", json={"event": "export.done", "url": "https://hooks.example.com/exports"})
    r = client.get("/accounts/1/webhooks")
    assert r.status_code == 200
    assert r.json() == [
        {"id": 1, "event": "stock.low", "url": "https://hooks.example.com/north", "active": True},
        {"id": 2, "event": "export.done", "url": "https://hooks.example.com/exports", "active": True},
    ]
    assert client.get("/accounts/2/webhooks").json() == []
    for missing in (4, 999):
        r = client.get(f"/accounts/{missing}/webhooks")
        assert r.status_code == 404
        assert r.json() == {"detail": f"account {missing} not found"}


def test_subscribe_webhook_rejections(client, fresh):
    cases = [
        (1, {"event": "stock.high", "url": "https://hooks.example.com/a"}, 422, "unknown event: stock.high"),
        (1, {"event": "stock.low", "url": "http://hooks.example.com/a"}, 422, "webhook url must be an https:// URL"),
        (1, {"event": "stock.low", "url": "https:///no-host"}, 422, "webhook url must be an https:// URL"),
        (3, STOCK_LOW, 422, "account is closed"),
        (4, STOCK_LOW, 404, "account 4 not found"),
        (999, STOCK_LOW, 404, "account 999 not found"),
    ]
    for account_id, body, status, detail in cases:
        r = client.post(f"/accounts/{account_id}/webhooks", json=body)
        assert (r.status_code, r.json()) == (status, {"detail": detail}), body
    assert fresh().execute(select(func.count(Webhook.id))).scalar_one() == 0


def test_webhook_quota(client, fresh):
    for n in range(3):
        body = {"event": "stock.low", "url": f"https://hooks.example.com/{n}"}
        assert client.post("/accounts/2/webhooks", json=body).status_code == 201
    r = client.post("/accounts/2/webhooks", json={"event": "stock.low", "url": "https://hooks.example.com/3"})
    assert r.status_code == 422
    assert r.json() == {"detail": "an account can have at most 3 webhooks"}
    assert fresh().execute(select(func.count(Webhook.id))).scalar_one() == 3


def test_duplicate_webhook_is_refused_and_writes_nothing(client, fresh):
    assert client.post("/accounts/1/webhooks", json=STOCK_LOW).status_code == 201
    # The insert itself fails (unique account/event/url).
    r = client.post("/accounts/1/webhooks", json=STOCK_LOW)
    assert r.status_code == 409
    assert r.json() == {"detail": "already subscribed"}
    assert _hooks(fresh()) == [("north", 1, "stock.low", "https://hooks.example.com/north", True)]
    # Nothing is left half-done: the same URL for another event is fine.
    r = client.post("/accounts/1/webhooks", json={**STOCK_LOW, "event": "account.closed"})
    assert r.status_code == 201
    assert [h[2] for h in _hooks(fresh())] == ["stock.low", "account.closed"]
