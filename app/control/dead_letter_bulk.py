"""Replaying or discarding every open dead letter that matches a filter (a sync, an error class,
words of the reason, a time range), in one transaction: the replayed events go through the outbox
(app/outbox.py) beside the marks, so either all of them are replayed or none is, and Kafka being
down only delays them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Topics, event_message
from app.control.dead_letters import HEADER_REPLAYED_FROM
from app.control.errors import NotFound
from app.db import dead_letters, outbox, syncs
from app.db.models import DeadLetter
from app.domain.events import ChangeEvent
from app.domain.sides import Side

MAX_BULK = 10_000


class DeadLetterFilter(BaseModel):
    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {"sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50", "reason_contains": "Custom field"}
            ]
        },
    }

    sync_id: uuid.UUID | None = None
    error_class: str | None = Field(None, max_length=64, description="e.g. Permanent, MissingEmail")
    reason_contains: str | None = Field(None, min_length=1, max_length=500, description="case-insensitive")
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(1000, ge=1, le=MAX_BULK, description="at most this many, oldest first")

    @model_validator(mode="after")
    def _a_range_that_can_match(self) -> DeadLetterFilter:
        if self.created_after and self.created_before and self.created_after >= self.created_before:
            raise ValueError("created_after must be before created_before")
        return self


class BulkResult(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"matched": 3, "done": 2, "skipped": [17], "ids": [12, 15]}]}
    }

    matched: int = Field(description="open dead letters that matched")
    done: int = Field(description="replayed (or discarded)")
    skipped: list[int] = Field(description="ids left open: malformed messages, with no event to replay")
    ids: list[int] = Field(description="the dead letters replayed (or discarded)")


async def _matching(session: AsyncSession, wanted: DeadLetterFilter) -> list[DeadLetter]:
    sync = None
    if wanted.sync_id is not None:
        sync = await syncs.sync_by_id(session, wanted.sync_id)
        if sync is None:
            raise NotFound(f"no sync {wanted.sync_id}")
    return await dead_letters.lock_open_matching(
        session,
        sync=sync,
        error_class=wanted.error_class,
        reason_contains=wanted.reason_contains,
        created_after=wanted.created_after,
        created_before=wanted.created_before,
        limit=wanted.limit,
    )


async def replay_matching(session: AsyncSession, topics: Topics, wanted: DeadLetterFilter) -> BulkResult:
    letters = await _matching(session, wanted)
    done: list[int] = []
    skipped: list[int] = []
    for letter in letters:
        try:
            event = ChangeEvent.model_validate(letter.event)
        except ValidationError:
            skipped.append(letter.id)  # a malformed message: discard it instead
            continue
        topic = topics.salesforce_changes if event.source is Side.SALESFORCE else topics.getresponse_changes
        await outbox.enqueue(
            session, event_message(topic, event, headers={HEADER_REPLAYED_FROM: str(letter.id)})
        )
        letter.replayed_at = func.now()
        done.append(letter.id)
    await session.commit()
    return BulkResult(matched=len(letters), done=len(done), skipped=skipped, ids=done)


async def discard_matching(session: AsyncSession, wanted: DeadLetterFilter) -> BulkResult:
    letters = await _matching(session, wanted)
    for letter in letters:
        letter.discarded_at = func.now()
    await session.commit()
    ids = [letter.id for letter in letters]
    return BulkResult(matched=len(ids), done=len(ids), skipped=[], ids=ids)
