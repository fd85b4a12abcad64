"""Webhook subscriptions of an account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import AuthContext, get_auth
from app.db import get_async_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationResult,
    get_operation_registry,
)

router = APIRouter(prefix="/accounts/{account_id}/webhooks", tags=["accounts"])


class WebhookCreate(BaseModel):
    event: str
    url: str = Field(min_length=1, max_length=500)


def _raise_for(op: OperationResult) -> None:
    if op.error_code == "NOT_FOUND":
        raise HTTPException(status_code=404, detail=op.error)
    if op.error_code == "INVALID":
        raise HTTPException(status_code=422, detail=op.error)
    if op.error_code == "HANDLER_EXCEPTION:IntegrityError":
        raise HTTPException(status_code=409, detail="already subscribed")
    raise HTTPException(status_code=500, detail=op.error)


@router.get("")
async def list_webhooks(
    account_id: int,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    op = await get_operation_registry().execute(
        "accounts.webhooks",
        OperationContext(session=session, tenant_id=auth.tenant_id, params={"method": "list", "account_id": account_id}),
    )
    if not op.success:
        _raise_for(op)
    return op.data


@router.post("", status_code=201)
async def subscribe_webhook(
    account_id: int,
    body: WebhookCreate,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    registry = get_operation_registry()
    op = await registry.execute(
        "accounts.webhooks",
        OperationContext(
            session=session,
            tenant_id=auth.tenant_id,
            params={"method": "subscribe", "account_id": account_id, "event": body.event, "url": body.url},
        ),
    )
    if not op.success:
        _raise_for(op)
    return op.data
