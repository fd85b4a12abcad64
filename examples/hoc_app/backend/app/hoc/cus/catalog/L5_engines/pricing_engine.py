"""L5 pricing engine for catalog widgets."""

from __future__ import annotations

from ...hoc_spine.orchestrator import operation_registry


def discounted_price(price_cents: int, discount_pct: int) -> operation_registry.OperationResult:
    if not 0 <= discount_pct <= 90:
        return operation_registry.OperationResult.fail("discount must be between 0 and 90")
    return operation_registry.OperationResult.ok(price_cents - (price_cents * discount_pct) // 100)
