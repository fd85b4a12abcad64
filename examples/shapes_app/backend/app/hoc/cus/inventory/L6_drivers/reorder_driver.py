"""L6 driver for reorder requests (async).

``create_reorder`` works in the caller's session when it is given one; without
one it opens its own, commits and closes it.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import AsyncSessionLocal
from app.models import Item, ReorderRequest


async def find_item_id(session: AsyncSession, tenant_id: str, item_id: int) -> Optional[int]:
    """``item_id`` when the tenant owns that item, else None."""
    result = await session.execute(select(Item.id).where(Item.tenant_id == tenant_id, Item.id == item_id))
    return result.scalar_one_or_none()


async def create_reorder(
    tenant_id: str,
    item_id: int,
    qty: int,
    session: Optional[AsyncSession] = None,
) -> int:
    """Open a reorder request for ``qty`` units of the item; returns the request id.

    Raises ``IntegrityError`` when the item already has an open request.
    """
    own_session = session is None
    if own_session:
        session = AsyncSessionLocal()
    try:
        request = ReorderRequest(tenant_id=tenant_id, item_id=item_id, qty=qty, status="open")
        session.add(request)
        await session.commit()
        return request.id
    finally:
        if own_session:
            await session.close()
