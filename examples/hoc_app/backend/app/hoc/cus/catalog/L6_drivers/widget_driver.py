"""L6 catalog read driver (injected AsyncSession, no transaction control)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session
from app.models import Category, Widget


class WidgetReadDriver:
    def __init__(self, session: AsyncSession):
        self._session = session

    async def get_widget(self, tenant_id: str, widget_id: int) -> Optional[Widget]:
        result = await self._session.execute(
            select(Widget).where(Widget.tenant_id == tenant_id, Widget.id == widget_id)
        )
        return result.scalar_one_or_none()

    async def stats(self, tenant_id: str) -> dict:
        row = (
            await self._session.execute(
                select(func.count(Widget.id), func.coalesce(func.sum(Widget.price_cents), 0)).where(
                    Widget.tenant_id == tenant_id
                )
            )
        ).one()
        categories = (
            await self._session.execute(select(func.count(Category.id)).where(Category.tenant_id == tenant_id))
        ).scalar_one()
        return {"widgets": row[0], "total_price_cents": row[1], "categories": categories}


async def cheapest_widgets(tenant_id: str, limit: int = 3) -> list:
    """Self-created session (legacy shape): opens its own AsyncSession."""
    async with get_async_session() as session:
        rows = await session.execute(
            select(Widget).where(Widget.tenant_id == tenant_id).order_by(Widget.price_cents, Widget.id).limit(limit)
        )
        return [{"id": w.id, "name": w.name, "price_cents": w.price_cents} for w in rows.scalars()]
