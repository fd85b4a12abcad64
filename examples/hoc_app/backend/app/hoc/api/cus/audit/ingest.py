"""Audit ingestion API (async). Writes events directly (legacy)."""

from __future__ import annotations

from typing import List

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session_dep
from app.hoc.api.deps import current_tenant
from app.models import AuditEvent

router = APIRouter(prefix="/audit/ingest", tags=["audit"])

MAX_MESSAGE = 200


class EventIn(BaseModel):
    kind: str
    message: str = ""


@router.post("", status_code=201)
async def ingest_events(
    events: List[EventIn],
    tenant_id: str = Depends(current_tenant),
    db_session: AsyncSession = Depends(get_async_session_dep),
):
    """Insert a batch of events; e.g. ``await db_session.commit()`` once at the end."""
    accepted = 0
    for ev in events:
        db_session.add(AuditEvent(tenant_id=tenant_id, kind=ev.kind, message=ev.message[:MAX_MESSAGE]))
        accepted += 1
    await db_session.commit()
    return {"accepted": accepted}


@router.get("/stats")
async def ingest_stats(tenant_id: str = Depends(current_tenant), db_session: AsyncSession = Depends(get_async_session_dep)):
    rows = await db_session.execute(
        select(AuditEvent.kind, func.count(AuditEvent.id))
        .where(AuditEvent.tenant_id == tenant_id)
        .group_by(AuditEvent.kind)
    )
    by_kind = {kind: n for kind, n in rows.all()}
    return {"total": sum(by_kind.values()), "by_kind": by_kind}
