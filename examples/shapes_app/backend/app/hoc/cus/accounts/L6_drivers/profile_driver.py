"""L6 driver for account profile changes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import async_session_context, engine
from app.models import Account, ApiKey


class ProfileDriver:
    """Writes to an account's profile and lifecycle state."""

    async def rename(self, tenant_id: str, account_id: int, display_name: str) -> bool:
        """Set the display name; False when the account does not exist."""
        async with async_session_context() as session:
            result = await session.execute(
                select(Account).where(Account.tenant_id == tenant_id, Account.id == account_id)
            )
            account = result.scalar_one_or_none()
            if account is None:
                return False
            account.display_name = display_name
            await session.commit()
            return True

    def close(self, tenant_id: str, account_id: int) -> bool:
        """Close the account and revoke its keys; False when there is nothing to close."""
        with Session(engine) as session:
            account = session.execute(
                select(Account).where(
                    Account.tenant_id == tenant_id,
                    Account.id == account_id,
                    Account.status != "closed",
                )
            ).scalar_one_or_none()
            if account is None:
                return False
            account.status = "closed"
            for key in session.execute(select(ApiKey).where(ApiKey.account_id == account_id)).scalars():
                key.revoked = True
            session.commit()
            return True
