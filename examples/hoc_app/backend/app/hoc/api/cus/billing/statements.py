"""Billing statements: dispatched through the operation registry."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import get_async_session_dep, get_db
from app.hoc.api.deps import current_tenant
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, get_operation_registry

router = APIRouter(prefix="/billing/statements", tags=["billing"])


def _fail(res) -> None:
    code = 404 if (res.error or "").startswith("not found") else 400
    raise HTTPException(status_code=code, detail=res.error)


@router.get("")
async def statement(
    tenant_id: str = Depends(current_tenant),
    session: AsyncSession = Depends(get_async_session_dep),
    db: Session = Depends(get_db),
):
    registry = get_operation_registry()
    orders = await registry.execute(
        "orders.summary", OperationContext(session=session, tenant_id=tenant_id, params={"method": "summary"})
    )
    invoices = await registry.execute(
        "billing.invoices", OperationContext(session=db, tenant_id=tenant_id, params={"method": "list"})
    )
    for res in (orders, invoices):
        if not res.success:
            _fail(res)
    return {"tenant_id": tenant_id, "orders": orders.data, "invoices": invoices.data}


@router.post("/invoices/{invoice_id}/pay")
async def pay_invoice(invoice_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    registry = get_operation_registry()
    res = await registry.execute(
        "billing.invoices",
        OperationContext(session=db, tenant_id=tenant_id, params={"method": "mark_paid", "invoice_id": invoice_id}),
    )
    if not res.success:
        _fail(res)
    return res.data


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(invoice_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    registry = get_operation_registry()
    res = await registry.execute(
        "billing.invoices",
        OperationContext(session=db, tenant_id=tenant_id, params={"method": "void", "invoice_id": invoice_id}),
    )
    if not res.success:
        _fail(res)
    return res.data
