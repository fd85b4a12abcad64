"""L4 handlers for the inventory domain."""

from __future__ import annotations

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationRegistry,
    OperationResult,
)
from app.hoc.cus.inventory.L6_drivers import reorder_driver
from app.hoc.cus.inventory.L6_drivers.warehouse_driver import get_warehouse_driver

MAX_REORDER_QTY = 10_000


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


class InventoryReordersHandler:
    """inventory.reorders: ask purchasing to restock an item (async session)."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params.get("method")
        if method != "request":
            return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")
        qty = ctx.params["qty"]
        if not 0 < qty <= MAX_REORDER_QTY:
            return OperationResult.fail(f"reorder quantity must be 1-{MAX_REORDER_QTY}", "INVALID")
        item_id = await reorder_driver.find_item_id(ctx.session, ctx.tenant_id, ctx.params["item_id"])
        if item_id is None:
            return OperationResult.fail("item not found", "NOT_FOUND")
        request_id = await reorder_driver.create_reorder(ctx.tenant_id, item_id, qty)
        return OperationResult.ok({"id": request_id, "item_id": item_id, "qty": qty, "status": "open"})


def register(registry: OperationRegistry) -> None:
    registry.register("inventory.warehouses", InventoryWarehousesHandler())
    registry.register("inventory.reorders", InventoryReordersHandler())
