"""Fixtures: a fresh SQLite file per test, seeded through a sync session.

The tests only talk HTTP (TestClient) and inspect the database through fresh
sessions, so they keep passing when the L2/L4/L6 code is rewritten.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import db
from app.main import create_app
from app.models import AuditEvent, Category, Invoice, Order, OrderLine, Widget


def _seed(session: Session) -> None:
    session.add_all(
        [
            Category(id=1, tenant_id="t1", name="Tools"),
            Category(id=2, tenant_id="t1", name="Toys"),
            Category(id=3, tenant_id="t2", name="Misc"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Widget(id=1, tenant_id="t1", name="Hammer", price_cents=1000, category_id=1),
            Widget(id=2, tenant_id="t1", name="Wrench", price_cents=1500, category_id=1),
            Widget(id=3, tenant_id="t1", name="Yo-yo", price_cents=300, category_id=2),
        ]
    )
    session.add_all(
        [Widget(id=3 + i, tenant_id="t1", name=f"Bulk {i:02d}", price_cents=100 + i) for i in range(1, 21)]
    )
    session.add(Widget(id=24, tenant_id="t2", name="Other", price_cents=500, category_id=3))
    session.add_all(
        [
            Order(id=1, tenant_id="t1", customer="alice", status="open"),
            Order(id=2, tenant_id="t1", customer="bob", status="shipped"),
            Order(id=3, tenant_id="t2", customer="carol", status="open"),
        ]
    )
    session.flush()
    session.add_all(
        [
            OrderLine(tenant_id="t1", order_id=1, sku="HAM", qty=2, unit_price_cents=1000),
            OrderLine(tenant_id="t1", order_id=1, sku="WRN", qty=1, unit_price_cents=1500),
            OrderLine(tenant_id="t1", order_id=2, sku="YOY", qty=3, unit_price_cents=300),
            OrderLine(tenant_id="t2", order_id=3, sku="X", qty=1, unit_price_cents=50),
        ]
    )
    session.add_all(
        [
            Invoice(id=1, tenant_id="t1", order_id=1, amount_cents=3500, status="open", touch_count=0),
            Invoice(id=2, tenant_id="t1", order_id=2, amount_cents=900, status="paid", touch_count=0),
            Invoice(id=3, tenant_id="t2", order_id=3, amount_cents=50, status="open", touch_count=0),
        ]
    )
    session.add_all(
        [
            AuditEvent(tenant_id="t1", kind="login", message="a"),
            AuditEvent(tenant_id="t1", kind="login", message="b"),
            AuditEvent(tenant_id="t1", kind="order", message="c"),
            AuditEvent(tenant_id="t2", kind="login", message="z"),
        ]
    )
    session.commit()


@pytest.fixture()
def db_path(tmp_path):
    path = tmp_path / "app.db"
    db.configure(f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}")
    db.init_schema()
    with Session(db.get_engine()) as session:
        _seed(session)
    yield path
    db.dispose()


@pytest.fixture()
def client(db_path):
    app = create_app()
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def fresh():
    """Open a brand-new sync session to inspect committed database state."""
    sessions = []

    def _open() -> Session:
        s = Session(db.get_engine())
        sessions.append(s)
        return s

    yield _open
    for s in sessions:
        s.close()


@pytest.fixture()
def reject_writes(db_path):
    """Make the database refuse one kind of write on a table (a trigger that aborts it).

    The statement fails inside whatever transaction runs it, as a full disk or a
    constraint would make it fail, so a test can check that the whole transaction
    was rolled back.
    """
    from sqlalchemy import text

    def _reject(table: str, action: str) -> None:
        with db.get_engine().begin() as conn:
            conn.execute(
                text(
                    f"CREATE TRIGGER reject_{action.lower()}_{table} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{action} on {table} refused'); END"
                )
            )

    return _reject
