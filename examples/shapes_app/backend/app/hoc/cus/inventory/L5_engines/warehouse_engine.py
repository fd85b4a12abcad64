"""L5 engine: warehouse placement rules."""

from __future__ import annotations

from app.hoc.cus.inventory.L6_drivers.warehouse_driver import get_warehouse_driver

DEFAULT_WAREHOUSE_NAME = "Main"


class WarehouseEngine:
    def default_warehouse_id(self, tenant_id: str) -> int:
        """The tenant's first warehouse, created on demand for new tenants."""
        driver = get_warehouse_driver()
        warehouse_id = driver.first_warehouse_id(tenant_id)
        if warehouse_id is None:
            warehouse_id = driver.create_warehouse(tenant_id, DEFAULT_WAREHOUSE_NAME)
        return warehouse_id
