"""Inventory items API."""

from __future__ import annotations

import logging
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth import AuthContext, current_tenant, get_auth
from app.db import get_async_session, get_session
from app.hoc.cus.inventory.L5_engines.stock_engine import InsufficientStock, StockEngine
from app.hoc.cus.inventory.L5_engines.warehouse_engine import WarehouseEngine
from app.models import Item, StockMovement, Warehouse

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/inventory/items", tags=["inventory"])

MAX_PAGE = 100
DEFAULT_PAGE = 20


class ItemOut(BaseModel):
    id: int
    sku: str
    name: str
    qty: int
    warehouse_id: Optional[int] = None

    model_config = {"from_attributes": True}


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int = DEFAULT_PAGE


class ItemCreate(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    qty: int = Field(default=0, ge=0)
    warehouse_id: Optional[int] = None


class ItemUpdate(BaseModel):
    name: Optional[str] = Field(default=None, min_length=1, max_length=200)
    warehouse_id: Optional[int] = None


class StockAdjustment(BaseModel):
    delta: int
    reason: str = "correction"


def _load_item(session: Session, tenant_id: str, item_id: int) -> Optional[Item]:
    return session.execute(
        select(Item).where(Item.tenant_id == tenant_id, Item.id == item_id)
    ).scalar_one_or_none()


async def _aload_item(session: AsyncSession, tenant_id: str, item_id: int) -> Optional[Item]:
    result = await session.execute(select(Item).where(Item.tenant_id == tenant_id, Item.id == item_id))
    return result.scalar_one_or_none()


@router.get("", response_model=ItemPage)
def list_items(
    q: Optional[str] = None,
    warehouse_id: Optional[int] = None,
    limit: int = Query(DEFAULT_PAGE, ge=0),
    auth: AuthContext = Depends(get_auth),
    session: Session = Depends(get_session),
):
    """Page through the tenant's items, optionally filtered by text and warehouse."""
    if warehouse_id is not None:
        known = session.execute(
            select(Warehouse.id).where(Warehouse.tenant_id == auth.tenant_id, Warehouse.id == warehouse_id)
        ).scalar_one_or_none()
        if known is None:
            return ItemPage(items=[], total=0, limit=min(limit, MAX_PAGE))
    stmt = select(Item).where(Item.tenant_id == auth.tenant_id)
    if q:
        stmt = stmt.where(Item.name.contains(q) | Item.sku.contains(q))
    if warehouse_id is not None:
        stmt = stmt.where(Item.warehouse_id == warehouse_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    items = session.execute(stmt.order_by(Item.id).limit(min(limit, MAX_PAGE))).scalars().all()
    logger.debug("listed %d of %d items", len(items), total)
    return ItemPage(items=[ItemOut.model_validate(i) for i in items], total=total, limit=min(limit, MAX_PAGE))


@router.get("/{item_id}", response_model=ItemOut)
def get_item(item_id: int, tenant_id: str = Depends(current_tenant), session: Session = Depends(get_session)):
    item = _load_item(session, tenant_id, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="item not found")
    return item


@router.post("", status_code=201)
def create_item(
    body: ItemCreate,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    """Create an item; without a warehouse it goes to the tenant's default one."""
    warehouse_id = body.warehouse_id or WarehouseEngine().default_warehouse_id(tenant_id)
    item = Item(tenant_id=tenant_id, sku=body.sku, name=body.name, qty=body.qty, warehouse_id=warehouse_id)
    try:
        session.add(item)
        session.commit()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="duplicate")
    session.refresh(item)
    logger.info("created item %s (%s)", item.id, item.sku)
    return {"id": item.id, "warehouse_id": item.warehouse_id, "created": item.created_at is not None}


@router.patch("/{item_id}", response_model=ItemOut)
def update_item(
    item_id: int,
    body: ItemUpdate,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    item = _load_item(session, tenant_id, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="item not found")
    if body.name is not None:
        item.name = body.name
    if body.warehouse_id is not None:
        item.warehouse_id = body.warehouse_id
    session.commit()
    return ItemOut.model_validate(item)


@router.post("/{item_id}/adjust")
async def adjust_stock(
    item_id: int,
    body: StockAdjustment,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    """Move stock in or out; 409 when it would go negative."""
    item = await _aload_item(session, auth.tenant_id, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="item not found")
    try:
        qty = await StockEngine().adjust(auth.tenant_id, item.id, body.delta, body.reason)
    except InsufficientStock as exc:
        raise HTTPException(status_code=409, detail=str(exc))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc))
    return {"id": item.id, "sku": item.sku, "qty": qty}


@router.delete("/{item_id}", status_code=204)
async def delete_item(
    item_id: int,
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session),
):
    """Delete an item and its movement history."""
    item = await _aload_item(session, tenant_id, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="item not found")
    try:
        await session.execute(delete(StockMovement).where(StockMovement.item_id == item.id))
        await session.delete(item)
        await session.commit()
    except Exception:
        logger.exception("failed to delete item %s", item_id)
        await session.rollback()
        raise
    return None
