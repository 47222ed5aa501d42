"""Event ids a consumer has fully applied: checked and marked in the transaction that applies the
event (so a redelivered message changes nothing), and read by the status report."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ProcessedEvent


async def last_processed_at(session: AsyncSession, consumer: str, sync_id: uuid.UUID) -> datetime | None:
    """When `consumer` last applied an event of the sync (the ids it marks are `<sync id>:<event id>`)."""
    last: datetime | None = await session.scalar(
        select(func.max(ProcessedEvent.processed_at)).where(
            ProcessedEvent.consumer == consumer,
            ProcessedEvent.event_id.startswith(f"{sync_id}:", autoescape=True),
        )
    )
    return last


async def already_processed(session: AsyncSession, consumer: str, event_id: str) -> bool:
    found = await session.get(ProcessedEvent, (consumer, event_id))
    return found is not None


async def mark_processed(session: AsyncSession, consumer: str, event_id: str) -> None:
    await session.execute(
        insert(ProcessedEvent).values(consumer=consumer, event_id=event_id).on_conflict_do_nothing()
    )
