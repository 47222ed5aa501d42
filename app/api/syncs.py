"""`/v1/syncs`: sync configurations, one per GetResponse list, and their status."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import Admin, Reader, ResourcesDep, SessionDep, VendorsDep
from app.control import audit, syncs
from app.control import status as sync_status
from app.control.status import SyncStatus
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
)
async def create_sync(caller: Admin, body: SyncCreate, session: SessionDep, vendors: VendorsDep) -> SyncRead:
    with control_errors():
        created = await syncs.create_sync(session, vendors, body)
    await audit.record(session, caller.actor, action="sync.create", target_kind="sync", target_id=created.id,
                       change=body.model_dump(mode="json"))
    return created


@router.get("", summary="List syncs", responses=AUTH_RESPONSES)
async def list_syncs(_: Reader, session: SessionDep) -> list[SyncRead]:
    return await syncs.list_syncs(session)


@router.get("/{sync_id}", summary="Read one sync", responses={**AUTH_RESPONSES, **error_responses(404)})
async def get_sync(_: Reader, sync_id: uuid.UUID, session: SessionDep) -> SyncRead:
    with control_errors():
        return await syncs.get_sync(session, sync_id)


@router.patch(
    "/{sync_id}",
    summary="Change a sync; the result is validated like a new one",
    responses={**AUTH_RESPONSES, **error_responses(404, 409, 422, 502)},
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
)
async def cancel_sync(caller: Admin, sync_id: uuid.UUID, session: SessionDep) -> SyncRead:
    with control_errors():
        cancelled = await syncs.cancel_sync(session, sync_id)
    await audit.record(session, caller.actor, action="sync.cancel", target_kind="sync", target_id=sync_id)
    return cancelled


@router.get(
    "/{sync_id}/status",
    summary="State, link counts, dead letters, last event and consumer lag per direction, API usage",
    description=(
        "Consumer lag is per consumer group (shared by all syncs). Tansu, the broker of the tests "
        "and the demo, reports end offsets wrongly, so lag there is meaningless."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def get_status(
    _: Reader, sync_id: uuid.UUID, session: SessionDep, vendors: VendorsDep, resources: ResourcesDep
) -> SyncStatus:
    with control_errors():
        return await sync_status.sync_status(session, vendors, resources.settings, sync_id)
