"""Console/runtime adapter for audit data (app.adapters boundary)."""

from __future__ import annotations

from app.hoc.cus.audit.L6_drivers import audit_driver


class AuditAdapter:
    async def recent(self, tenant_id: str, limit: int = 10) -> list:
        return await audit_driver.recent_events(tenant_id, limit)

    def count(self, tenant_id: str) -> int:
        return audit_driver.count_events_sync(tenant_id)


def get_audit_adapter() -> AuditAdapter:
    return AuditAdapter()
