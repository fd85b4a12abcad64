"""Warehouses API."""

from __future__ import annotations

import json
from typing import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.auth import current_tenant
from app.db import AsyncSessionLocal, get_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry
from app.models import Item, StockMovement, Warehouse

router = APIRouter(prefix="/inventory/warehouses", tags=["inventory"])


class WarehouseOut(BaseModel):
    id: int
    name: str

    model_config = {"from_attributes": True}


class WarehouseCreate(BaseModel):
    name: str


@router.get("", response_model=list[WarehouseOut])
async def list_warehouses(tenant_id: str = Depends(current_tenant), session: Session = Depends(get_session)):
    return session.execute(
        select(Warehouse).where(Warehouse.tenant_id == tenant_id).order_by(Warehouse.name)
    ).scalars().all()


@router.post("", status_code=201)
async def create_warehouse(
    body: WarehouseCreate,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    registry = get_operation_registry()
    op = await registry.execute(
        "inventory.warehouses",
        OperationContext(session=session, tenant_id=tenant_id, params={"method": "create", "name": body.name}),
    )
    if not op.success:
        if op.error_code == "HANDLER_EXCEPTION:IntegrityError":
            raise HTTPException(status_code=409, detail="duplicate")
        if op.error_code == "INVALID":
            raise HTTPException(status_code=422, detail=op.error)
        raise HTTPException(status_code=500, detail=op.error)
    return op.data


@router.get("/{warehouse_id}/stock")
def warehouse_stock(
    warehouse_id: int,
    min_qty: int = 0,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    """Items on hand in one warehouse, largest first."""
    sql = text(
        "SELECT sku, name, qty FROM items"
        " WHERE tenant_id = :tenant_id AND warehouse_id = :warehouse_id AND qty >= :min_qty"
        " ORDER BY qty DESC, sku"
    )
    params = {"tenant_id": tenant_id, "warehouse_id": warehouse_id, "min_qty": min_qty}
    try:
        rows = session.execute(sql, params).all()
        units = sum(r.qty for r in rows)
    except Exception as e:
        raise HTTPException(status_code=500, detail={"error": "query_failed", "message": str(e)})
    return {
        "warehouse_id": warehouse_id,
        "items": [{"sku": r.sku, "name": r.name, "qty": r.qty} for r in rows],
        "units": units,
    }


@router.get("/{warehouse_id}/movements")
async def stream_movements(warehouse_id: int, tenant_id: str = Depends(current_tenant)):
    """Stream the warehouse's stock movements as NDJSON, one item at a time."""

    async def generate() -> AsyncIterator[str]:
        async with AsyncSessionLocal() as session:
            item_rows = await session.execute(
                select(Item.id, Item.sku)
                .where(Item.tenant_id == tenant_id, Item.warehouse_id == warehouse_id)
                .order_by(Item.id)
            )
            for item_id, sku in item_rows.all():
                yield json.dumps({"sku": sku}) + "\n"
                moves = await session.execute(
                    select(StockMovement.delta, StockMovement.reason)
                    .where(StockMovement.item_id == item_id)
                    .order_by(StockMovement.id)
                )
                for delta, reason in moves:
                    yield json.dumps({"sku": sku, "delta": delta, "reason": reason}) + "\n"

    return StreamingResponse(generate(), media_type="application/x-ndjson")
