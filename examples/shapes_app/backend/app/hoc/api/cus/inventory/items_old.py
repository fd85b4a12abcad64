"""Inventory items API (v1).

Superseded by ``items.py``; kept until the v1 clients are retired.
"""

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from ..db_legacy import get_legacy_session
from ..models.legacy import LegacyItem

router = APIRouter(prefix="/v1/inventory/items", tags=["inventory-v1"])


@router.get("")
def list_items_v1(tenant: str, session=Depends(get_legacy_session)):
    rows = session.execute(select(LegacyItem).where(LegacyItem.tenant == tenant)).scalars().all()
    return [{"id": r.id, "sku": r.sku, "qty": r.quantity} for r in rows]


@router.get("/{item_id}")
def get_item_v1(item_id: int, tenant: str, session=Depends(get_legacy_session)):
    row = session.execute(
        select(LegacyItem).where(LegacyItem.tenant == tenant, LegacyItem.id == item_id)
    ).scalar_one_or_none()
    if row is None:
        raise HTTPException(status_code=404, detail="not found")
    return {"id": row.id, "sku": row.sku, "qty": row.quantity}


@router.post("/{item_id}/zero")
def zero_item_v1(item_id: int, tenant: str, session=Depends(get_legacy_session)):
    session.execute(
        LegacyItem.__table__.update()
        .where(LegacyItem.tenant == tenant, LegacyItem.id == item_id)
        .values(quantity=0)
    )
    session.commit()
    return {"id": item_id, "qty": 0}
