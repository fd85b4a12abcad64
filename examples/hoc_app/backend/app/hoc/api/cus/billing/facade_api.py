"""Billing outstanding totals via the hoc_spine services facade (non-registry, justified)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from app.db import get_db
from app.hoc.api.deps import current_tenant
from app.hoc.cus.hoc_spine.services.billing_facade import get_billing_facade

router = APIRouter(prefix="/billing/facade", tags=["billing"])


@router.get("/outstanding")
def outstanding(tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    return get_billing_facade().outstanding(db, tenant_id)
