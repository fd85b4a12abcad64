"""L5 engine: account lifecycle rules."""

from __future__ import annotations

from app.hoc.cus.accounts.L6_drivers.profile_driver import ProfileDriver

MAX_DISPLAY_NAME = 80


class InvalidDisplayName(ValueError):
    """The requested display name breaks the naming rules."""


class AccountLifecycleEngine:
    """Renaming and closing accounts."""

    def __init__(self, driver: ProfileDriver | None = None) -> None:
        self._driver = driver or ProfileDriver()

    @staticmethod
    def normalize_display_name(name: str) -> str:
        cleaned = " ".join(name.split())
        if not cleaned or len(cleaned) > MAX_DISPLAY_NAME:
            raise InvalidDisplayName(f"display name must be 1-{MAX_DISPLAY_NAME} characters")
        return cleaned

    async def rename(self, tenant_id: str, account_id: int, display_name: str) -> str | None:
        """Return the stored name, or None when the account does not exist."""
        cleaned = self.normalize_display_name(display_name)
        if not await self._driver.rename(tenant_id, account_id, cleaned):
            return None
        return cleaned

    def close(self, tenant_id: str, account_id: int) -> bool:
        return self._driver.close(tenant_id, account_id)
