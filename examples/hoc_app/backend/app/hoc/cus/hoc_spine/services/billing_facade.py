"""hoc_spine services facade for billing (sync)."""

from __future__ import annotations

from app.hoc.cus.billing.L6_drivers.invoice_driver import InvoiceDriver
from app.hoc.cus.hoc_spine.orchestrator.operation_registry import get_billing_engine_from_l4


class BillingFacade:
    def outstanding(self, session, tenant_id: str) -> dict:
        invoices = InvoiceDriver(session).list_invoices(tenant_id)
        open_invoices = [i for i in invoices if i.status == "open"]
        net = sum(i.amount_cents for i in open_invoices)
        engine = get_billing_engine_from_l4()
        return {"count": len(open_invoices), "net_cents": net, "tax_cents": engine.compute_tax(net)}


def get_billing_facade() -> BillingFacade:
    return BillingFacade()
