"""Report exports: CSV downloads and export runs."""

from __future__ import annotations

from typing import Iterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from app.auth import current_tenant
from app.db import SessionLocal
from app.hoc.cus.reports.L5_engines.export_engine import ExportEngine, UnknownExportKind
from app.models import Item, Warehouse

router = APIRouter(prefix="/reports/exports", tags=["reports"])

CSV_HEADER = "warehouse,sku,name,qty\n"


@router.get("/items.csv")
def export_items_csv(tenant_id: str = Depends(current_tenant)):
    """All items as CSV, grouped by warehouse; unassigned items come last."""

    def generate() -> Iterator[str]:
        session = SessionLocal()
        try:
            yield CSV_HEADER
            warehouses = session.execute(
                select(Warehouse).where(Warehouse.tenant_id == tenant_id).order_by(Warehouse.name)
            ).scalars().all()
            for warehouse in warehouses:
                items = session.execute(
                    select(Item).where(Item.warehouse_id == warehouse.id).order_by(Item.sku)
                ).scalars()
                for item in items:
                    yield f"{warehouse.name},{item.sku},{item.name},{item.qty}\n"
            loose = session.execute(
                select(Item).where(Item.tenant_id == tenant_id, Item.warehouse_id.is_(None)).order_by(Item.sku)
            ).scalars()
            for item in loose:
                yield f",{item.sku},{item.name},{item.qty}\n"
        finally:
            session.close()

    return StreamingResponse(generate(), media_type="text/csv")


@router.post("/runs/{kind}", status_code=201)
async def start_export_run(kind: str, tenant_id: str = Depends(current_tenant)):
    try:
        return await ExportEngine().run(tenant_id, kind)
    except UnknownExportKind:
        raise HTTPException(status_code=404, detail=f"unknown export: {kind}")
