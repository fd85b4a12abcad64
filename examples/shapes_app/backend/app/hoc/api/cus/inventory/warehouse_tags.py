"""Warehouse tags: short labels on a warehouse (``cold``, ``bulk``, ...)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import AuthContext, get_auth
from app.db import get_async_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry

router = APIRouter(prefix="/inventory/warehouses/{warehouse_id}/tags", tags=["inventory"])

_STATUS_BY_CODE = {"INVALID": 422, "NOT_FOUND": 404, "HANDLER_EXCEPTION:IntegrityError": 409}


class TagCreate(BaseModel):
    tag: str


@router.post("", status_code=201)
async def add_tag(
    warehouse_id: int,
    body: TagCreate,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    """Tag a warehouse; 409 when it already carries the tag."""
    registry = get_operation_registry()
    op = await registry.execute(
        "inventory.warehouse_tags",
        OperationContext(
            session=session,
            tenant_id=auth.tenant_id,
            params={"method": "add", "warehouse_id": warehouse_id, "tag": body.tag},
        ),
    )
    if not op.success:
        status = _STATUS_BY_CODE.get(op.error_code, 500)
        detail = "the warehouse already has this tag" if status == 409 else op.error
        raise HTTPException(status_code=status, detail=detail)
    return op.data
