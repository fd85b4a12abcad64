"""Application factory."""

from __future__ import annotations

import os

from fastapi import FastAPI

from app import db
from app.hoc.api.cus.audit import events as audit_events
from app.hoc.api.cus.audit import ingest as audit_ingest
from app.hoc.api.cus.billing import facade_api as billing_facade_api
from app.hoc.api.cus.billing import invoices as billing_invoices
from app.hoc.api.cus.billing import statements as billing_statements
from app.hoc.api.cus.catalog import bridge_api as catalog_bridge_api
from app.hoc.api.cus.catalog import categories as catalog_categories
from app.hoc.api.cus.catalog import widgets as catalog_widgets
from app.hoc.api.cus.orders import order_ops
from app.hoc.api.cus.orders import orders
from app.hoc.api.cus.system import health

ROUTERS = [
    health.router,
    catalog_widgets.router,
    catalog_categories.router,
    catalog_bridge_api.router,
    orders.router,
    order_ops.router,
    billing_invoices.router,
    billing_statements.router,
    billing_facade_api.router,
    audit_events.router,
    audit_ingest.router,
]


def create_app() -> FastAPI:
    if not db.is_configured():
        path = os.environ.get("HOC_APP_DB", "hoc_app.db")
        db.configure(f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}")
        db.init_schema()
    app = FastAPI(title="hoc_app")
    for router in ROUTERS:
        app.include_router(router)
    return app
