"""Storing a dead letter: an event that failed for good, with the reason (listing, replay and
discard are the control API's: app/control/dead_letters.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DeadLetter


async def add(
    session: AsyncSession,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: str | None,
    event_id: str | None,
    event: dict[str, Any],
    reason: str,
    error_class: str,
    attempts: int,
    sync_id: uuid.UUID | None = None,
) -> DeadLetter:
    letter = DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        event_id=event_id,
        event=event,
        reason=reason[:4000],
        error_class=error_class,
        attempts=attempts,
        sync_id=sync_id,
    )
    session.add(letter)
    await session.flush()
    return letter
