"""A change for a paused sync is kept, not applied (app/control/pausing.py resends it on resume)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import paused_changes
from app.db.session import transaction
from app.db.syncs import SyncConfig
from app.domain.events import ChangeEvent
from app.logs import get_logger

log = get_logger(__name__)


async def kept_for_paused(
    sessions: async_sessionmaker[AsyncSession], sync: SyncConfig, event: ChangeEvent
) -> bool:
    """True when the sync is paused (by the database, not only the consumer's view) and the change
    was kept for it; False: apply it."""
    if not sync.paused:
        return False
    async with transaction(sessions) as session:
        kept = await paused_changes.keep_if_paused(session, sync.id, event.model_dump(mode="json"))
    if kept:
        log.info("change kept for a paused sync", sync_id=str(sync.id), event_id=event.event_id)
    return kept
