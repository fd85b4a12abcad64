"""Orders operations dispatched through the L4 operation registry."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_async_session_dep
from app.hoc.api.deps import current_tenant
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry

router = APIRouter(prefix="/orders-ops", tags=["orders"])


class OrderIn(BaseModel):
    customer: str


class LineIn(BaseModel):
    sku: str
    qty: int
    unit_price_cents: int


def _raise_for(res) -> None:
    if res.error and res.error.startswith("not found"):
        raise HTTPException(status_code=404, detail=res.error)
    raise HTTPException(status_code=400, detail=res.error)


@router.get("/summary")
async def orders_summary(tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)):
    """Summary of the tenant's orders. (Never calls session.execute(...) here.)"""
    registry = get_operation_registry()
    res = await registry.execute("orders.summary", OperationContext(session=session, tenant_id=tenant_id, params={"method": "summary"}))
    if not res.success:
        _raise_for(res)
    return res.data


@router.post("", status_code=201)
async def create_order(body: OrderIn, tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)):
    registry = get_operation_registry()
    res = await registry.execute(
        "orders.write",
        OperationContext(session=session, tenant_id=tenant_id, params={"method": "create", "customer": body.customer}),
    )
    if not res.success:
        _raise_for(res)
    return res.data


@router.post("/{order_id}/lines")
async def add_line(
    order_id: int, body: LineIn, tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)
):
    registry = get_operation_registry()
    params = {"method": "add_line", "order_id": order_id, **body.model_dump()}
    res = await registry.execute("orders.write", OperationContext(session=session, tenant_id=tenant_id, params=params))
    if not res.success:
        _raise_for(res)
    if not res.data["added"]:
        raise HTTPException(status_code=409, detail=f"line {body.sku} already on order {order_id}")
    return res.data


@router.post("/{order_id}/cancel")
async def cancel_order(order_id: int, tenant_id: str = Depends(current_tenant), session: AsyncSession = Depends(get_async_session_dep)):
    registry = get_operation_registry()
    res = await registry.execute(
        "orders.write", OperationContext(session=session, tenant_id=tenant_id, params={"method": "cancel", "order_id": order_id})
    )
    if not res.success:
        _raise_for(res)
    return res.data
