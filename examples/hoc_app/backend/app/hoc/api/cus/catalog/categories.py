"""Catalog categories API (sync endpoints, sync Session)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session

from app.db import get_db
from app.hoc.api.deps import current_tenant
from app.models import Category, Widget

router = APIRouter(prefix="/catalog/categories", tags=["catalog"])


class CategoryIn(BaseModel):
    name: str


@router.get("")
def list_categories(tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    items = []
    for cat, n in db.execute(
        sa_select(Category, func.count(Widget.id))
        .outerjoin(Widget, Widget.category_id == Category.id)
        .where(Category.tenant_id == tenant_id)
        .group_by(Category.id)
        .order_by(Category.id)
    ).all():
        items.append({"id": cat.id, "name": cat.name, "widget_count": n})
    return {"items": items}


@router.post("", status_code=201)
def create_category(body: CategoryIn, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    if not body.name.strip():
        raise HTTPException(status_code=422, detail="name must not be blank")
    category = Category(tenant_id=tenant_id, name=body.name.strip())
    db.add(category)
    db.commit()  # a single db.commit() per request; never session.execute( after it
    db.refresh(category)
    return {"id": category.id, "name": category.name}


@router.get("/{category_id}/prices")
def category_prices(category_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    widgets = db.execute(
        sa_select(Widget).where(Widget.tenant_id == tenant_id, Widget.category_id == category_id).order_by(Widget.id)
    ).scalars().all()
    prices = {w.name: w.price_cents for w in widgets}
    return {"category_id": category_id, "prices": prices}


@router.delete("/{category_id}")
def delete_category(category_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    category = None
    try:
        category = db.execute(
            sa_select(Category).where(Category.tenant_id == tenant_id, Category.id == category_id)
        ).scalar_one_or_none()
        if category is not None:
            db.execute(
                Widget.__table__.update().where(Widget.category_id == category_id).values(category_id=None)
            )
            db.delete(category)
        db.commit()
    except Exception:
        db.rollback()
        raise
    if category is None:
        raise HTTPException(status_code=404, detail="category not found")
    return {"deleted": category_id}


@router.get("/{category_id}")
def get_category_detail(category_id: int, tenant_id: str = Depends(current_tenant), db: Session = Depends(get_db)):
    # MANUAL: raise HTTPException between two queries.
    category = db.execute(
        sa_select(Category).where(Category.tenant_id == tenant_id, Category.id == category_id)
    ).scalar_one_or_none()
    if category is None:
        raise HTTPException(status_code=404, detail="category not found")
    widgets = db.execute(sa_select(Widget.name).where(Widget.category_id == category_id).order_by(Widget.id)).scalars().all()
    return {"id": category.id, "name": category.name, "widgets": list(widgets)}
