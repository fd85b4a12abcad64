"""Application factory."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException

from app import db
from app.hoc.api.cus.accounts import accounts as accounts_api
from app.hoc.api.cus.accounts import keys as keys_api
from app.hoc.api.cus.accounts import webhooks as webhooks_api
from app.hoc.api.cus.inventory import items as items_api
from app.hoc.api.cus.inventory import reorders as reorders_api
from app.hoc.api.cus.inventory import warehouse_tags as warehouse_tags_api
from app.hoc.api.cus.inventory import warehouses as warehouses_api
from app.hoc.api.cus.reports import exports as exports_api
from app.hoc.api.cus.reports import summaries as summaries_api

ROUTERS = [
    items_api.router,
    reorders_api.router,
    warehouses_api.router,
    warehouse_tags_api.router,
    accounts_api.router,
    keys_api.router,
    webhooks_api.router,
    summaries_api.router,
    exports_api.router,
]

HEALTH_TABLES = ("items", "accounts")


def create_app() -> FastAPI:
    app = FastAPI(title="shapes_app")
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health/db")
    def db_health():
        """Database liveness: row counts of the core tables."""
        from sqlalchemy import text

        counts = {}
        with db.SessionLocal() as session:
            try:
                for table in HEALTH_TABLES:
                    counts[table] = session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            except Exception as e:
                raise HTTPException(status_code=503, detail={"error": "database_unavailable", "message": str(e)})
        return {"status": "ok", "counts": counts}

    return app
