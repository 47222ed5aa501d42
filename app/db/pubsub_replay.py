"""The Pub/Sub API subscriber's state in Postgres: the stored replay id per org and channel
(`pubsub_replay`), and the advisory lock per org that keeps one subscriber active."""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import PubSubReplay

_LOCK_SPACE = 0x5F6752_0002  # "sfgr" subscriber; the org's connection id is the second key


@dataclass(frozen=True)
class StoredReplay:
    replay_id: bytes
    last_commit_at: datetime | None
    heard_at: datetime


def _lock_keys(connection_id: uuid.UUID) -> dict[str, int]:
    return {"space": _LOCK_SPACE & 0x7FFFFFFF, "key": zlib.crc32(connection_id.bytes) & 0x7FFFFFFF}


async def try_subscriber_lock(connection: AsyncConnection, connection_id: uuid.UUID) -> bool:
    """Takes the org's subscriber lock for the life of `connection`, if no other connection holds it."""
    got: bool = (
        await connection.execute(text("SELECT pg_try_advisory_lock(:space, :key)"), _lock_keys(connection_id))
    ).scalar_one()
    return got


async def release_subscriber_lock(connection: AsyncConnection, connection_id: uuid.UUID) -> None:
    await connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), _lock_keys(connection_id))


async def stored_replay(session: AsyncSession, connection_id: uuid.UUID, channel: str) -> StoredReplay | None:
    row = await session.get(PubSubReplay, (connection_id, channel))
    return StoredReplay(row.replay_id, row.last_commit_at, row.heard_at) if row else None


async def save_replay(
    session: AsyncSession,
    connection_id: uuid.UUID,
    channel: str,
    replay_id: bytes,
    *,
    last_commit_at: datetime | None = None,
) -> None:
    """Stores the position (an event's, or a keepalive's); `last_commit_at`, the commit time of the
    newest event processed, changes only when given."""
    now = datetime.now(UTC)
    values = {"replay_id": replay_id, "heard_at": now, "updated_at": now}
    changed: dict[str, object] = dict(values)
    if last_commit_at is not None:
        changed["last_commit_at"] = last_commit_at
    await session.execute(
        insert(PubSubReplay)
        .values(connection_id=connection_id, channel=channel, last_commit_at=last_commit_at, **values)
        .on_conflict_do_update(
            index_elements=[PubSubReplay.connection_id, PubSubReplay.channel], set_=changed
        )
    )


async def forget_replay(session: AsyncSession, connection_id: uuid.UUID, channel: str) -> None:
    """Keeps the row's commit time (where a gap re-read starts) but not its replay id."""
    await session.execute(
        update(PubSubReplay)
        .where(PubSubReplay.connection_id == connection_id, PubSubReplay.channel == channel)
        .values(replay_id=b"", updated_at=datetime.now(UTC))
    )


async def last_heard(session: AsyncSession) -> datetime | None:
    """When any subscriber last heard from the Pub/Sub API (an event or a keepalive)."""
    found: datetime | None = (
        await session.execute(select(PubSubReplay.heard_at).order_by(PubSubReplay.heard_at.desc()).limit(1))
    ).scalar_one_or_none()
    return found
