"""Catalog widgets API (async).

Legacy module: still talks to the database directly (e.g. ``session.execute(...)``
and ``await session.commit()`` in the endpoints below) instead of dispatching
through the operation registry.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session, get_async_session_dep
from app.hoc.api.deps import current_tenant
from app.hoc.cus.catalog.L5_engines.pricing_engine import discounted_price
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import get_catalog_driver_from_l4

from .....models import Widget

router = APIRouter(prefix="/catalog/widgets", tags=["catalog"])

PAGE_SIZE = 20


class WidgetIn(BaseModel):
    name: str
    price_cents: int
    category_id: Optional[int] = None


class WidgetOut(BaseModel):
    id: int
    name: str
    price_cents: int
    category_id: Optional[int] = None

    model_config = {"from_attributes": True}


class PriceIn(BaseModel):
    price_cents: int


class _SearchClient:
    """Stand-in for an external search service (not a DB session)."""

    def __init__(self) -> None:
        self.queries: list = []

    def execute(self, query: str) -> dict:
        self.queries.append(query)
        return {"query": query, "suggestions": []}


class _WriteCache:
    """In-process cache of recently written widget ids (not a DB session)."""

    def __init__(self) -> None:
        self.pending: list = []
        self.committed: list = []

    def stage(self, widget_id: int) -> None:
        self.pending.append(widget_id)

    def commit(self) -> None:
        self.committed.extend(self.pending)
        self.pending.clear()


client = _SearchClient()
cache = _WriteCache()


@router.get("")
async def list_widgets(
    page: int = 1,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    if page < 1:
        raise HTTPException(status_code=422, detail="page must be >= 1")
    total = (await session.execute(select(func.count(Widget.id)).where(Widget.tenant_id == tenant_id))).scalar_one()
    rows = await session.execute(
        select(Widget)
        .where(Widget.tenant_id == tenant_id)
        .order_by(Widget.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    items = [WidgetOut.model_validate(w) for w in rows.scalars()]
    return {"total": total, "page": page, "page_size": PAGE_SIZE, "items": [i.model_dump() for i in items]}


@router.get("/search")
async def search_widgets(q: str, tenant_id: str = Depends(current_tenant)):
    result = {"query": q, "hint": client.execute(q)}
    async with get_async_session() as session:
        rows = (
            await session.execute(
                select(Widget).where(Widget.tenant_id == tenant_id, Widget.name.contains(q)).order_by(Widget.id)
            )
        ).scalars()
        names = [w.name for w in rows]
    result["names"] = names
    result["count"] = len(names)
    return result


@router.get("/{widget_id}")
async def get_widget(widget_id: int, tenant_id: str = Depends(current_tenant)):
    async with get_async_session() as session:
        result = await session.execute(
            select(Widget).where(Widget.tenant_id == tenant_id, Widget.id == widget_id)
        )
        widget = result.scalar_one_or_none()
    if widget is None:
        raise HTTPException(status_code=404, detail="widget not found")
    return WidgetOut.model_validate(widget).model_dump()


@router.get("/{widget_id}/discounted")
async def get_discounted_widget(
    widget_id: int,
    pct: int = 10,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    driver = get_catalog_driver_from_l4(session)
    widget = await driver.get_widget(tenant_id, widget_id)
    if widget is None:
        raise HTTPException(status_code=404, detail="widget not found")
    price = discounted_price(widget.price_cents, pct)
    if not price.success:
        raise HTTPException(status_code=400, detail=price.error)
    return {"id": widget.id, "price_cents": widget.price_cents, "discounted_cents": price.data}


@router.post("", status_code=201)
async def create_widget(
    body: WidgetIn,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    widget = Widget(tenant_id=tenant_id, name=body.name, price_cents=body.price_cents, category_id=body.category_id)
    session.add(widget)
    await session.commit()
    await session.refresh(widget)
    cache.stage(widget.id)
    cache.commit()  # flushes the local write cache, not the database
    return {"id": widget.id, "name": widget.name, "price_cents": widget.price_cents, "created": widget.created_at is not None}


@router.put("/{widget_id}/price")
async def update_widget_price(
    widget_id: int,
    body: PriceIn,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    res = await session.execute(
        update(Widget)
        .where(Widget.tenant_id == tenant_id, Widget.id == widget_id)
        .values(price_cents=body.price_cents)
    )
    await session.commit()
    if res.rowcount == 0:
        raise HTTPException(status_code=404, detail="widget not found")
    return {"id": widget_id, "price_cents": body.price_cents}


@router.delete("/{widget_id}", status_code=204)
async def delete_widget(
    widget_id: int,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
):
    res = await session.execute(delete(Widget).where(Widget.tenant_id == tenant_id, Widget.id == widget_id))
    await session.commit()
    deleted = res.rowcount
    if not deleted:
        raise HTTPException(status_code=404, detail="widget not found")
    return None
