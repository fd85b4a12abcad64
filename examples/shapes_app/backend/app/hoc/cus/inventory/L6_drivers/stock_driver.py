"""L6 driver for the stock ledger (async)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from app.db import get_async_session
from app.models import Item, StockMovement


class StockLedgerDriver:
    """Reads and writes item quantities together with their movement history."""

    async def current_qty(self, tenant_id: str, item_id: int) -> Optional[int]:
        async for session in get_async_session():
            result = await session.execute(
                select(Item.qty).where(Item.tenant_id == tenant_id, Item.id == item_id)
            )
            return result.scalar_one_or_none()
        return None

    async def apply_delta(self, tenant_id: str, item_id: int, delta: int, reason: str) -> int:
        """Record a movement and update the item's quantity; returns the new quantity."""
        async for session in get_async_session():
            item = (
                await session.execute(select(Item).where(Item.tenant_id == tenant_id, Item.id == item_id))
            ).scalar_one()
            item.qty += delta
            session.add(StockMovement(tenant_id=tenant_id, item_id=item_id, delta=delta, reason=reason))
            await session.commit()
            return item.qty
        raise RuntimeError("no database session available")
