from sqlalchemy import func, select

from app.models import Account, ApiKey

SOUTH = {"X-Tenant": "south"}

ANA = {"id": 1, "email": "ana@example.com", "display_name": "Ana", "status": "active"}
BEN = {"id": 2, "email": "ben@example.com", "display_name": "Ben", "status": "active"}
CY = {"id": 3, "email": "cy@example.com", "display_name": "Cy", "status": "closed"}


def test_list_accounts(client):
    r = client.get("/accounts")
    assert r.status_code == 200
    assert r.json() == {"items": [ANA, BEN, CY], "total": 3}
    assert client.get("/accounts", params={"status": "active"}).json() == {"items": [ANA, BEN], "total": 2}
    assert client.get("/accounts", params={"limit": 1}).json() == {"items": [ANA], "total": 3}
    assert client.get("/accounts", headers=SOUTH).json()["items"][0]["email"] == "dee@example.com"


def test_list_accounts_query_failure(client):
    r = client.get("/accounts", params={"limit": 2**70})
    assert r.status_code == 500
    assert r.json() == {
        "detail": {
            "error": "HANDLER_EXCEPTION:OverflowError",
            "message": "Python int too large to convert to SQLite INTEGER",
        }
    }


def test_create_account(client, fresh):
    r = client.post("/accounts", json={"email": "Eve@Example.com", "display_name": "Eve"})
    assert r.status_code == 201
    assert r.json() == {"id": 5, "email": "eve@example.com", "status": "active"}
    a = fresh().get(Account, 5)
    assert (a.tenant_id, a.email, a.display_name, a.status) == ("north", "eve@example.com", "Eve", "active")
    # emails are unique per tenant only
    r = client.post("/accounts", json={"email": "ana@example.com", "display_name": "Ana S"}, headers=SOUTH)
    assert r.status_code == 201
    assert r.json() == {"id": 6, "email": "ana@example.com", "status": "active"}
    assert fresh().get(Account, 6).tenant_id == "south"


def test_create_account_duplicate(client, fresh):
    r = client.post("/accounts", json={"email": "ANA@example.com", "display_name": "Other Ana"})
    assert r.status_code == 409
    assert r.json() == {"detail": "duplicate"}
    assert client.post("/accounts", json={"email": "not-an-email", "display_name": "X"}).status_code == 422
    s = fresh()
    assert s.execute(select(func.count(Account.id))).scalar_one() == 4
    assert s.get(Account, 1).display_name == "Ana"


def test_rename_account(client, fresh):
    r = client.put("/accounts/2/display-name", json={"display_name": "  Benjamin   B "})
    assert r.status_code == 200
    assert r.json() == {"id": 2, "display_name": "Benjamin B"}
    assert fresh().get(Account, 2).display_name == "Benjamin B"


def test_rename_account_rejections(client, fresh):
    for missing in (999, 4):
        r = client.put(f"/accounts/{missing}/display-name", json={"display_name": "X"})
        assert r.status_code == 404
        assert r.json() == {"detail": "account not found"}
    r = client.put("/accounts/3/display-name", json={"display_name": "Cyrus"})
    assert r.status_code == 409
    assert r.json() == {"detail": "account is closed"}
    r = client.put("/accounts/2/display-name", json={"display_name": "x" * 81})
    assert r.status_code == 422
    assert r.json() == {"detail": "display name must be 1-80 characters"}
    s = fresh()
    assert [s.get(Account, i).display_name for i in (2, 3, 4)] == ["Ben", "Cy", "Dee"]


def test_close_account(client, fresh):
    r = client.post("/accounts/1/close")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "status": "closed"}
    s = fresh()
    assert s.get(Account, 1).status == "closed"
    assert s.get(ApiKey, 1).revoked is True
    for again in (1, 3, 4, 999):
        r = client.post(f"/accounts/{again}/close")
        assert r.status_code == 404
        assert r.json() == {"detail": "account not found"}
    s = fresh()
    assert s.get(Account, 4).status == "active" and s.get(ApiKey, 3).revoked is False


def test_rename_account_failure_writes_nothing(lenient_client, fresh, reject_writes):
    reject_writes("accounts", "UPDATE")
    r = lenient_client.put("/accounts/2/display-name", json={"display_name": "Benjamin"})
    assert r.status_code == 500
    assert fresh().get(Account, 2).display_name == "Ben"


def test_close_account_failure_writes_nothing(lenient_client, fresh, reject_writes):
    # The account's status is written first, then revoking its key is refused: closing is
    # one transaction, so the account must stay active.
    reject_writes("api_keys", "UPDATE")
    r = lenient_client.post("/accounts/1/close")
    assert r.status_code == 500
    s = fresh()
    assert s.get(Account, 1).status == "active"
    assert [s.get(ApiKey, i).revoked for i in (1, 2)] == [False, True]
