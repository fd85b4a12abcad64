"""L4 handlers for the inventory domain."""

from __future__ import annotations

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationRegistry,
    OperationResult,
)
from app.hoc.cus.inventory.L6_drivers.warehouse_driver import get_warehouse_driver


class InventoryWarehousesHandler:
    """inventory.warehouses: warehouse administration."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params.get("method")
        if method != "create":
            return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")
        name = ctx.params["name"].strip()
        if not name:
            return OperationResult.fail("warehouse name is required", "INVALID")
        driver = get_warehouse_driver()
        warehouse_id = driver.create_warehouse(ctx.tenant_id, name)
        return OperationResult.ok({"id": warehouse_id, "name": name})


def register(registry: OperationRegistry) -> None:
    registry.register("inventory.warehouses", InventoryWarehousesHandler())
