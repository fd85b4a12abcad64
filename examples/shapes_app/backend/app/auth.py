"""Request authentication.

The gateway in front of the service authenticates the caller and forwards the
tenant in the ``X-Tenant`` header; this module turns it into an
:class:`AuthContext` for the endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from fastapi import Depends, Header, HTTPException


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: the tenant and, when known, the end user."""

    tenant_id: str
    user: Optional[str] = None


def get_auth(
    x_tenant: Optional[str] = Header(default=None),
    x_user: Optional[str] = Header(default=None),
) -> AuthContext:
    """FastAPI dependency: the caller's :class:`AuthContext` (401 without a tenant)."""
    if not x_tenant:
        raise HTTPException(status_code=401, detail="missing tenant")
    return AuthContext(tenant_id=x_tenant, user=x_user)


def current_tenant(auth: AuthContext = Depends(get_auth)) -> str:
    """FastAPI dependency: just the caller's tenant id."""
    return auth.tenant_id
