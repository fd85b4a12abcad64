"""L4 handlers for the billing domain (sync sessions)."""

from __future__ import annotations

from app.hoc.cus.billing.L6_drivers import invoice_driver
from app.hoc.cus.billing.L6_drivers.invoice_driver import InvoiceDriver
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationContext, OperationResult


def _invoice_dict(inv) -> dict:
    return {"id": inv.id, "order_id": inv.order_id, "amount_cents": inv.amount_cents, "status": inv.status}


class BillingInvoicesHandler:
    """billing.invoices — list / mark_paid / void."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        method = ctx.params["method"]
        driver = InvoiceDriver(ctx.session)
        if method == "list":
            return OperationResult.ok([_invoice_dict(i) for i in driver.list_invoices(ctx.tenant_id)])
        if method == "mark_paid":
            found = driver.mark_paid(ctx.tenant_id, ctx.params["invoice_id"])
            ctx.session.commit()
            if not found:
                return OperationResult.fail(f"not found: invoice {ctx.params['invoice_id']}")
            return OperationResult.ok({"id": ctx.params["invoice_id"], "status": "paid"})
        if method == "void":
            try:
                invoice_driver.void_invoice(ctx.session, ctx.tenant_id, ctx.params["invoice_id"])
            except Exception:
                ctx.session.rollback()
                raise
            ctx.session.commit()
            return OperationResult.ok({"id": ctx.params["invoice_id"], "status": "void"})
        return OperationResult.fail(f"unknown method: {method}")


def register(registry):
    registry.register("billing.invoices", BillingInvoicesHandler())
