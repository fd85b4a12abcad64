from app.hoc.cus.hoc_spine.orchestrator.handlers import orders_handler
from app.hoc.cus.hoc_spine.orchestrator.handlers import billing_handler


def register_all_handlers(registry):
    orders_handler.register(registry)
    billing_handler.register(registry)
