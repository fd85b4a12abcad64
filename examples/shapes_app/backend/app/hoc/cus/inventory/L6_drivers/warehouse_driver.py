"""L6 driver for warehouses (sync)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import engine
from app.models import Warehouse


class WarehouseDriver:
    """Warehouse persistence. Uses the given session, or opens its own."""

    def __init__(self, session: Optional[Session] = None) -> None:
        self._session = session

    def _get_session(self) -> tuple[Session, bool]:
        if self._session is not None:
            return self._session, False
        return Session(engine), True

    def first_warehouse_id(self, tenant_id: str) -> Optional[int]:
        session, should_close = self._get_session()
        try:
            return session.execute(
                select(Warehouse.id).where(Warehouse.tenant_id == tenant_id).order_by(Warehouse.id).limit(1)
            ).scalar_one_or_none()
        finally:
            if should_close:
                session.close()

    def create_warehouse(self, tenant_id: str, name: str) -> int:
        session, should_close = self._get_session()
        try:
            warehouse = Warehouse(tenant_id=tenant_id, name=name)
            session.add(warehouse)
            session.commit()
            return warehouse.id
        finally:
            if should_close:
                session.close()


def get_warehouse_driver() -> WarehouseDriver:
    return WarehouseDriver()
