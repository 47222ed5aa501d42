"""`/v1/syncs`: sync configurations, one per GetResponse list, and their status."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import Admin, Reader, ResourcesDep, SessionDep, VendorsDep
from app.control import audit, audit_entries, decisions, pausing, sync_health, syncs
from app.control import status as sync_status
from app.control.decisions import SyncDecisionPage
from app.control.jobs import Job, sync_jobs
from app.control.pausing import SyncResumed
from app.control.status import SyncStatus
from app.control.sync_health import SyncErrors
from app.control.syncs import SyncCreate, SyncRead, SyncUpdate

router = APIRouter(prefix="/v1/syncs", tags=["syncs"])


@router.post(
    "",
    summary="Create a sync for a GetResponse list, checked against both systems' live metadata",
    description=(
        "Validated against Salesforce describe, GetResponse lists and custom fields, and (with a "
        "`soql_filter`) one query per object. Every problem is answered at once as a 422, each "
        "with its field path; nothing is stored. Active at once unless `first_sync` is true "
        "(then draft, until POST /v1/syncs/{id}/first-sync)."
    ),
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH_RESPONSES, **error_responses(409, 422, 502)},
    operation_id="createSync",
)
async def create_sync(caller: Admin, body: SyncCreate, session: SessionDep, vendors: VendorsDep) -> SyncRead:
    with control_errors():
        created = await syncs.create_sync(session, vendors, body)
    await audit_entries.sync_created(session, caller.actor, created.id, body)
    return created


@router.get("", summary="List syncs", responses=AUTH_RESPONSES, operation_id="listSyncs")
async def list_syncs(_: Reader, session: SessionDep) -> list[SyncRead]:
    return await syncs.list_syncs(session)


@router.get(
    "/{sync_id}",
    summary="Read one sync",
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="getSync",
)
async def get_sync(_: Reader, sync_id: uuid.UUID, session: SessionDep) -> SyncRead:
    with control_errors():
        return await syncs.get_sync(session, sync_id)


@router.patch(
    "/{sync_id}",
    summary="Change a sync; the result is validated like a new one",
    responses={**AUTH_RESPONSES, **error_responses(404, 409, 422, 502)},
    operation_id="updateSync",
)
async def update_sync(
    caller: Admin, sync_id: uuid.UUID, body: SyncUpdate, session: SessionDep, vendors: VendorsDep
) -> SyncRead:
    with control_errors():
        updated = await syncs.update_sync(session, vendors, sync_id, body)
    await audit.record(session, caller.actor, action="sync.update", target_kind="sync", target_id=sync_id,
                       change=body.model_dump(mode="json", exclude_unset=True))
    return updated


@router.post(
    "/{sync_id}/cancel",
    summary="Cancel a sync: live changes are ignored from then on; links are kept",
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="cancelSync",
)
async def cancel_sync(caller: Admin, sync_id: uuid.UUID, session: SessionDep) -> SyncRead:
    with control_errors():
        cancelled = await syncs.cancel_sync(session, sync_id)
    await audit_entries.sync_cancelled(session, caller.actor, sync_id)
    return cancelled


@router.get(
    "/{sync_id}/status",
    summary="State, link counts, dead letters, last event and consumer lag per direction, API usage",
    description=(
        "Consumer lag is per consumer group (shared by all syncs). Tansu, the broker of the tests "
        "and the demo, reports end offsets wrongly, so lag there is meaningless."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="getSyncStatus",
)
async def get_status(
    _: Reader, sync_id: uuid.UUID, session: SessionDep, vendors: VendorsDep, resources: ResourcesDep
) -> SyncStatus:
    with control_errors():
        return await sync_status.sync_status(session, vendors, resources.settings, sync_id)


@router.post(
    "/{sync_id}/pause",
    summary="Pause a sync: its live changes are kept, not applied, until it is resumed",
    description=(
        "Takes effect within 2 s (the consumers' view of the syncs). Changes that come meanwhile "
        "are kept in Postgres (not dropped, not dead-lettered); the poller does not poll the sync. "
        "Idempotent; 409 for a draft or cancelled sync."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404, 409)},
    operation_id="pauseSync",
)
async def pause_sync(caller: Admin, sync_id: uuid.UUID, session: SessionDep) -> SyncRead:
    with control_errors():
        paused = await pausing.pause_sync(session, sync_id)
    await audit_entries.sync_paused(session, caller.actor, sync_id)
    return paused


@router.post(
    "/{sync_id}/resume",
    summary="Resume a paused sync: the changes kept meanwhile are applied, oldest first",
    description=(
        "The kept changes go back on Kafka through the outbox (in the order they came); the poller "
        "reads on from the sync's watermark. Idempotent on a sync that is not paused."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="resumeSync",
)
async def resume_sync(
    caller: Admin, sync_id: uuid.UUID, session: SessionDep, resources: ResourcesDep
) -> SyncResumed:
    with control_errors():
        resumed = await pausing.resume_sync(session, resources.bus.topics, sync_id)
    resources.relay.nudge()
    await audit_entries.sync_resumed(session, caller.actor, resumed)
    return resumed


@router.get(
    "/{sync_id}/jobs",
    summary="The sync's jobs, newest first: first syncs, resyncs and reconciles with their progress",
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="listSyncJobs",
)
async def list_sync_jobs(
    _: Reader,
    sync_id: uuid.UUID,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[Job]:
    with control_errors():
        return await sync_jobs(session, sync_id, limit=limit)


@router.get(
    "/{sync_id}/decisions",
    summary="The sync's decisions about everyone, newest first (paged with before_id)",
    description=(
        "Each with the person's email and link id; one person's whole log: "
        "GET /v1/contacts/{link_id}/decisions."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="listSyncDecisions",
)
async def list_sync_decisions(
    _: Reader,
    sync_id: uuid.UUID,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=decisions.MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(description="next_before_id of the previous page")] = None,
) -> SyncDecisionPage:
    with control_errors():
        return await decisions.sync_decisions(session, sync_id, limit=limit, before_id=before_id)


@router.get(
    "/{sync_id}/errors",
    summary="Sync health: the last day's dead letters grouped by cause, each with a fix hint",
    description=(
        "Groups by error class and vendor reason (ids, emails and numbers generalised), largest "
        "first; each group has a count, an example, a hint and the filter that replays it with "
        "POST /v1/dead-letters/replay once the cause is fixed."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
    operation_id="getSyncErrors",
)
async def get_sync_errors(_: Reader, sync_id: uuid.UUID, session: SessionDep) -> SyncErrors:
    with control_errors():
        return await sync_health.sync_errors(session, sync_id)
