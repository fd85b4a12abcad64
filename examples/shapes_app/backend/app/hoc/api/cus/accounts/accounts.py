"""Accounts API."""

from __future__ import annotations

import logging
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import AuthContext, current_tenant, get_auth
from app.db import get_async_session
from app.hoc.cus.accounts.L5_engines.account_engine import AccountLifecycleEngine, InvalidDisplayName
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry
from app.models import Account

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/accounts", tags=["accounts"])


class AccountCreate(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=80)


class AccountRename(BaseModel):
    display_name: str


async def _get_account(session: AsyncSession, tenant_id: str, account_id: int) -> Optional[Account]:
    result = await session.execute(
        select(Account).where(Account.tenant_id == tenant_id, Account.id == account_id)
    )
    return result.scalar_one_or_none()


@router.get("")
async def list_accounts(
    status: Optional[str] = None,
    limit: int = 50,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    registry = get_operation_registry()
    op = await registry.execute(
        "accounts.query",
        OperationContext(
            session=session,
            tenant_id=auth.tenant_id,
            params={"method": "list", "status": status, "limit": limit},
        ),
    )
    if not op.success:
        raise HTTPException(status_code=500, detail={"error": op.error_code, "message": op.error})
    counted = await registry.execute(
        "accounts.query",
        OperationContext(session=session, tenant_id=auth.tenant_id, params={"method": "count", "status": status}),
    )
    if not counted.success:
        raise HTTPException(status_code=500, detail={"error": counted.error_code, "message": counted.error})
    return {"items": op.data, "total": counted.data}


@router.post("", status_code=201)
async def create_account(
    body: AccountCreate,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session),
):
    account = Account(tenant_id=tenant_id, email=body.email.lower(), display_name=body.display_name)
    session.add(account)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(status_code=409, detail="duplicate")
    await session.refresh(account)
    logger.info("account %s created for tenant %s", account.id, tenant_id)
    return {"id": account.id, "email": account.email, "status": account.status}


@router.put("/{account_id}/display-name")
async def rename_account(
    account_id: int,
    body: AccountRename,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session),
):
    account = await _get_account(session, tenant_id, account_id)
    if account is None:
        raise HTTPException(status_code=404, detail="account not found")
    if account.status == "closed":
        raise HTTPException(status_code=409, detail="account is closed")
    try:
        name = await AccountLifecycleEngine().rename(tenant_id, account_id, body.display_name)
    except InvalidDisplayName as exc:
        raise HTTPException(status_code=422, detail=str(exc))
    return {"id": account_id, "display_name": name}


@router.post("/{account_id}/close")
def close_account(account_id: int, tenant_id: str = Depends(current_tenant)):
    """Close an account; its API keys are revoked."""
    if not AccountLifecycleEngine().close(tenant_id, account_id):
        raise HTTPException(status_code=404, detail="account not found")
    return {"id": account_id, "status": "closed"}
