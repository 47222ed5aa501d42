"""Processed events as the status report reads them (marking and checking them, which every
change does under its link's lock, is in links.py: `already_processed`, `mark_processed`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
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
