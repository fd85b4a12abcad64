"""L5 engine: webhook subscription rules."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.hoc.cus.accounts.L6_drivers.webhook_driver import WebhookDriver, get_webhook_driver

WEBHOOK_EVENTS = ("stock.low", "export.done", "account.closed")
MAX_WEBHOOKS_PER_ACCOUNT = 3


class AccountNotFound(LookupError):
    """The tenant has no such account."""


class WebhookRejected(ValueError):
    """The subscription breaks a rule (event, URL, account state or quota)."""


class WebhookEngine:
    """Who may subscribe to what, and where notifications may go."""

    def __init__(self, driver: WebhookDriver) -> None:
        self._driver = driver

    @staticmethod
    def normalize_url(url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise WebhookRejected("webhook url must be an https:// URL")
        return parts.geturl()

    async def list_for_account(self, tenant_id: str, account_id: int) -> list[dict[str, Any]]:
        if await self._driver.account_status(tenant_id, account_id) is None:
            raise AccountNotFound(f"account {account_id} not found")
        return await self._driver.list_webhooks(tenant_id, account_id)

    async def subscribe(self, tenant_id: str, account_id: int, event: str, url: str) -> dict[str, Any]:
        if event not in WEBHOOK_EVENTS:
            raise WebhookRejected(f"unknown event: {event}")
        target = self.normalize_url(url)
        status = await self._driver.account_status(tenant_id, account_id)
        if status is None:
            raise AccountNotFound(f"account {account_id} not found")
        if status == "closed":
            raise WebhookRejected("account is closed")
        if await self._driver.count_active(tenant_id, account_id) >= MAX_WEBHOOKS_PER_ACCOUNT:
            raise WebhookRejected(f"an account can have at most {MAX_WEBHOOKS_PER_ACCOUNT} webhooks")
        hook_id = await self._driver.add_webhook(tenant_id, account_id, event, target)
        return {"id": hook_id, "event": event, "url": target, "active": True}


def get_webhook_engine() -> WebhookEngine:
    return WebhookEngine(get_webhook_driver())
