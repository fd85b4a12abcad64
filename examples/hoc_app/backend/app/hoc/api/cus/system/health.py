"""Stateless service endpoints (no database access)."""

from __future__ import annotations

import platform

from fastapi import APIRouter

router = APIRouter(tags=["system"])

APP_VERSION = "1.4.2"


@router.get("/health")
def health():
    return {"status": "ok"}


@router.get("/version")
def version():
    return {"version": APP_VERSION, "python": platform.python_version()}
