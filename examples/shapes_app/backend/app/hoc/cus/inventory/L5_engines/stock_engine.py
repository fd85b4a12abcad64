"""L5 engine: stock adjustment rules."""

from __future__ import annotations

from typing import Optional

from app.hoc.cus.inventory.L6_drivers.stock_driver import StockLedgerDriver

ALLOWED_REASONS = ("receipt", "sale", "correction", "loss")


class InsufficientStock(Exception):
    """The adjustment would make the quantity negative."""


class StockEngine:
    def __init__(self, driver: Optional[StockLedgerDriver] = None) -> None:
        self._driver = driver or StockLedgerDriver()

    async def adjust(self, tenant_id: str, item_id: int, delta: int, reason: str) -> int:
        """Apply ``delta`` to the item; returns the new quantity."""
        if reason not in ALLOWED_REASONS:
            raise ValueError(f"unknown reason: {reason}")
        current = await self._driver.current_qty(tenant_id, item_id)
        if current is None:
            raise LookupError(f"item {item_id} not found")
        if current + delta < 0:
            raise InsufficientStock(f"only {current} in stock")
        return await self._driver.apply_delta(tenant_id, item_id, delta, reason)
