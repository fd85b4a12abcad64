"""L6 driver for account webhooks (async)."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import func, select

from app.db import get_async_session
from app.models import Account, Webhook


class WebhookDriver:
    """Webhook subscriptions. Each method runs in a session of its own."""

    async def account_status(self, tenant_id: str, account_id: int) -> Optional[str]:
        """The account's status, or None when the tenant has no such account."""
        async for session in get_async_session():
            result = await session.execute(
                select(Account.status).where(Account.tenant_id == tenant_id, Account.id == account_id)
            )
            return result.scalar_one_or_none()

    async def list_webhooks(self, tenant_id: str, account_id: int) -> list[dict[str, Any]]:
        async for session in get_async_session():
            result = await session.execute(
                select(Webhook)
                .where(Webhook.tenant_id == tenant_id, Webhook.account_id == account_id)
                .order_by(Webhook.id)
            )
            return [
                {"id": hook.id, "event": hook.event, "url": hook.url, "active": hook.active}
                for hook in result.scalars()
            ]

    async def count_active(self, tenant_id: str, account_id: int) -> int:
        async for session in get_async_session():
            result = await session.execute(
                select(func.count(Webhook.id)).where(
                    Webhook.tenant_id == tenant_id,
                    Webhook.account_id == account_id,
                    Webhook.active.is_(True),
                )
            )
            return result.scalar_one()

    async def add_webhook(self, tenant_id: str, account_id: int, event: str, url: str) -> int:
        """Store an active subscription and return its id (IntegrityError on a duplicate)."""
        async for session in get_async_session():
            hook = Webhook(tenant_id=tenant_id, account_id=account_id, event=event, url=url, active=True)
            session.add(hook)
            await session.commit()
            return hook.id


def get_webhook_driver() -> WebhookDriver:
    return WebhookDriver()
