"""One async engine per process, the sessions made from it, and a check that Postgres answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Dialect, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    return engine


def _connect_or_unavailable(
    dialect: Dialect, record: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> DBAPIConnection:
    """Connects as the dialect would; a server that cannot be reached is an OperationalError.

    The driver raises a refused or timed-out connect as a bare OSError, which SQLAlchemy passes on
    unwrapped, so without this a Postgres that is down (a restart, a failover) would look like any
    unexpected error to the code above: a consumer would send its events to the retry topic and,
    after an outage of a minute or two, to the dead letters, instead of delivering them again until
    the database is back (consumers/processing.py).
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        raise OperationalError("connect", None, exc, connection_invalidated=True) from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        yield session


async def ping(connection: AsyncConnection) -> None:
    """One round trip: raises when the connection or the database is gone."""
    await connection.execute(text("SELECT 1"))
