"""L5 engine: report exports."""

from __future__ import annotations

from app.hoc.cus.reports.L6_drivers import report_driver
from app.hoc.cus.reports.L6_drivers.snapshot_driver import record_snapshot

EXPORT_KINDS = ("items", "stock")


class UnknownExportKind(ValueError):
    pass


class ExportEngine:
    async def run(self, tenant_id: str, kind: str) -> dict:
        """Run an export and record its size as a snapshot."""
        if kind not in EXPORT_KINDS:
            raise UnknownExportKind(kind)
        run_id = await report_driver.start_run(tenant_id, kind)
        rows = await report_driver.complete_run(run_id, tenant_id)
        snapshot_id = record_snapshot(tenant_id, f"export.{kind}.rows", rows)
        return {"run_id": run_id, "kind": kind, "rows": rows, "snapshot_id": snapshot_id}
