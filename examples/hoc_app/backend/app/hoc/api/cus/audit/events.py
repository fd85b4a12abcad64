"""Audit event views through the runtime adapter (non-registry, justified)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.adapters.audit_adapter import get_audit_adapter
from app.hoc.api.deps import current_tenant

router = APIRouter(prefix="/audit/events", tags=["audit"])


@router.get("/recent")
async def recent(limit: int = 10, tenant_id: str = Depends(current_tenant)):
    return {"items": await get_audit_adapter().recent(tenant_id, limit)}


@router.get("/count")
def count(tenant_id: str = Depends(current_tenant)):
    """No session here: the adapter owns it (no db.commit(), no session.execute())."""
    return {"count": get_audit_adapter().count(tenant_id)}
