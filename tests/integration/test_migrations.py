"""The schema migrates up and down on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import downgrade, upgrade
from app.db.models import Base

CORE_TABLES = {
    "connections", "syncs", "contact_links", "processed_events", "poller_watermarks", "sync_jobs",
    "dead_letters", "decisions", "api_tokens", "oauth_states", "outbox", "rate_budgets", "rate_budget_leases",
    "pubsub_replay", "audit_log", "paused_changes",
}


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return set(names) - {"alembic_version"}

    return asyncio.run(run())


def _unique_constraints(url: str, table: str) -> list[list[str]]:
    async def run() -> list[list[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(lambda c: inspect(c).get_unique_constraints(table))
        finally:
            await engine.dispose()
        return sorted(c["column_names"] for c in found)

    return asyncio.run(run())


def test_upgrade_creates_every_core_table_and_downgrade_removes_them(create_database: Callable[[], str]) -> None:
    url = create_database()
    upgrade(url)
    assert _tables(url) == CORE_TABLES == set(Base.metadata.tables)
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == CORE_TABLES


def test_contact_links_are_unique_per_sync_on_each_identity(database_url: str) -> None:
    assert _unique_constraints(database_url, "contact_links") == [
        ["sync_id", "email_normalized"],
        ["sync_id", "getresponse_contact_id"],
        ["sync_id", "salesforce_id"],
    ]


def test_migrations_and_models_agree(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Connection

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(diff)
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == []
