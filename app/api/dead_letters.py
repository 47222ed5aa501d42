"""`/v1/dead-letters`: events that failed for good; list, read, replay or discard them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import Admin, BusDep, Reader, SessionDep
from app.control import audit, dead_letters
from app.control.dead_letters import DeadLetterPage, DeadLetterRead

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


@router.get(
    "",
    summary="List dead letters, newest first (paged with before_id)",
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def list_dead_letters(
    _: Reader,
    session: SessionDep,
    sync_id: Annotated[uuid.UUID | None, Query(description="only those of this sync")] = None,
    status: Annotated[Literal["open", "replayed", "discarded", "all"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=dead_letters.MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(description="next_before_id of the previous page")] = None,
) -> DeadLetterPage:
    with control_errors():
        return await dead_letters.list_dead_letters(
            session, sync_id=sync_id, status=status, limit=limit, before_id=before_id
        )


@router.get(
    "/{letter_id}",
    summary="Read one dead letter with its event",
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def get_dead_letter(_: Reader, letter_id: int, session: SessionDep) -> DeadLetterRead:
    with control_errors():
        return await dead_letters.get_dead_letter(session, letter_id)


@router.post(
    "/{letter_id}/replay",
    summary="Publish the event again to the topic it came from (same event id), and mark it replayed",
    responses={**AUTH_RESPONSES, **error_responses(404, 409, 503)},
)
async def replay(caller: Admin, letter_id: int, session: SessionDep, bus: BusDep) -> DeadLetterRead:
    with control_errors():
        replayed = await dead_letters.replay(session, bus, letter_id)
    await audit.record(session, caller.actor, action="dead_letter.replay", target_kind="dead_letter",
                       target_id=letter_id, change={"event_id": replayed.event_id, "topic": replayed.topic})
    return replayed


@router.delete(
    "/{letter_id}",
    summary="Discard a dead letter (kept, marked discarded)",
    responses={**AUTH_RESPONSES, **error_responses(404, 409)},
)
async def discard(caller: Admin, letter_id: int, session: SessionDep) -> DeadLetterRead:
    with control_errors():
        discarded = await dead_letters.discard(session, letter_id)
    await audit.record(session, caller.actor, action="dead_letter.discard", target_kind="dead_letter",
                       target_id=letter_id, change={"event_id": discarded.event_id})
    return discarded
