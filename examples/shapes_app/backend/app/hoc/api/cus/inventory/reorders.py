"""Reorder requests: ask purchasing to restock an item."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import AuthContext, get_auth
from app.db import get_async_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry

router = APIRouter(prefix="/inventory/items/{item_id}/reorders", tags=["inventory"])

_STATUS_BY_CODE = {"INVALID": 422, "NOT_FOUND": 404, "HANDLER_EXCEPTION:IntegrityError": 409}


class ReorderCreate(BaseModel):
    qty: int


@router.post("", status_code=201)
async def request_reorder(
    item_id: int,
    body: ReorderCreate,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    """Open a reorder request; 409 while the item already has an open one."""
    registry = get_operation_registry()
    op = await registry.execute(
        "inventory.reorders",
        OperationContext(
            session=session,
            tenant_id=auth.tenant_id,
            params={"method": "request", "item_id": item_id, "qty": body.qty},
        ),
    )
    if not op.success:
        status = _STATUS_BY_CODE.get(op.error_code, 500)
        detail = "an open reorder already exists for this item" if status == 409 else op.error
        raise HTTPException(status_code=status, detail=detail)
    return op.data
