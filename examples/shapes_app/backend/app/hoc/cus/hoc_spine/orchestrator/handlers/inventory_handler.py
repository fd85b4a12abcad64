"""L4 handlers for the inventory domain."""

from __future__ import annotations

import re

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationRegistry,
    OperationResult,
)
from app.hoc.cus.inventory.L6_drivers import reorder_driver, warehouse_tag_driver
from app.hoc.cus.inventory.L6_drivers.warehouse_driver import get_warehouse_driver

MAX_REORDER_QTY = 10_000
TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


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


class InventoryWarehouseTagsHandler:
    """inventory.warehouse_tags: label a warehouse (async session)."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params.get("method")
        if method != "add":
            return OperationResult.fail(f"Unknown method: {method}", "UNKNOWN_METHOD")
        tag = ctx.params["tag"].strip().lower()
        if not TAG_PATTERN.fullmatch(tag):
            return OperationResult.fail(
                "tag must be 1-32 letters, digits or dashes, starting with a letter or digit", "INVALID"
            )
        warehouse_id = await warehouse_tag_driver.find_warehouse_id(
            ctx.session, ctx.tenant_id, ctx.params["warehouse_id"]
        )
        if warehouse_id is None:
            return OperationResult.fail("warehouse not found", "NOT_FOUND")
        tag_id = await warehouse_tag_driver.add_warehouse_tag(ctx.tenant_id, warehouse_id, tag)
        return OperationResult.ok({"id": tag_id, "warehouse_id": warehouse_id, "tag": tag})


def register(registry: OperationRegistry) -> None:
    registry.register("inventory.warehouses", InventoryWarehousesHandler())
    registry.register("inventory.reorders", InventoryReordersHandler())
    registry.register("inventory.warehouse_tags", InventoryWarehouseTagsHandler())
