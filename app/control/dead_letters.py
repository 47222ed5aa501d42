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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus, PublishFailed, event_message
from app.control.errors import Conflict, NotFound, ServiceUnavailable
from app.db import dead_letters, syncs
from app.db.models import DeadLetter, DeadLetterStatus
from app.domain.events import ChangeEvent
from app.domain.sides import Side

MAX_PAGE = 200
HEADER_REPLAYED_FROM = "sfgr-replayed-from-dead-letter"
_WITH_EVENT = "with_event"


# A dead letter's row, with the status, source and replayability that follow from it (properties
# of `DeadLetter`), and its event only when one letter is read (`with_event`). A comment, not a
# docstring: the docstring would become the schema's description in the OpenAPI document.
class DeadLetterRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
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
        },
    )

    id: int
    sync_id: uuid.UUID | None
    status: DeadLetterStatus
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

    @field_validator("event")
    @classmethod
    def _only_when_asked(cls, event: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        return event if info.context and info.context.get(_WITH_EVENT) else None

    @classmethod
    def with_event(cls, row: DeadLetter) -> DeadLetterRead:
        return cls.model_validate(row, context={_WITH_EVENT: True})


class DeadLetterPage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"items": [], "next_before_id": None}]}}

    items: list[DeadLetterRead]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; None: done")


async def list_dead_letters(
    session: AsyncSession,
    *,
    sync_id: uuid.UUID | None = None,
    status: Literal["open", "replayed", "discarded", "all"] = "open",
    limit: int = 50,
    before_id: int | None = None,
) -> DeadLetterPage:
    sync = None
    if sync_id is not None:
        sync = await syncs.sync_by_id(session, sync_id)
        if sync is None:
            raise NotFound(f"no sync {sync_id}")
    rows = await dead_letters.newest_dead_letters(
        session, limit=min(limit, MAX_PAGE) + 1, sync=sync, status=status, before_id=before_id
    )
    page, more = rows[: min(limit, MAX_PAGE)], len(rows) > min(limit, MAX_PAGE)
    return DeadLetterPage(
        items=[DeadLetterRead.model_validate(r) for r in page],
        next_before_id=page[-1].id if more and page else None,
    )


async def _locked(session: AsyncSession, letter_id: int) -> DeadLetter:
    letter = await dead_letters.lock_dead_letter(session, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    return letter


def _closed(letter: DeadLetter) -> None:
    if letter.replayed_at is not None:
        raise Conflict(f"dead letter {letter.id} was already replayed at {letter.replayed_at.isoformat()}")
    if letter.discarded_at is not None:
        raise Conflict(f"dead letter {letter.id} was discarded at {letter.discarded_at.isoformat()}")


async def get_dead_letter(session: AsyncSession, letter_id: int) -> DeadLetterRead:
    letter = await dead_letters.dead_letter_by_id(session, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}")
    return DeadLetterRead.with_event(letter)


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
    return DeadLetterRead.with_event(letter)


async def discard(session: AsyncSession, letter_id: int) -> DeadLetterRead:
    letter = await _locked(session, letter_id)
    _closed(letter)
    letter.discarded_at = func.now()
    await session.commit()
    await session.refresh(letter)
    return DeadLetterRead.with_event(letter)
