"""L6 read driver for accounts (async, injected session)."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account


class AccountQueryDriver:
    """Read-only account queries on the caller's :class:`AsyncSession`."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_accounts(
        self, tenant_id: str, status: Optional[str] = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        stmt = select(Account).where(Account.tenant_id == tenant_id).order_by(Account.id).limit(limit)
        if status:
            stmt = stmt.where(Account.status == status)
        rows = (await self._session.execute(stmt)).scalars().all()
        return [
            {"id": a.id, "email": a.email, "display_name": a.display_name, "status": a.status}
            for a in rows
        ]

    async def count_accounts(self, tenant_id: str, status: Optional[str] = None) -> int:
        stmt = select(func.count(Account.id)).where(Account.tenant_id == tenant_id)
        if status:
            stmt = stmt.where(Account.status == status)
        return (await self._session.execute(stmt)).scalar_one()
