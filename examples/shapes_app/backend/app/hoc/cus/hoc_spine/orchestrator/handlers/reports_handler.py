"""L4 handlers for the reports domain."""

from __future__ import annotations

from app.hoc.cus.hoc_spine.orchestrator.operation_registry import (
    OperationContext,
    OperationRegistry,
    OperationResult,
)
from app.hoc.cus.reports.L6_drivers import snapshot_driver

SNAPSHOT_METRICS = ("stock_on_hand",)


class ReportsSnapshotHandler:
    """reports.snapshot: capture a metric for the tenant (sync session)."""

    async def execute(self, ctx: OperationContext) -> OperationResult:
        metric = ctx.params.get("metric")
        if metric not in SNAPSHOT_METRICS:
            return OperationResult.fail(f"Unknown metric: {metric}", "UNKNOWN_METRIC")
        value = snapshot_driver.count_items(ctx.session, ctx.tenant_id)
        snapshot_id = snapshot_driver.record_snapshot(ctx.tenant_id, metric, value)
        return OperationResult.ok({"id": snapshot_id, "metric": metric, "value": value})


def register(registry: OperationRegistry) -> None:
    registry.register("reports.snapshot", ReportsSnapshotHandler())
