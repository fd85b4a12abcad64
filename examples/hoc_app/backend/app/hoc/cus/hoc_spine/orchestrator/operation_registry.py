"""L4 operation registry: the only door from L2 into business operations.

L2 routers dispatch with ``await registry.execute("domain.op", OperationContext(...))``;
handlers (``handlers/<domain>_handler.py``) own the transaction boundary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


@dataclass
class OperationContext:
    session: Any
    tenant_id: Optional[str] = None
    params: dict = field(default_factory=dict)


@dataclass
class OperationResult:
    success: bool
    data: Any = None
    error: Optional[str] = None

    @classmethod
    def ok(cls, data=None) -> "OperationResult":
        return cls(success=True, data=data)

    @classmethod
    def fail(cls, error: str) -> "OperationResult":
        return cls(success=False, error=error)


class OperationRegistry:
    def __init__(self) -> None:
        self._handlers: Dict[str, Any] = {}

    def register(self, name: str, handler) -> None:
        if name in self._handlers:
            raise ValueError(f"operation already registered: {name}")
        self._handlers[name] = handler

    def has(self, name) -> bool:
        return name in self._handlers

    def names(self) -> list:
        return sorted(self._handlers)

    async def execute(self, name: str, ctx: OperationContext) -> OperationResult:
        handler = self._handlers.get(name)
        if handler is None:
            return OperationResult.fail(f"unknown operation: {name}")
        try:
            return await handler.execute(ctx)
        except Exception as exc:  # reported, never swallowed silently
            logger.exception("operation %s failed", name)
            return OperationResult.fail(str(exc))


_registry: Optional[OperationRegistry] = None


def get_operation_registry() -> OperationRegistry:
    """Module singleton. Handlers are imported lazily to avoid import cycles."""
    global _registry
    if _registry is None:
        from app.hoc.cus.hoc_spine.orchestrator.handlers import register_all_handlers

        registry = OperationRegistry()
        register_all_handlers(registry)
        _registry = registry
    return _registry


# ---------------------------------------------------------------------------
# Legacy "service locator" helpers (to be removed: L2 must dispatch through the
# registry instead of pulling L5/L6 objects out of L4).
# ---------------------------------------------------------------------------
def get_catalog_driver_from_l4(session):
    """Return an L6 catalog read driver bound to ``session``."""
    from app.hoc.cus.catalog.L6_drivers.widget_driver import WidgetReadDriver

    return WidgetReadDriver(session)


def get_billing_engine_from_l4():
    """Return the L5 billing engine."""
    from app.hoc.cus.billing.L5_engines.billing_engine import BillingEngine

    return BillingEngine()
