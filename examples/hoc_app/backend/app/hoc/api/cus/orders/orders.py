"""Orders API (async). Reads still query the database directly."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session, get_async_session_dep
from app.hoc.api.deps import current_tenant
from app.models import Order, OrderLine

router = APIRouter(prefix="/orders", tags=["orders"])

ALLOWED_STATUSES = ("open", "shipped", "cancelled")


class StatusIn(BaseModel):
    status: str


@router.get("")
async def list_orders(
    status: Optional[str] = None,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    stmt = select(Order).where(Order.tenant_id == tenant_id).order_by(Order.id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    # session.execute(stmt) runs once; rows are materialised by the comprehension
    orders = [
        {"id": o.id, "customer": o.customer, "status": o.status}
        for o in (await session.execute(stmt)).scalars()
    ]
    return {"items": orders}


@router.get("/export")
async def export_orders(tenant_id: str = Depends(current_tenant)):
    # MANUAL: streaming generator that yields between queries.
    async def generate():
        async with get_async_session() as session:
            orders = (
                await session.execute(select(Order).where(Order.tenant_id == tenant_id).order_by(Order.id))
            ).scalars().all()
            yield "id,customer,status\n"
            for o in orders:
                yield f"{o.id},{o.customer},{o.status}\n"
            lines = (
                await session.execute(select(OrderLine).where(OrderLine.tenant_id == tenant_id))
            ).scalars().all()
            yield f"# lines={len(lines)}\n"

    return StreamingResponse(generate(), media_type="text/csv")


@router.get("/{order_id}")
async def get_order(
    order_id: int,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    order = (
        await session.execute(select(Order).where(Order.tenant_id == tenant_id, Order.id == order_id))
    ).scalar_one_or_none()
    lines = []
    for line in (
        await session.execute(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id))
    ).scalars():
        lines.append({"sku": line.sku, "qty": line.qty, "unit_price_cents": line.unit_price_cents})
    if order is None:
        raise HTTPException(status_code=404, detail="order not found")
    total = sum(l["qty"] * l["unit_price_cents"] for l in lines)
    return {"id": order.id, "customer": order.customer, "status": order.status, "lines": lines, "total_cents": total}


@router.get("/{order_id}/lines")
async def get_order_lines(
    order_id: int,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    # MANUAL: early return between the two queries.
    order = (
        await session.execute(select(Order).where(Order.tenant_id == tenant_id, Order.id == order_id))
    ).scalar_one_or_none()
    if order is None or order.status == "cancelled":
        return {"order_id": order_id, "lines": []}
    rows = (await session.execute(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id))).scalars()
    return {"order_id": order_id, "lines": [r.sku for r in rows]}


@router.post("/{order_id}/status")
async def set_order_status(
    order_id: int,
    body: StatusIn,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    if body.status not in ALLOWED_STATUSES:
        raise HTTPException(status_code=422, detail="invalid status")
    try:
        res = await session.execute(
            update(Order).where(Order.tenant_id == tenant_id, Order.id == order_id).values(status=body.status)
        )
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    if res.rowcount == 0:
        raise HTTPException(status_code=404, detail="order not found")
    return {"id": order_id, "status": body.status}
