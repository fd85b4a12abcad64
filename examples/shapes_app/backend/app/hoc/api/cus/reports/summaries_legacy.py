"""Report summaries, pre-2.0 version (no longer mounted)."""

from fastapi import APIRouter, Depends

from ...deps_legacy import legacy_db
from ....reporting.queries import STOCK_TOTALS_SQL

router = APIRouter(prefix="/legacy/reports", tags=["reports-legacy"])


@router.get("/stock-totals")
async def stock_totals(tenant: str, db=Depends(legacy_db)):
    result = await db.execute(STOCK_TOTALS_SQL, {"tenant": tenant})
    return [dict(r._mapping) for r in result]


@router.get("/item-count")
async def item_count(tenant: str, db=Depends(legacy_db)):
    count = (await db.execute("SELECT COUNT(*) FROM items WHERE tenant = :t", {"t": tenant})).scalar()
    return {"count": count}
