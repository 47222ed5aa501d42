"""Dead letters: an event that failed for good, stored with the reason; found by sync, listed,
counted, and locked while the control API replays or discards one.

A dead letter belongs to a sync when the consumer knew the sync (`sync_id`), or else when its
event could only have been for it: a Salesforce event of the sync's org connection and objects, a
GetResponse event of the sync's list (inbound events name no sync; app/control/dead_letters.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DeadLetter, Sync
from app.domain.sides import Side


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


def _of_sync(sync: Sync) -> ColumnElement[bool]:
    """The dead letters that belong to `sync` (see the module docstring)."""
    event = DeadLetter.event
    return or_(
        DeadLetter.sync_id == sync.id,
        and_(
            DeadLetter.sync_id.is_(None),
            or_(
                and_(
                    event["source"].astext == Side.SALESFORCE.value,
                    event["connection_id"].astext == str(sync.salesforce_connection_id),
                    event["object_type"].astext.in_(sync.salesforce_objects),
                ),
                and_(
                    event["source"].astext == Side.GETRESPONSE.value,
                    event["campaign_id"].astext == sync.campaign_id,
                ),
            ),
        ),
    )


def _open() -> ColumnElement[bool]:
    return and_(DeadLetter.replayed_at.is_(None), DeadLetter.discarded_at.is_(None))


async def newest_dead_letters(
    session: AsyncSession,
    *,
    limit: int,
    sync: Sync | None = None,
    status: Literal["open", "replayed", "discarded", "all"] = "all",
    before_id: int | None = None,
) -> list[DeadLetter]:
    """Up to `limit` dead letters, newest first: of `sync` if given, in `status`, older than
    `before_id` if given."""
    statement = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if sync is not None:
        statement = statement.where(_of_sync(sync))
    if status == "open":
        statement = statement.where(_open())
    elif status == "replayed":
        statement = statement.where(DeadLetter.replayed_at.is_not(None))
    elif status == "discarded":
        statement = statement.where(DeadLetter.discarded_at.is_not(None))
    if before_id is not None:
        statement = statement.where(DeadLetter.id < before_id)
    return list(await session.scalars(statement))


async def dead_letter_by_id(session: AsyncSession, letter_id: int) -> DeadLetter | None:
    return await session.get(DeadLetter, letter_id)


async def lock_dead_letter(session: AsyncSession, letter_id: int) -> DeadLetter | None:
    """The dead letter, its row locked until the transaction ends (one replay or discard at a time)."""
    letter: DeadLetter | None = await session.scalar(
        select(DeadLetter).where(DeadLetter.id == letter_id).with_for_update()
    )
    return letter


async def open_dead_letters_count(session: AsyncSession, sync: Sync) -> int:
    """How many of the sync's dead letters are neither replayed nor discarded."""
    count = await session.scalar(select(func.count()).select_from(DeadLetter).where(_of_sync(sync), _open()))
    return count or 0


async def recent_dead_letters_count(session: AsyncSession, sync: Sync, *, within: timedelta) -> int:
    """How many of the sync's dead letters were created in the last `within`, by the database's clock."""
    count = await session.scalar(
        select(func.count())
        .select_from(DeadLetter)
        .where(_of_sync(sync), DeadLetter.created_at > func.now() - within)
    )
    return count or 0


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many dead letters are open, replayed and discarded (every status, 0 when none)."""
    status = case(
        (DeadLetter.discarded_at.is_not(None), "discarded"),
        (DeadLetter.replayed_at.is_not(None), "replayed"),
        else_="open",
    )
    rows = await session.execute(select(status, func.count()).group_by(status))
    counts = {"open": 0, "replayed": 0, "discarded": 0}
    counts.update({str(name): int(n) for name, n in rows.tuples()})
    return counts


async def lock_open_matching(
    session: AsyncSession,
    *,
    sync: Sync | None,
    error_class: str | None,
    reason_contains: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    limit: int,
) -> list[DeadLetter]:
    """Up to `limit` open dead letters matching every filter given, oldest first, their rows locked
    until the transaction ends (rows another replay holds are skipped, not waited for)."""
    statement = select(DeadLetter).where(_open()).order_by(DeadLetter.id).limit(limit)
    if sync is not None:
        statement = statement.where(_of_sync(sync))
    if error_class is not None:
        statement = statement.where(DeadLetter.error_class == error_class)
    if reason_contains is not None:
        statement = statement.where(DeadLetter.reason.icontains(reason_contains, autoescape=True))
    if created_after is not None:
        statement = statement.where(DeadLetter.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(DeadLetter.created_at < created_before)
    return list(await session.scalars(statement.with_for_update(skip_locked=True)))


async def recent_of_sync(
    session: AsyncSession, sync: Sync, *, within: timedelta, limit: int
) -> list[DeadLetter]:
    """The sync's dead letters of the last `within` (by the database's clock), newest first."""
    statement = (
        select(DeadLetter)
        .where(_of_sync(sync), DeadLetter.created_at > func.now() - within)
        .order_by(DeadLetter.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))
