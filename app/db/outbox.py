"""The outbox (`outbox`): messages written in the transaction that made them, claimed by a relay
and marked sent once Kafka acknowledged them; sent rows are pruned after a while."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Message
from app.db.models import OutboxMessage


async def enqueue(session: AsyncSession, message: Message) -> int:
    """Adds `message` to the outbox in the session's transaction; it is sent only if that commits."""
    row = OutboxMessage(
        topic=message.topic,
        key=message.key,
        value=message.value,
        headers=[[name, value.decode()] for name, value in message.headers],
    )
    session.add(row)
    await session.flush()
    return row.id


async def claim_unsent(session: AsyncSession, limit: int) -> list[OutboxMessage]:
    """Up to `limit` unsent rows, oldest first, locked until the transaction ends. Rows another
    transaction holds are skipped, so relays running side by side never claim one row together."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(statement))


async def mark_sent(session: AsyncSession, ids: Sequence[int]) -> None:
    await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(sent_at=func.now()))


async def unsent_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    )
    return count or 0


async def prune_sent(session: AsyncSession, sent_before: datetime) -> int:
    """Deletes rows sent before `sent_before`; returns how many. Unsent rows are never deleted."""
    deleted = await session.scalars(
        delete(OutboxMessage).where(OutboxMessage.sent_at < sent_before).returning(OutboxMessage.id)
    )
    return len(deleted.all())


def as_message(row: OutboxMessage) -> Message:
    """The message as it was enqueued: topic, key, value and headers unchanged."""
    headers = tuple((name, value.encode()) for name, value in row.headers)
    return Message(row.topic, row.key, row.value, headers)
