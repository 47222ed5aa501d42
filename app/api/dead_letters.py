"""`/v1/dead-letters`: events that failed for good; list, read, replay or discard them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import Admin, BusDep, Caller, Reader, ResourcesDep, SessionDep
from app.control import audit, dead_letter_bulk, dead_letters
from app.control.dead_letter_bulk import BulkResult, DeadLetterFilter
from app.control.dead_letters import DeadLetterPage, DeadLetterRead

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


@router.post(
    "/replay",
    summary="Replay every open dead letter matching the filter, in one transaction, oldest first",
    description=(
        "Each event goes back to the topic it came from (same event id) through the outbox, and "
        "its dead letter is marked replayed, all or nothing. Malformed messages are left open "
        "(`skipped`): discard them."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404, 422)},
    operation_id="replayDeadLetters",
)
async def replay_matching(
    caller: Admin, wanted: DeadLetterFilter, session: SessionDep, resources: ResourcesDep
) -> BulkResult:
    with control_errors():
        result = await dead_letter_bulk.replay_matching(session, resources.bus.topics, wanted)
    resources.relay.nudge()
    await _audit_bulk(session, caller, "dead_letter.replay_matching", wanted, result)
    return result


@router.post(
    "/discard",
    summary="Discard every open dead letter matching the filter (kept, marked discarded)",
    responses={**AUTH_RESPONSES, **error_responses(404, 422)},
    operation_id="discardDeadLetters",
)
async def discard_matching(caller: Admin, wanted: DeadLetterFilter, session: SessionDep) -> BulkResult:
    with control_errors():
        result = await dead_letter_bulk.discard_matching(session, wanted)
    await _audit_bulk(session, caller, "dead_letter.discard_matching", wanted, result)
    return result


async def _audit_bulk(
    session: AsyncSession, caller: Caller, action: str, wanted: DeadLetterFilter, result: BulkResult
) -> None:
    change = {"filter": wanted.model_dump(mode="json", exclude_none=True), "ids": result.ids}
    await audit.record(
        session, caller.actor, action=action, target_kind="dead_letter", target_id=None, change=change
    )


@router.get(
    "",
    summary="List dead letters, newest first (paged with before_id)",
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="listDeadLetters",
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
    operation_id="replayDeadLetter",
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
    operation_id="discardDeadLetter",
)
async def discard(caller: Admin, letter_id: int, session: SessionDep) -> DeadLetterRead:
    with control_errors():
        discarded = await dead_letters.discard(session, letter_id)
    await audit.record(session, caller.actor, action="dead_letter.discard", target_kind="dead_letter",
                       target_id=letter_id, change={"event_id": discarded.event_id})
    return discarded
