"""L6 driver for metric snapshots (sync)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import SessionLocal
from app.models import Item, Snapshot


def count_items(session: Session, tenant_id: str) -> int:
    """Total quantity on hand for the tenant."""
    total = session.execute(select(func.sum(Item.qty)).where(Item.tenant_id == tenant_id)).scalar_one()
    return total or 0


def record_snapshot(tenant_id: str, name: str, value: int) -> int:
    """Store a named metric value; returns the snapshot id."""
    session = SessionLocal()
    try:
        snapshot = Snapshot(tenant_id=tenant_id, name=name, value=value)
        session.add(snapshot)
        session.commit()
        return snapshot.id
    finally:
        session.close()
