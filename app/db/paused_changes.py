"""The live changes of a paused sync, kept in order until it is resumed (app/control/syncs.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import PausedChange, Sync
from app.domain.states import SyncState


async def keep_if_paused(session: AsyncSession, sync_id: uuid.UUID, event: dict[str, Any]) -> bool:
    """Keep the change if the sync is paused now, by the database (a consumer's view of the syncs
    may be a second old); True when kept. The sync's row is share-locked until the transaction
    ends, so a resume cannot slip between the look and the keep."""
    state = await session.scalar(select(Sync.state).where(Sync.id == sync_id).with_for_update(read=True))
    if state is not SyncState.PAUSED:
        return False
    session.add(PausedChange(sync_id=sync_id, event=event))
    await session.flush()
    return True


async def take_all(session: AsyncSession, sync_id: uuid.UUID) -> list[dict[str, Any]]:
    """The sync's kept changes, oldest first, deleted (the caller holds the sync's row lock)."""
    rows = list(
        await session.scalars(
            select(PausedChange).where(PausedChange.sync_id == sync_id).order_by(PausedChange.id)
        )
    )
    await session.execute(delete(PausedChange).where(PausedChange.sync_id == sync_id))
    return [row.event for row in rows]


async def kept_count(session: AsyncSession, sync_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(PausedChange).where(PausedChange.sync_id == sync_id)
    )
    return count or 0
