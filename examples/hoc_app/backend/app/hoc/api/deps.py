"""Shared L2 dependencies (HTTP only)."""

from fastapi import Header


def current_tenant(x_tenant_id: str = Header(default="t1")) -> str:
    return x_tenant_id
