from sqlalchemy import func, select

from app.models import AuditEvent

T2 = {"X-Tenant-ID": "t2"}


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_version(client):
    r = client.get("/version")
    assert r.status_code == 200
    assert r.json()["version"] == "1.4.2"
    assert r.json()["python"].count(".") == 2


def test_recent_events(client):
    r = client.get("/audit/events/recent", params={"limit": 2})
    assert r.status_code == 200
    assert r.json() == {"items": [{"id": 3, "kind": "order", "message": "c"}, {"id": 2, "kind": "login", "message": "b"}]}
    assert client.get("/audit/events/recent", headers=T2).json() == {"items": [{"id": 4, "kind": "login", "message": "z"}]}


def test_count_events(client):
    r = client.get("/audit/events/count")
    assert r.status_code == 200
    assert r.json() == {"count": 3}
    assert client.get("/audit/events/count", headers=T2).json() == {"count": 1}


def test_ingest_events(client, fresh):
    r = client.post("/audit/ingest", json=[{"kind": "export", "message": "x" * 300}, {"kind": "login"}])
    assert r.status_code == 201
    assert r.json() == {"accepted": 2}
    s = fresh()
    assert s.execute(select(func.count(AuditEvent.id)).where(AuditEvent.tenant_id == "t1")).scalar_one() == 5
    export = s.execute(select(AuditEvent).where(AuditEvent.kind == "export")).scalar_one()
    assert len(export.message) == 200
    assert client.get("/audit/events/count").json() == {"count": 5}
    assert client.post("/audit/ingest", json=[]).json() == {"accepted": 0}


def test_ingest_stats(client):
    r = client.get("/audit/ingest/stats")
    assert r.status_code == 200
    assert r.json() == {"total": 3, "by_kind": {"login": 2, "order": 1}}
    assert client.get("/audit/ingest/stats", headers=T2).json() == {"total": 1, "by_kind": {"login": 1}}
