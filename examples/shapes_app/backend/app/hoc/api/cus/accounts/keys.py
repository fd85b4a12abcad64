"""API keys of an account."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth import AuthContext, current_tenant, get_auth
from app.db import get_async_session, get_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry
from app.models import ApiKey

router = APIRouter(prefix="/accounts/{account_id}/keys", tags=["accounts"])


class KeyCreate(BaseModel):
    label: str = Field(min_length=1, max_length=120)


def _load_key(session: Session, tenant_id: str, account_id: int, key_id: int) -> Optional[ApiKey]:
    return session.execute(
        select(ApiKey).where(
            ApiKey.tenant_id == tenant_id,
            ApiKey.account_id == account_id,
            ApiKey.id == key_id,
        )
    ).scalar_one_or_none()


@router.get("")
async def list_keys(
    account_id: int,
    include_revoked: bool = False,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    stmt = (
        select(ApiKey.id, ApiKey.label, ApiKey.revoked)
        .where(ApiKey.tenant_id == auth.tenant_id, ApiKey.account_id == account_id)
        .order_by(ApiKey.id)
    )
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked.is_(False))
    result = await session.execute(stmt)
    return [dict(r._mapping) for r in result]


@router.post("", status_code=201)
async def issue_key(
    account_id: int,
    body: KeyCreate,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    op = await get_operation_registry().execute(
        "accounts.keys",
        OperationContext(
            session=session,
            tenant_id=tenant_id,
            params={"method": "issue", "account_id": account_id, "label": body.label},
        ),
    )
    if not op.success:
        status = 404 if op.error_code == "NOT_FOUND" else 500
        raise HTTPException(status_code=status, detail=op.error)
    return op.data


@router.post("/{key_id}/revoke")
def revoke_key(
    account_id: int,
    key_id: int,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    key = _load_key(session, tenant_id, account_id, key_id)
    if key is None:
        raise HTTPException(status_code=404, detail="key not found")
    if key.revoked:
        return {"id": key.id, "revoked": True, "changed": False}
    try:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked=True))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return {"id": key_id, "revoked": True, "changed": True}
