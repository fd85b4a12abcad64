"""Fixtures: a fresh SQLite file per test, seeded through a sync session.

Tests talk to the application over HTTP only and inspect the database through
sessions of their own, so they do not depend on how the layers are wired.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import db
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import reset_operation_registry
from app.main import create_app
from app.models import Account, ApiKey, Item, StockMovement, Warehouse

TENANT = {"X-Tenant": "north"}
SOUTH = {"X-Tenant": "south"}


def _seed(session: Session) -> None:
    session.add_all(
        [
            Warehouse(id=1, tenant_id="north", name="Central"),
            Warehouse(id=2, tenant_id="north", name="Harbor"),
            Warehouse(id=3, tenant_id="south", name="Depot"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Item(id=1, tenant_id="north", sku="BOLT-10", name="Bolt 10mm", qty=120, warehouse_id=1),
            Item(id=2, tenant_id="north", sku="NUT-10", name="Nut 10mm", qty=300, warehouse_id=1),
            Item(id=3, tenant_id="north", sku="GEAR-A", name="Gear A", qty=15, warehouse_id=2),
            Item(id=4, tenant_id="north", sku="BELT-X", name="Belt X", qty=0, warehouse_id=None),
            Item(id=5, tenant_id="south", sku="BOLT-10", name="Bolt (south)", qty=7, warehouse_id=3),
        ]
    )
    session.flush()
    session.add_all(
        [
            StockMovement(tenant_id="north", item_id=1, delta=100, reason="receipt"),
            StockMovement(tenant_id="north", item_id=1, delta=20, reason="receipt"),
            StockMovement(tenant_id="north", item_id=3, delta=15, reason="receipt"),
            StockMovement(tenant_id="south", item_id=5, delta=7, reason="receipt"),
        ]
    )
    session.add_all(
        [
            Account(id=1, tenant_id="north", email="ana@example.com", display_name="Ana", status="active"),
            Account(id=2, tenant_id="north", email="ben@example.com", display_name="Ben", status="active"),
            Account(id=3, tenant_id="north", email="cy@example.com", display_name="Cy", status="closed"),
            Account(id=4, tenant_id="south", email="dee@example.com", display_name="Dee", status="active"),
        ]
    )
    session.flush()
    session.add_all(
        [
            ApiKey(id=1, tenant_id="north", account_id=1, label="ci", revoked=False),
            ApiKey(id=2, tenant_id="north", account_id=1, label="laptop", revoked=True),
            ApiKey(id=3, tenant_id="south", account_id=4, label="ops", revoked=False),
        ]
    )
    session.commit()


@pytest.fixture(autouse=True)
def fresh_registry():
    """Every test starts from a registry built from scratch."""
    reset_operation_registry()
    yield
    reset_operation_registry()


@pytest.fixture()
def db_path(tmp_path):
    path = tmp_path / "shapes.db"
    db.configure_database(str(path))
    db.init_schema()
    with Session(db.engine) as session:
        _seed(session)
    yield path


@pytest.fixture()
def client(db_path):
    with TestClient(create_app(), headers=TENANT) as c:
        yield c


@pytest.fixture()
def lenient_client(db_path):
    """A client that reports unhandled server errors as 500 responses."""
    with TestClient(create_app(), headers=TENANT, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def fresh(db_path):
    """Open a brand-new sync session to inspect committed database state."""
    sessions = []

    def _open() -> Session:
        s = Session(db.engine)
        sessions.append(s)
        return s

    yield _open
    for s in sessions:
        s.close()


@pytest.fixture()
def drop_table(db_path):
    """Drop a table behind the application's back."""
    from sqlalchemy import text

    def _drop(name: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))

    return _drop


@pytest.fixture()
def reject_writes(db_path):
    """Make the database refuse one kind of write on a table (a trigger that aborts it).

    The statement fails inside whatever transaction runs it, as a full disk or a
    constraint would make it fail, so a test can check that the whole transaction
    was rolled back.
    """
    from sqlalchemy import text

    def _reject(table: str, action: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TRIGGER reject_{action.lower()}_{table} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{action} on {table} refused'); END"
                )
            )

    return _reject
