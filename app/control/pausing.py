"""Pausing and resuming a sync: while paused, the consumers keep its live changes in Postgres
(app/db/paused_changes.py) instead of applying them, and the poller does not poll it; a resume
sends every kept change again, oldest first, through the outbox (so they reach Kafka even if it is
down at that moment), and the poller reads on from the sync's watermark.

A change already being applied when the pause is made finishes; the consumers see the pause
within their view of the syncs (2 s), and from then on decide by the database under the sync's
row lock, so no change is kept after the resume that would have released it.
"""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Topics, event_message
from app.control.errors import Conflict, NotFound
from app.control.syncs import SyncRead
from app.db import outbox, paused_changes, syncs
from app.domain.events import ChangeEvent, Source
from app.domain.states import SyncState


async def pause_sync(session: AsyncSession, sync_id: uuid.UUID) -> SyncRead:
    """Idempotent: pausing a paused sync answers it as it is. A draft or cancelled sync has no live
    changes to hold: 409."""
    row = await syncs.sync_by_id(session, sync_id, lock=True)
    if row is None:
        raise NotFound(f"no sync {sync_id}")
    if row.state is not SyncState.PAUSED:
        if not row.state.live:
            raise Conflict(f"sync {sync_id} is {row.state.value}: only a live sync can be paused")
        row.paused_from, row.state = row.state, SyncState.PAUSED
        row.updated_at = func.now()
    await session.commit()
    await session.refresh(row)
    return SyncRead.model_validate(row)


class SyncResumed(SyncRead):
    changes_resent: int = Field(description="changes kept while paused, now sent again in order")


async def resume_sync(session: AsyncSession, topics: Topics, sync_id: uuid.UUID) -> SyncResumed:
    """Back to the state it was paused from, its kept changes queued to be sent again in order;
    idempotent on a sync that is not paused (nothing resent)."""
    row = await syncs.sync_by_id(session, sync_id, lock=True)
    if row is None:
        raise NotFound(f"no sync {sync_id}")
    queued = 0
    if row.state is SyncState.PAUSED:
        for raw in await paused_changes.take_all(session, sync_id):
            event = ChangeEvent.model_validate(raw)
            from_salesforce = event.source is Source.SALESFORCE
            topic = topics.salesforce_changes if from_salesforce else topics.getresponse_changes
            await outbox.enqueue(session, event_message(topic, event))
            queued += 1
        row.state, row.paused_from = row.paused_from or SyncState.ACTIVE, None
        row.updated_at = func.now()
    await session.commit()
    await session.refresh(row)
    return SyncResumed.model_validate({**SyncRead.model_validate(row).model_dump(), "changes_resent": queued})
