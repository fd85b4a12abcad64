"""L6 audit driver (legacy: creates its own sessions / engine, read-only)."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select

from app.db import get_async_session, get_sync_url
from app.models import AuditEvent


async def recent_events(tenant_id: str, limit: int = 10) -> list:
    async with get_async_session() as session:
        rows = await session.execute(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == tenant_id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        return [{"id": e.id, "kind": e.kind, "message": e.message} for e in rows.scalars()]


def count_events_sync(tenant_id: str) -> int:
    engine = create_engine(get_sync_url(), connect_args={"check_same_thread": False})
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count(AuditEvent.id)).where(AuditEvent.tenant_id == tenant_id)
            ).scalar_one()
    finally:
        engine.dispose()
