"""Billing invoices API (sync Session).

Note for reviewers: the string "db.commit()" in this docstring is documentation,
not a call.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import get_db
from app.hoc.api.deps import current_tenant
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import get_billing_engine_from_l4
from app.models import Invoice, Order, OrderLine

router = APIRouter(prefix="/billing/invoices", tags=["billing"])

_LAST_TOUCHED = None
AUDIT_NOTE = "remember: session.execute( is only allowed in L6"


class InvoiceIn(BaseModel):
    order_id: int


def _invoice_dict(inv: Invoice) -> dict:
    return {"id": inv.id, "order_id": inv.order_id, "amount_cents": inv.amount_cents, "status": inv.status}


@router.get("/last-touched")
def last_touched():
    return {"invoice_id": _LAST_TOUCHED, "note": f"{AUDIT_NOTE}; db.commit() belongs to L4"}


@router.get("/{invoice_id}")
def get_invoice(invoice_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    invoice = db.execute(
        select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    ).scalar_one_or_none()
    if invoice is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    return _invoice_dict(invoice)


@router.get("/{invoice_id}/quote")
def quote_invoice(invoice_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    amount = db.execute(
        select(Invoice.amount_cents).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    ).scalar_one_or_none()
    if amount is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    engine = get_billing_engine_from_l4()
    return {"invoice_id": invoice_id, **engine.quote(amount)}


@router.post("", status_code=201)
def create_invoice(body: InvoiceIn, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    order = db.execute(
        select(Order).where(Order.tenant_id == tenant_id, Order.id == body.order_id)
    ).scalar_one_or_none()
    total = db.execute(
        select(func.coalesce(func.sum(OrderLine.qty * OrderLine.unit_price_cents), 0)).where(
            OrderLine.order_id == body.order_id
        )
    ).scalar_one()
    invoice = None
    if order is not None:
        invoice = Invoice(tenant_id=tenant_id, order_id=order.id, amount_cents=total)
        db.add(invoice)
        db.commit()
        db.refresh(invoice)
    if invoice is None:
        raise HTTPException(status_code=404, detail="order not found")
    return _invoice_dict(invoice)


@router.post("/{invoice_id}/touch")
def touch_invoice(invoice_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    # MANUAL: a `global` statement inside the DB run.
    invoice = db.execute(
        select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
    ).scalar_one_or_none()
    global _LAST_TOUCHED
    _LAST_TOUCHED = invoice_id if invoice is not None else _LAST_TOUCHED
    db.execute(
        update(Invoice)
        .where(Invoice.tenant_id == tenant_id, Invoice.id == invoice_id)
        .values(touch_count=Invoice.touch_count + 1)
    )
    db.commit()
    if invoice is None:
        raise HTTPException(status_code=404, detail="invoice not found")
    return {"id": invoice_id, "touched": True}


@router.get("/by-order/{order_id}")
def invoices_by_order(order_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    # MANUAL: the session variable is reassigned inside the DB run.
    invoices = db.execute(
        select(Invoice).where(Invoice.tenant_id == tenant_id, Invoice.order_id == order_id).order_by(Invoice.id)
    ).scalars().all()
    db = Session(bind=db.get_bind())  # separate short-lived session for the order lookup
    try:
        customer = db.execute(select(Order.customer).where(Order.id == order_id)).scalar_one_or_none()
    finally:
        db.close()
    if customer is None:
        raise HTTPException(status_code=404, detail="order not found")
    return {"order_id": order_id, "customer": customer, "invoices": [_invoice_dict(i) for i in invoices]}
