"""Summary reports over the inventory."""

from __future__ import annotations

import logging
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth import AuthContext, current_tenant, get_auth
from app.db import get_async_session, get_session
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry
from app.models import Item, Warehouse

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/reports", tags=["reports"])

TOP_N = 10
UNASSIGNED = "(unassigned)"


class StockRow(BaseModel):
    warehouse: str
    items: int
    units: int


class StockReport(BaseModel):
    rows: list[StockRow]
    total: int
    top_n: int = TOP_N


class SnapshotRequest(BaseModel):
    metric: str = "stock_on_hand"


@router.get("/item-count")
async def item_count(
    warehouse_id: Optional[int] = None,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    from sqlalchemy import text

    query = "SELECT COUNT(*) FROM items WHERE tenant_id = :tenant_id"
    params = {"tenant_id": tenant_id}
    if warehouse_id is not None:
        query += " AND warehouse_id = :warehouse_id"
        params["warehouse_id"] = warehouse_id
    sql = text(query)
    count = session.execute(sql, params).scalar_one()
    return {"count": count}


@router.get("/stock-by-warehouse", response_model=StockReport)
async def stock_by_warehouse(
    min_units: int = 0,
    top: int = TOP_N,
    auth: AuthContext = Depends(get_auth),
    session: AsyncSession = Depends(get_async_session),
):
    """Units on hand per warehouse, largest first (at most ``TOP_N`` rows)."""
    if top <= 0:
        return StockReport(rows=[], total=0)
    units = func.coalesce(func.sum(Item.qty), 0)
    stmt = (
        select(func.coalesce(Warehouse.name, UNASSIGNED).label("warehouse"), func.count(Item.id), units)
        .select_from(Item)
        .outerjoin(Warehouse, Warehouse.id == Item.warehouse_id)
        .where(Item.tenant_id == auth.tenant_id)
        .group_by(Warehouse.name)
        .order_by(units.desc(), "warehouse")
    )
    if min_units:
        stmt = stmt.having(units >= min_units)
    try:
        result = await session.execute(stmt.limit(min(top, TOP_N)))
        rows = [StockRow(warehouse=w, items=n, units=u) for w, n, u in result]
        total = (
            await session.execute(select(func.coalesce(func.sum(Item.qty), 0)).where(Item.tenant_id == auth.tenant_id))
        ).scalar_one()
    except Exception as e:
        logger.warning("stock report failed: %s", e)
        raise HTTPException(status_code=500, detail={"error": "query_failed", "message": str(e)})
    return StockReport(rows=rows, total=total)


@router.post("/snapshots", status_code=201)
async def create_snapshot(
    body: SnapshotRequest,
    tenant_id: str = Depends(current_tenant),
    session: Session = Depends(get_session),
):
    op = await get_operation_registry().execute(
        "reports.snapshot",
        OperationContext(session=session, tenant_id=tenant_id, params={"metric": body.metric}),
    )
    if not op.success:
        if op.error_code == "UNKNOWN_METRIC":
            raise HTTPException(status_code=422, detail=op.error)
        raise HTTPException(status_code=500, detail=op.error)
    return op.data
