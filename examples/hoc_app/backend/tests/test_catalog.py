from sqlalchemy import select

from app.models import Category, Widget

T2 = {"X-Tenant-ID": "t2"}


def test_list_widgets_pagination(client):
    r = client.get("/catalog/widgets")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 23 and body["page"] == 1 and body["page_size"] == 20
    assert [w["id"] for w in body["items"]] == list(range(1, 21))
    assert body["items"][0] == {"id": 1, "name": "Hammer", "price_cents": 1000, "category_id": 1}
    r = client.get("/catalog/widgets", params={"page": 2})
    assert [w["id"] for w in r.json()["items"]] == [21, 22, 23]
    r = client.get("/catalog/widgets", headers=T2)
    assert r.json()["total"] == 1 and r.json()["items"][0]["name"] == "Other"
    assert client.get("/catalog/widgets", params={"page": 0}).status_code == 422


def test_search_widgets(client):
    r = client.get("/catalog/widgets/search", params={"q": "Ham"})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "Ham"
    assert body["names"] == ["Hammer"] and body["count"] == 1
    assert body["hint"] == {"query": "Ham", "suggestions": []}
    r = client.get("/catalog/widgets/search", params={"q": "Bulk"})
    assert r.json()["count"] == 20
    assert client.get("/catalog/widgets/search", params={"q": "Other"}).json()["count"] == 0


def test_get_widget(client):
    r = client.get("/catalog/widgets/2")
    assert r.status_code == 200
    assert r.json() == {"id": 2, "name": "Wrench", "price_cents": 1500, "category_id": 1}
    assert client.get("/catalog/widgets/999").status_code == 404
    assert client.get("/catalog/widgets/24").status_code == 404  # other tenant
    assert client.get("/catalog/widgets/24", headers=T2).json()["name"] == "Other"


def test_discounted_widget(client):
    r = client.get("/catalog/widgets/1/discounted", params={"pct": 10})
    assert r.status_code == 200
    assert r.json() == {"id": 1, "price_cents": 1000, "discounted_cents": 900}
    assert client.get("/catalog/widgets/1/discounted").json()["discounted_cents"] == 900
    assert client.get("/catalog/widgets/1/discounted", params={"pct": 95}).status_code == 400
    assert client.get("/catalog/widgets/999/discounted").status_code == 404


def test_create_widget(client, fresh):
    r = client.post("/catalog/widgets", json={"name": "Saw", "price_cents": 2500, "category_id": 1})
    assert r.status_code == 201
    body = r.json()
    assert body == {"id": 25, "name": "Saw", "price_cents": 2500, "created": True}
    w = fresh().get(Widget, 25)
    assert w is not None and w.name == "Saw" and w.tenant_id == "t1" and w.category_id == 1
    assert client.get("/catalog/widgets/25").status_code == 200


def test_update_widget_price(client, fresh):
    r = client.put("/catalog/widgets/2/price", json={"price_cents": 1600})
    assert r.status_code == 200
    assert r.json() == {"id": 2, "price_cents": 1600}
    assert fresh().get(Widget, 2).price_cents == 1600
    assert client.put("/catalog/widgets/999/price", json={"price_cents": 1}).status_code == 404
    assert client.put("/catalog/widgets/24/price", json={"price_cents": 1}).status_code == 404
    assert fresh().get(Widget, 24).price_cents == 500


def test_delete_widget(client, fresh):
    r = client.delete("/catalog/widgets/3")
    assert r.status_code == 204
    assert fresh().get(Widget, 3) is None
    assert client.delete("/catalog/widgets/3").status_code == 404
    assert client.delete("/catalog/widgets/24").status_code == 404
    assert fresh().get(Widget, 24) is not None


def test_list_categories(client):
    r = client.get("/catalog/categories")
    assert r.status_code == 200
    assert r.json() == {
        "items": [
            {"id": 1, "name": "Tools", "widget_count": 2},
            {"id": 2, "name": "Toys", "widget_count": 1},
        ]
    }
    assert client.get("/catalog/categories", headers=T2).json()["items"] == [
        {"id": 3, "name": "Misc", "widget_count": 1}
    ]


def test_create_category(client, fresh):
    r = client.post("/catalog/categories", json={"name": " Garden "})
    assert r.status_code == 201
    assert r.json() == {"id": 4, "name": "Garden"}
    c = fresh().get(Category, 4)
    assert c is not None and c.name == "Garden" and c.tenant_id == "t1"
    assert client.post("/catalog/categories", json={"name": "  "}).status_code == 422
    assert fresh().execute(select(Category)).scalars().all().__len__() == 4


def test_category_prices(client):
    r = client.get("/catalog/categories/1/prices")
    assert r.status_code == 200
    assert r.json() == {"category_id": 1, "prices": {"Hammer": 1000, "Wrench": 1500}}
    assert client.get("/catalog/categories/999/prices").json() == {"category_id": 999, "prices": {}}


def test_delete_category(client, fresh):
    r = client.delete("/catalog/categories/1")
    assert r.status_code == 200
    assert r.json() == {"deleted": 1}
    s = fresh()
    assert s.get(Category, 1) is None
    assert s.get(Widget, 1).category_id is None and s.get(Widget, 2).category_id is None
    assert s.get(Widget, 3).category_id == 2
    assert client.delete("/catalog/categories/1").status_code == 404
    assert client.delete("/catalog/categories/3").status_code == 404  # other tenant
    assert fresh().get(Category, 3) is not None


def test_category_detail(client):
    r = client.get("/catalog/categories/1")
    assert r.status_code == 200
    assert r.json() == {"id": 1, "name": "Tools", "widgets": ["Hammer", "Wrench"]}
    assert client.get("/catalog/categories/999").status_code == 404
    assert client.get("/catalog/categories/3").status_code == 404


def test_bridge_stats(client):
    r = client.get("/catalog/bridge/stats")
    assert r.status_code == 200
    assert r.json() == {"widgets": 23, "total_price_cents": 5010, "categories": 2}
    assert client.get("/catalog/bridge/stats", headers=T2).json() == {
        "widgets": 1,
        "total_price_cents": 500,
        "categories": 1,
    }


def test_bridge_cheapest(client):
    r = client.get("/catalog/bridge/cheapest")
    assert r.status_code == 200
    assert r.json() == {
        "items": [
            {"id": 4, "name": "Bulk 01", "price_cents": 101},
            {"id": 5, "name": "Bulk 02", "price_cents": 102},
            {"id": 6, "name": "Bulk 03", "price_cents": 103},
        ]
    }
    assert [w["id"] for w in client.get("/catalog/bridge/cheapest", params={"limit": 1}).json()["items"]] == [4]
