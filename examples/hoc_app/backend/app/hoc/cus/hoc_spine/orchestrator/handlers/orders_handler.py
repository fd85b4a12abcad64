"""L4 handlers for the orders domain (async sessions)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult
from app.hoc.cus.orders.L6_drivers import order_driver
from app.hoc.cus.orders.L6_drivers.order_driver import OrderWriteDriver


class OrdersSummaryHandler:
    """orders.summary — read-only tenant summary."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params.get("method", "summary")
        if method == "summary":
            data = await order_driver.order_summary(ctx.session, ctx.tenant_id)
            return OperationResult.ok(data)
        if method == "open_count":
            data = await order_driver.count_orders(ctx.session, ctx.tenant_id, status="open")
            return OperationResult.ok(data)
        return OperationResult.fail(f"unknown method: {method}")


class OrdersWriteHandler:
    """orders.write — create / cancel / add_line. Owns the transaction."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params["method"]
        driver = OrderWriteDriver(ctx.session)
        if method == "create":
            order_id = await driver.create_order(ctx.tenant_id, ctx.params["customer"])
            await ctx.session.commit()
            return OperationResult.ok({"id": order_id})
        if method == "cancel":
            try:
                await driver.cancel_order(ctx.tenant_id, ctx.params["order_id"])
            except Exception:
                await ctx.session.rollback()
                raise
            await ctx.session.commit()
            return OperationResult.ok({"id": ctx.params["order_id"], "status": "cancelled"})
        if method == "add_line":
            try:
                added = await order_driver.add_order_line(
                    ctx.session,
                    ctx.tenant_id,
                    ctx.params["order_id"],
                    ctx.params["sku"],
                    ctx.params["qty"],
                    ctx.params["unit_price_cents"],
                )
                await ctx.session.commit()
            except IntegrityError:
                await ctx.session.rollback()
                added = False
            return OperationResult.ok({"added": added})
        return OperationResult.fail(f"unknown method: {method}")


def register(registry):
    registry.register("orders.summary", OrdersSummaryHandler())
    registry.register("orders.write", OrdersWriteHandler())
