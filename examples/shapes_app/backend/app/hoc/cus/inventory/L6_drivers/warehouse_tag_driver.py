"""L6 driver for warehouse tags (async).

``add_warehouse_tag`` opens its own session, commits and closes it.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import AsyncSessionLocal
from app.models import Warehouse, WarehouseTag


async def find_warehouse_id(session: AsyncSession, tenant_id: str, warehouse_id: int) -> Optional[int]:
    """``warehouse_id`` when the tenant owns that warehouse, else None."""
    result = await session.execute(
        select(Warehouse.id).where(Warehouse.tenant_id == tenant_id, Warehouse.id == warehouse_id)
    )
    return result.scalar_one_or_none()


async def add_warehouse_tag(tenant_id: str, warehouse_id: int, tag: str) -> int:
    """Put ``tag`` on the warehouse; returns the tag row's id.

    Raises ``IntegrityError`` when the warehouse already carries that tag.
    """
    session = AsyncSessionLocal()
    try:
        row = WarehouseTag(tenant_id=tenant_id, warehouse_id=warehouse_id, tag=tag)
        session.add(row)
        await session.commit()
        return row.id
    finally:
        await session.close()
