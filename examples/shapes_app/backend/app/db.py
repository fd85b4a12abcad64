"""Database wiring: engines, session factories and FastAPI dependencies.

The application talks to a single SQLite file. Its location comes from the
``SHAPES_DB_PATH`` environment variable and can be changed at runtime with
:func:`configure_database` (the test-suite points it at a temporary file per
test). Connections are opened on demand, so ``engine``, ``SessionLocal`` and
``AsyncSessionLocal`` stay valid when the path changes.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterator

import aiosqlite
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

_database_path: str = os.environ.get("SHAPES_DB_PATH", "shapes.db")


class Base(DeclarativeBase):
    """Declarative base for every ORM model of the application."""


def configure_database(path: str) -> None:
    """Point every engine and session factory at the SQLite file ``path``."""
    global _database_path
    _database_path = str(path)


def database_url() -> str:
    """The SQLAlchemy URL of the current database (sync driver)."""
    return f"sqlite:///{_database_path}"


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(_database_path, check_same_thread=False)


async def _connect_async() -> aiosqlite.Connection:
    return await aiosqlite.connect(_database_path)


engine = create_engine("sqlite://", creator=_connect, poolclass=NullPool)
async_engine = create_async_engine("sqlite+aiosqlite://", async_creator=_connect_async, poolclass=NullPool)

SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)
AsyncSessionLocal = async_sessionmaker(async_engine, expire_on_commit=False)


def init_schema() -> None:
    """Create all tables (idempotent)."""
    import app.models  # noqa: F401  (registers the mappers)

    Base.metadata.create_all(engine)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: a sync session, closed after the request."""
    session = SessionLocal()
    try:
        yield session
    finally:
        session.close()


async def get_async_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: an async session, closed after the request."""
    async with AsyncSessionLocal() as session:
        yield session


@asynccontextmanager
async def async_session_context() -> AsyncIterator[AsyncSession]:
    """``async with async_session_context() as session:`` for code outside a request."""
    async with AsyncSessionLocal() as session:
        yield session
