"""Database wiring: engines, session factories and FastAPI dependencies.

Engines are created by :func:`configure`, which the application factory and the
test-suite call (the tests use a fresh temporary SQLite file per test).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterator, Optional

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool


class Base(DeclarativeBase):
    pass


_engine: Optional[Engine] = None
_async_engine: Optional[AsyncEngine] = None
_sync_url: Optional[str] = None
SessionLocal: Optional[sessionmaker] = None
AsyncSessionLocal: Optional[async_sessionmaker] = None


def configure(url_sync: str, url_async: str) -> None:
    """(Re)create both engines and their session factories."""
    global _engine, _async_engine, _sync_url, SessionLocal, AsyncSessionLocal
    dispose()
    _sync_url = url_sync
    _engine = create_engine(url_sync, connect_args={"check_same_thread": False})
    # NullPool: aiosqlite connections are bound to the event loop that opened them.
    _async_engine = create_async_engine(url_async, poolclass=NullPool)
    SessionLocal = sessionmaker(bind=_engine, expire_on_commit=False)
    AsyncSessionLocal = async_sessionmaker(_async_engine, expire_on_commit=False)


def is_configured() -> bool:
    return _engine is not None


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database not configured: call app.db.configure() first")
    return _engine


def get_async_engine() -> AsyncEngine:
    if _async_engine is None:
        raise RuntimeError("database not configured: call app.db.configure() first")
    return _async_engine


def get_sync_url() -> str:
    if _sync_url is None:
        raise RuntimeError("database not configured: call app.db.configure() first")
    return _sync_url


def init_schema() -> None:
    """Create all tables (idempotent)."""
    import app.models  # noqa: F401  (registers the mappers)

    Base.metadata.create_all(get_engine())


def dispose() -> None:
    global _engine, _async_engine
    if _engine is not None:
        _engine.dispose()
    _engine = None
    # NullPool keeps no connections: dropping the reference is enough.
    _async_engine = None


def get_db() -> Iterator[Session]:
    """Sync FastAPI dependency."""
    if SessionLocal is None:
        raise RuntimeError("database not configured")
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


async def get_async_session_dep() -> AsyncIterator[AsyncSession]:
    """Async FastAPI dependency."""
    if AsyncSessionLocal is None:
        raise RuntimeError("database not configured")
    async with AsyncSessionLocal() as session:
        yield session


@asynccontextmanager
async def get_async_session() -> AsyncIterator[AsyncSession]:
    """``async with get_async_session() as session:``"""
    if AsyncSessionLocal is None:
        raise RuntimeError("database not configured")
    async with AsyncSessionLocal() as session:
        yield session
