"""L6 driver for API keys (sync session supplied by the caller)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, ApiKey


def account_exists(session: Session, tenant_id: str, account_id: int) -> bool:
    """True when the tenant owns an open account ``account_id``."""
    found = session.execute(
        select(Account.id).where(
            Account.tenant_id == tenant_id,
            Account.id == account_id,
            Account.status != "closed",
        )
    ).scalar_one_or_none()
    return found is not None


def save_api_key(session: Session, key: ApiKey) -> ApiKey:
    """Persist a new API key."""
    session.add(key)
    session.commit()
    return key
