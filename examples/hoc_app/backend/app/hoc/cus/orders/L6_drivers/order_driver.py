"""L6 orders driver (injected AsyncSession)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Order, OrderLine


class OrderWriteDriver:
    def __init__(self, session: AsyncSession):
        self._session = session

    async def create_order(self, tenant_id: str, customer: str) -> int:
        order = Order(tenant_id=tenant_id, customer=customer)
        self._session.add(order)
        await self._session.commit()
        await self._session.refresh(order)
        return order.id

    async def cancel_order(self, tenant_id: str, order_id: int) -> None:
        try:
            res = await self._session.execute(
                update(Order)
                .where(Order.tenant_id == tenant_id, Order.id == order_id)
                .values(status="cancelled")
            )
            if res.rowcount == 0:
                raise LookupError(f"not found: order {order_id}")
            await self._session.commit()
        except Exception:
            await self._session.rollback()
            raise


async def add_order_line(
    session: AsyncSession, tenant_id: str, order_id: int, sku: str, qty: int, unit_price_cents: int
) -> bool:
    added = False
    try:
        session.add(
            OrderLine(tenant_id=tenant_id, order_id=order_id, sku=sku, qty=qty, unit_price_cents=unit_price_cents)
        )
        await session.flush()
        added = True
        await session.commit()
    except IntegrityError:
        await session.rollback()
    return added


async def count_orders(session: AsyncSession, tenant_id: str, status: str) -> int:
    return (
        await session.execute(
            select(func.count(Order.id)).where(Order.tenant_id == tenant_id, Order.status == status)
        )
    ).scalar_one()


async def order_summary(session: AsyncSession, tenant_id: str) -> dict:
    by_status = {
        status: n
        for status, n in (
            await session.execute(
                select(Order.status, func.count(Order.id)).where(Order.tenant_id == tenant_id).group_by(Order.status)
            )
        ).all()
    }
    total = (
        await session.execute(
            select(func.coalesce(func.sum(OrderLine.qty * OrderLine.unit_price_cents), 0))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.tenant_id == tenant_id, Order.status != "cancelled")
        )
    ).scalar_one()
    return {"orders": sum(by_status.values()), "by_status": by_status, "total_cents": total}
