"""Dead letters as the control API shows them: listed (newest first, by sync), read, replayed to
the topic their event came from, or discarded.

A dead letter belongs to a sync when the consumer knew the sync (`sync_id`), or else when its
event could only have been for it: a Salesforce event of the sync's org connection, a GetResponse
event of the sync's list. Inbound events name no sync (one Salesforce change may feed several), so
without the second rule most dead letters would belong to none.

A replay publishes the stored ChangeEvent again, unchanged (same event id, keyed by its record
id): the consumers' processed-event check keeps it idempotent, and a dead-lettered event was never
marked processed, so it is applied. A malformed message (`{"raw": ...}`) has no event to replay.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus, PublishFailed, event_message
from app.control.errors import Conflict, NotFound, ServiceUnavailable
from app.db.models import DeadLetter, Sync
from app.domain.events import ChangeEvent
from app.domain.sides import Side

MAX_PAGE = 200
HEADER_REPLAYED_FROM = "sfgr-replayed-from-dead-letter"


class DeadLetterRead(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": 42,
                    "sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "status": "open",
                    "topic": "sfgr.salesforce.changes",
                    "partition": 1,
                    "offset": 1187,
                    "key": "00Q5g00000AbCdEFGH",
                    "event_id": "om:04l5g00000XyZ12AAB",
                    "source": "salesforce",
                    "reason": "getresponse 400 1000: Custom field value is invalid (fields: cfPhn)",
                    "error_class": "Permanent",
                    "attempts": 1,
                    "created_at": "2026-11-26T10:00:00Z",
                    "replayed_at": None,
                    "discarded_at": None,
                    "replayable": True,
                    "event": {"event_id": "om:04l5g00000XyZ12AAB", "source": "salesforce", "...": "..."},
                }
            ]
        }
    }

    id: int
    sync_id: uuid.UUID | None
    status: Literal["open", "replayed", "discarded"]
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    source: str | None = Field(description="salesforce or getresponse; None for a malformed message")
    reason: str
    error_class: str
    attempts: int
    created_at: datetime
    replayed_at: datetime | None
    discarded_at: datetime | None
    replayable: bool
    event: dict[str, Any] | None = Field(None, description="the stored ChangeEvent (only when one is read)")

    @classmethod
    def of(cls, row: DeadLetter, *, with_event: bool = False) -> DeadLetterRead:
        status: Literal["open", "replayed", "discarded"] = (
            "discarded" if row.discarded_at else "replayed" if row.replayed_at else "open"
        )
        source = row.event.get("source") if isinstance(row.event, dict) else None
        return cls(
            id=row.id,
            sync_id=row.sync_id,
            status=status,
            topic=row.topic,
            partition=row.partition,
            offset=row.offset,
            key=row.key,
            event_id=row.event_id,
            source=source if isinstance(source, str) else None,
            reason=row.reason,
            error_class=row.error_class,
            attempts=row.attempts,
            created_at=row.created_at,
            replayed_at=row.replayed_at,
            discarded_at=row.discarded_at,
            replayable=status == "open" and "raw" not in row.event,
            event=row.event if with_event else None,
        )


class DeadLetterPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [], "next_before_id": None}]}}

    items: list[DeadLetterRead]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; None: done")


def of_sync(sync: Sync) -> ColumnElement[bool]:
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


async def list_dead_letters(
    session: AsyncSession,
    *,
    sync_id: uuid.UUID | None = None,
    status: Literal["open", "replayed", "discarded", "all"] = "open",
    limit: int = 50,
    before_id: int | None = None,
) -> DeadLetterPage:
    statement = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(min(limit, MAX_PAGE) + 1)
    if sync_id is not None:
        sync = await session.get(Sync, sync_id)
        if sync is None:
            raise NotFound(f"no sync {sync_id}")
        statement = statement.where(of_sync(sync))
    if status == "open":
        statement = statement.where(DeadLetter.replayed_at.is_(None), DeadLetter.discarded_at.is_(None))
    elif status == "replayed":
        statement = statement.where(DeadLetter.replayed_at.is_not(None))
    elif status == "discarded":
        statement = statement.where(DeadLetter.discarded_at.is_not(None))
    if before_id is not None:
        statement = statement.where(DeadLetter.id < before_id)
    rows = list(await session.scalars(statement))
    page, more = rows[: min(limit, MAX_PAGE)], len(rows) > min(limit, MAX_PAGE)
    return DeadLetterPage(
        items=[DeadLetterRead.of(r) for r in page], next_before_id=page[-1].id if more and page else None
    )


async def _locked(session: AsyncSession, letter_id: int) -> DeadLetter:
    letter = await session.scalar(select(DeadLetter).where(DeadLetter.id == letter_id).with_for_update())
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    return letter


def _closed(letter: DeadLetter) -> None:
    if letter.replayed_at is not None:
        raise Conflict(f"dead letter {letter.id} was already replayed at {letter.replayed_at.isoformat()}")
    if letter.discarded_at is not None:
        raise Conflict(f"dead letter {letter.id} was discarded at {letter.discarded_at.isoformat()}")


async def get_dead_letter(session: AsyncSession, letter_id: int) -> DeadLetterRead:
    letter = await session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    return DeadLetterRead.of(letter, with_event=True)


async def replay(session: AsyncSession, bus: Bus, letter_id: int) -> DeadLetterRead:
    """Publishes the event again and marks the letter replayed, in one transaction that holds the
    letter's row lock, so two replays of one letter cannot both publish."""
    letter = await _locked(session, letter_id)
    _closed(letter)
    if "raw" in letter.event:
        raise Conflict(
            f"dead letter {letter_id} is a malformed message, not a ChangeEvent: there is nothing to "
            "replay; discard it"
        )
    try:
        event = ChangeEvent.model_validate(letter.event)
    except ValidationError as exc:
        problem = f"dead letter {letter_id} holds no valid ChangeEvent ({exc.error_count()} errors)"
        raise Conflict(problem) from exc
    topics = bus.topics
    topic = topics.salesforce_changes if event.source is Side.SALESFORCE else topics.getresponse_changes
    message = event_message(topic, event, headers={HEADER_REPLAYED_FROM: str(letter_id)})
    try:
        await bus.publish([message])
    except PublishFailed as exc:
        await session.rollback()
        raise ServiceUnavailable(f"{exc}; the dead letter stays open, replay it again") from exc
    letter.replayed_at = func.now()
    await session.commit()
    await session.refresh(letter)
    return DeadLetterRead.of(letter, with_event=True)


async def discard(session: AsyncSession, letter_id: int) -> DeadLetterRead:
    letter = await _locked(session, letter_id)
    _closed(letter)
    letter.discarded_at = func.now()
    await session.commit()
    await session.refresh(letter)
    return DeadLetterRead.of(letter, with_event=True)
