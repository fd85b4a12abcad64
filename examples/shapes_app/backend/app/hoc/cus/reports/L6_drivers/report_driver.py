"""L6 driver for report runs (async)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import AsyncSessionLocal
from app.models import Item, ReportRun


async def start_run(tenant_id: str, kind: str) -> int:
    """Insert a ``running`` report run and return its id."""
    session = AsyncSessionLocal()
    try:
        run = ReportRun(tenant_id=tenant_id, kind=kind, status="running")
        session.add(run)
        await session.commit()
        return run.id
    finally:
        await session.close()


async def complete_run(run_id: int, tenant_id: str) -> int:
    """Count the tenant's items into the run, mark it done and return the count."""
    session = AsyncSessionLocal()
    try:
        rows = (
            await session.execute(select(func.count(Item.id)).where(Item.tenant_id == tenant_id))
        ).scalar_one()
        run = await session.get(ReportRun, run_id)
        run.rows = rows
        run.status = "done"
        await session.commit()
        return rows
    finally:
        await session.close()
