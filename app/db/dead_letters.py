"""Dead letters: events that failed for good, with the reason; listable, replayable, discardable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
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


async def open_letters(
    session: AsyncSession, *, limit: int = 100, before_id: int | None = None
) -> list[DeadLetter]:
    statement = (
        select(DeadLetter)
        .where(DeadLetter.replayed_at.is_(None), DeadLetter.discarded_at.is_(None))
        .order_by(DeadLetter.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(DeadLetter.id < before_id)
    return list(await session.scalars(statement))


def now() -> datetime:
    return datetime.now(UTC)
