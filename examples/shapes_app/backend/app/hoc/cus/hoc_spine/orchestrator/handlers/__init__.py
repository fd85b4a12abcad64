"""L4 handlers, one module per domain.

Handler modules are imported lazily, inside :func:`register_all_handlers`, so
importing the registry does not pull in every driver and model at start-up
(and so the handlers can import the registry without an import cycle).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.hoc.cus.hoc_spine.orchestrator.operation_registry import OperationRegistry


def register_all_handlers(registry: "OperationRegistry") -> None:
    """Register every domain's operations on ``registry``."""
    from app.hoc.cus.hoc_spine.orchestrator.handlers import accounts_handler
    from app.hoc.cus.hoc_spine.orchestrator.handlers import inventory_handler
    from app.hoc.cus.hoc_spine.orchestrator.handlers import reports_handler

    accounts_handler.register(registry)
    inventory_handler.register(registry)
    reports_handler.register(registry)
