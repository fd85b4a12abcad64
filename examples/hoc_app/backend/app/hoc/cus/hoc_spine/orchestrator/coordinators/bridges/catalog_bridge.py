"""hoc_spine bridge: capability access to the catalog domain for L2."""

from __future__ import annotations

from typing import Optional

from app.hoc.cus.catalog.L6_drivers import widget_driver
from app.hoc.cus.catalog.L6_drivers.widget_driver import WidgetReadDriver


class CatalogBridge:
    async def widget_stats(self, session, tenant_id: str) -> dict:
        return await WidgetReadDriver(session).stats(tenant_id)

    async def cheapest(self, tenant_id: str, limit: int = 3) -> list:
        return await widget_driver.cheapest_widgets(tenant_id, limit)


_bridge: Optional[CatalogBridge] = None


def get_catalog_bridge() -> CatalogBridge:
    global _bridge
    if _bridge is None:
        _bridge = CatalogBridge()
    return _bridge
