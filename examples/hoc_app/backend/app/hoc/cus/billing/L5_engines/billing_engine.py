"""L5 billing engine: tax and quote rules."""

from __future__ import annotations

import app.hoc.cus.hoc_spine.orchestrator.operation_registry as reg

TAX_RATE_BP = 2000  # 20.00 %


class BillingEngine:
    def compute_tax(self, amount_cents: int) -> int:
        return (amount_cents * TAX_RATE_BP + 5000) // 10000

    def quote(self, amount_cents: int) -> dict:
        tax = self.compute_tax(amount_cents)
        return {"net_cents": amount_cents, "tax_cents": tax, "gross_cents": amount_cents + tax}

    def validate_amount(self, amount_cents: int) -> reg.OperationResult:
        if amount_cents <= 0:
            return reg.OperationResult.fail("amount must be positive")
        return reg.OperationResult.ok(amount_cents)

    def summarize(self, amounts) -> "OperationResult":  # noqa: F821
        from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationResult

        total = sum(amounts)
        return OperationResult.ok({"count": len(amounts), "total_cents": total, "tax_cents": self.compute_tax(total)})
