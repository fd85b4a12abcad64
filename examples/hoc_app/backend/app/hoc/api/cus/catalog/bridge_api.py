"""Catalog stats through the hoc_spine catalog bridge (non-registry, justified)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session_dep
from app.hoc.api.deps import current_tenant
from app.hoc.cus.hoc_spine.orchestrator.coordinators.bridges.catalog_bridge import get_catalog_bridge

router = APIRouter(prefix="/catalog/bridge", tags=["catalog"])


@router.get("/stats")
async def catalog_stats(tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)):
    return await get_catalog_bridge().widget_stats(session, tenant_id)


@router.get("/cheapest")
async def cheapest(limit: int = 3, tenant_id: str = Depends(current_tenant)):
    return {"items": await get_catalog_bridge().cheapest(tenant_id, limit)}
