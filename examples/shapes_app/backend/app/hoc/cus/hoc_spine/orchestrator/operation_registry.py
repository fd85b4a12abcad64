"""L4 operation registry.

L2 routers dispatch business operations with::

    registry = get_operation_registry()
    op = await registry.execute("domain.name", OperationContext(session, tenant_id, params={...}))

Handlers live in ``handlers/<domain>_handler.py`` and are wired by
``handlers.register_all_handlers``. A handler exception never escapes
:meth:`OperationRegistry.execute`: it is logged and turned into a failed
:class:`OperationResult`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperationContext:
    """Everything a handler needs: the caller's session, tenant and parameters."""

    session: Any
    tenant_id: Optional[str]
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class OperationResult:
    """Outcome of an operation: ``data`` on success, ``error``/``error_code`` on failure."""

    success: bool
    data: Any = None
    error: Optional[str] = None
    error_code: Optional[str] = None

    @classmethod
    def ok(cls, data: Any = None) -> "OperationResult":
        return cls(success=True, data=data)

    @classmethod
    def fail(cls, error: str, error_code: Optional[str] = None) -> "OperationResult":
        return cls(success=False, error=error, error_code=error_code)


class OperationHandler(Protocol):
    async def execute(self, ctx: OperationContext) -> OperationResult: ...


class OperationRegistry:
    """Maps operation names to handlers."""

    def __init__(self) -> None:
        self._handlers: Dict[str, OperationHandler] = {}

    def register(self, name: str, handler: OperationHandler) -> None:
        if name in self._handlers:
            raise ValueError(f"Operation already registered: {name}")
        self._handlers[name] = handler

    def has_operation(self, name: str) -> bool:
        return name in self._handlers

    def operations(self) -> list[str]:
        return sorted(self._handlers)

    async def execute(self, name: str, ctx: OperationContext) -> OperationResult:
        handler = self._handlers.get(name)
        if handler is None:
            return OperationResult.fail(f"Unknown operation: {name}", "UNKNOWN_OPERATION")
        try:
            return await handler.execute(ctx)
        except Exception as exc:
            logger.exception("operation %s failed (tenant=%s)", name, ctx.tenant_id)
            return OperationResult.fail(
                error=str(exc),
                error_code=f"HANDLER_EXCEPTION:{type(exc).__name__}",
            )


_registry: Optional[OperationRegistry] = None


def get_operation_registry() -> OperationRegistry:
    """The process-wide registry, built (and its handlers registered) on first use."""
    global _registry
    if _registry is None:
        from app.hoc.cus.hoc_spine.orchestrator.handlers import register_all_handlers

        registry = OperationRegistry()
        register_all_handlers(registry)
        _registry = registry
    return _registry


def reset_operation_registry() -> None:
    """Forget the singleton; the next :func:`get_operation_registry` rebuilds it."""
    global _registry
    _registry = None
