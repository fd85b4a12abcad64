from sqlalchemy import func, select

from app.models import ApiKey

SOUTH = {"X-Tenant": "south"}


def test_list_keys(client):
    r = client.get("/accounts/1/keys")
    assert r.status_code == 200
    assert r.json() == [{"id": 1, "label": "ci", "revoked": False}]
    r = client.get("/accounts/1/keys", params={"include_revoked": True})
    assert r.json() == [{"id": 1, "label": "ci", "revoked": False}, {"id": 2, "label": "laptop", "revoked": True}]
    assert client.get("/accounts/4/keys").json() == []
    assert client.get("/accounts/4/keys", headers=SOUTH).json() == [{"id": 3, "label": "ops", "revoked": False}]


def test_issue_key(client, fresh):
    r = client.post("/accounts/2/keys", json={"label": "deploy"})
    assert r.status_code == 201
    assert r.json() == {"id": 4, "account_id": 2, "label": "deploy", "revoked": False}
    k = fresh().get(ApiKey, 4)
    assert (k.tenant_id, k.account_id, k.label, k.revoked) == ("north", 2, "deploy", False)
    assert client.get("/accounts/2/keys").json() == [{"id": 4, "label": "deploy", "revoked": False}]


def test_issue_key_rejections(client, fresh):
    for account_id in (3, 4, 999):  # closed, other tenant, missing
        r = client.post(f"/accounts/{account_id}/keys", json={"label": "deploy"})
        assert r.status_code == 404
        assert r.json() == {"detail": f"account {account_id} not found"}
    assert client.post("/accounts/2/keys", json={"label": ""}).status_code == 422
    assert fresh().execute(select(func.count(ApiKey.id))).scalar_one() == 3


def test_revoke_key(client, fresh):
    r = client.post("/accounts/1/keys/1/revoke")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "revoked": True, "changed": True}
    assert fresh().get(ApiKey, 1).revoked is True
    r = client.post("/accounts/1/keys/2/revoke")
    assert r.json() == {"id": 2, "revoked": True, "changed": False}


def test_revoke_key_not_found(client, fresh):
    for account_id, key_id in ((2, 1), (4, 3), (1, 999)):
        r = client.post(f"/accounts/{account_id}/keys/{key_id}/revoke")
        assert r.status_code == 404
        assert r.json() == {"detail": "key not found"}
    s = fresh()
    assert [s.get(ApiKey, i).revoked for i in (1, 3)] == [False, False]


def test_issue_key_failure_writes_nothing(client, fresh, reject_writes):
    reject_writes("api_keys", "INSERT")
    r = client.post("/accounts/2/keys", json={"label": "deploy"})
    assert r.status_code == 500
    s = fresh()
    assert s.execute(select(func.count(ApiKey.id))).scalar_one() == 3
    assert s.execute(select(ApiKey).where(ApiKey.account_id == 2)).first() is None
