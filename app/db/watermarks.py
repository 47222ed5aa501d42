"""The GetResponse poller's state in Postgres: how far each sync was polled (`poller_watermarks`),
and the advisory lock that keeps one poller active however many replicas run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import PollerWatermark

ADVISORY_LOCK_KEY = 0x5F6752_0001  # "sfgr" poller


async def try_poller_lock(connection: AsyncConnection) -> bool:
    """Takes the poller's lock for the life of `connection`, if no other connection holds it."""
    got: bool = (
        await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    ).scalar_one()
    return got


async def release_poller_lock(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})


async def poller_watermark(session: AsyncSession, sync_id: uuid.UUID) -> datetime | None:
    """The GetResponse changedOn the sync was polled up to; None before its first poll."""
    mark = await session.get(PollerWatermark, sync_id)
    return mark.changed_on if mark else None


async def save_watermark(session: AsyncSession, sync_id: uuid.UUID, changed_on: datetime) -> None:
    """Stores the sync's watermark; a watermark never moves back."""
    await session.execute(
        insert(PollerWatermark)
        .values(sync_id=sync_id, changed_on=changed_on)
        .on_conflict_do_update(
            index_elements=[PollerWatermark.sync_id],
            set_={"changed_on": changed_on, "updated_at": datetime.now(UTC)},
            where=PollerWatermark.changed_on <= changed_on,
        )
    )
