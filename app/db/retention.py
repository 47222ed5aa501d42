"""Retention: what is deleted once it is old enough (applied event ids, the decision log, dead
letters that were replayed or discarded), one bounded batch per statement so that no DELETE holds
its locks for long, and the advisory lock that lets one pruner at a time do it.

Ages are measured by the database's clock, the one that stamped the rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnClause, column, delete, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import DeadLetter, Decision, ProcessedEvent

ADVISORY_LOCK_KEY = 0x5F6752_0002  # "sfgr" retention (the poller's is 0x5F6752_0001)


@asynccontextmanager
async def retention_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Yields whether this pruner holds the retention lock; held on a connection of its own until
    the block ends (and by nobody once that connection is gone, whatever ended it)."""
    async with engine.connect() as connection:
        held = bool(
            (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}))
            .scalar_one()
        )
        await connection.commit()
        try:
            yield held
        finally:
            if held:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                await connection.commit()


async def prune_processed_events(session: AsyncSession, *, older_than: timedelta, limit: int) -> int:
    """Deletes up to `limit` event ids applied longer than `older_than` ago; returns how many."""
    # The table's key is two strings: a batch is picked by ctid, found through the age index.
    ctid: ColumnClause[Any] = column("ctid")
    oldest = (
        select(ctid)
        .select_from(ProcessedEvent)
        .where(ProcessedEvent.processed_at < func.now() - older_than)
        .limit(limit)
    )
    result = await session.execute(delete(ProcessedEvent).where(ctid.in_(oldest.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_decisions(session: AsyncSession, *, older_than: timedelta, limit: int) -> int:
    """Deletes up to `limit` decisions made longer than `older_than` ago; returns how many."""
    oldest = select(Decision.id).where(Decision.created_at < func.now() - older_than).limit(limit)
    result = await session.execute(delete(Decision).where(Decision.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_resolved_dead_letters(session: AsyncSession, *, older_than: timedelta, limit: int) -> int:
    """Deletes up to `limit` dead letters replayed or discarded longer than `older_than` ago;
    returns how many. Open ones are kept however old they are: they still wait for someone."""
    horizon = func.now() - older_than
    oldest = (
        select(DeadLetter.id)
        .where(
            # A letter is resolved after it was created: the created_at index narrows the scan.
            DeadLetter.created_at < horizon,
            or_(DeadLetter.replayed_at < horizon, DeadLetter.discarded_at < horizon),
        )
        .limit(limit)
    )
    result = await session.execute(delete(DeadLetter).where(DeadLetter.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]
