"""First syncs and resyncs: start one, then follow it (the work runs in the `resync` consumer)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.auth import AUTH_RESPONSES
from app.api.deps import Admin, Reader, ResourcesDep, ResyncWriter
from app.control import audit
from app.control.jobs import Job, JobRefused, job_view, start_job
from app.control.tokens import Scope
from app.db import jobs
from app.domain.jobs import JobKind, JobState, ResyncMode, ResyncScope

router = APIRouter(prefix="/v1", tags=["jobs"], responses=AUTH_RESPONSES)

FINISHED = {JobState.DONE, JobState.FAILED, JobState.CANCELLED}


class ResyncRequest(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "sync_id": "0ea56b1a-520e-40c1-9f9c-5384675643ac",
                    "scope": {"emails": ["pat@example.com"]},
                    "mode": "reconcile",
                    "dry_run": False,
                },
                {
                    "sync_id": "0ea56b1a-520e-40c1-9f9c-5384675643ac",
                    "scope": {"whole_sync": True},
                    "mode": "salesforce_wins",
                    "dry_run": True,
                },
            ]
        }
    }

    sync_id: uuid.UUID
    scope: ResyncScope
    mode: ResyncMode = ResyncMode.RECONCILE
    dry_run: bool = False


async def _job_or_404(resources: Any, job_id: uuid.UUID, kind: JobKind | None = None) -> dict[str, Any]:
    async with resources.sessions() as session:
        job = await jobs.get_job(session, job_id)
    if job is None or (kind is not None and job.kind != kind.value):
        raise HTTPException(404, f"no such job: {job_id}")
    return job_view(job)


async def _started(resources: Any, job_id: uuid.UUID, location: str, wait: float) -> Response:
    deadline = time.monotonic() + wait
    view = await _job_or_404(resources, job_id)
    while view["state"] not in FINISHED and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        view = await _job_or_404(resources, job_id)
    status = 200 if view["state"] in FINISHED else 202
    return JSONResponse(view, status_code=status, headers={"Location": location})


def _refused(exc: JobRefused) -> HTTPException:
    return HTTPException(exc.status, exc.message)


@router.post(
    "/syncs/{sync_id}/first-sync",
    status_code=202,
    response_model=Job,
    summary="Start the first sync (or, with dry_run, only its report)",
    operation_id="startFirstSync",
    responses={200: {"description": "finished within `wait` seconds"}, 404: {}, 409: {}},
)
async def first_sync(
    sync_id: uuid.UUID,
    resources: ResourcesDep,
    caller: Admin,
    dry_run: Annotated[
        bool, Query(description="report matches, duplicates and conflicts; write nothing")
    ] = False,
    wait: Annotated[float, Query(ge=0, le=120, description="seconds to wait for the job to finish")] = 0,
) -> Response:
    try:
        job_id = await start_job(
            resources.sessions,
            resources.bus.topics,
            sync_id=sync_id,
            kind=JobKind.FIRST_SYNC,
            dry_run=dry_run,
            nudge=resources.relay.nudge,
        )
    except JobRefused as exc:
        raise _refused(exc) from exc
    async with resources.sessions() as session:
        await audit.record(
            session, caller.actor, action="job.first_sync", target_kind="sync", target_id=sync_id,
            change={"job_id": str(job_id), "dry_run": dry_run},
        )
    return await _started(resources, job_id, f"/v1/syncs/{sync_id}/first-sync/{job_id}", wait)


@router.get(
    "/syncs/{sync_id}/first-sync/{job_id}",
    response_model=Job,
    summary="A first sync: state, counts, report",
    operation_id="getFirstSync",
)
async def first_sync_job(
    sync_id: uuid.UUID, job_id: uuid.UUID, resources: ResourcesDep, _caller: Reader
) -> Any:
    view = await _job_or_404(resources, job_id, JobKind.FIRST_SYNC)
    if view["sync_id"] != str(sync_id):
        raise HTTPException(404, f"no such job: {job_id}")
    return view


@router.post(
    "/resync",
    status_code=202,
    response_model=Job,
    summary="Resync some people, or a whole sync",
    operation_id="startResync",
    description=(
        "Needs resync:write; a whole sync in salesforce_wins or getresponse_wins mode (not a dry "
        "run) overwrites one system with the other and needs syncs:admin."
    ),
    responses={200: {"description": "finished within `wait` seconds"}, 404: {}, 409: {}},
)
async def resync(
    body: ResyncRequest,
    resources: ResourcesDep,
    caller: ResyncWriter,
    wait: Annotated[float, Query(ge=0, le=120, description="seconds to wait for the job to finish")] = 0,
) -> Response:
    if overwrites_a_whole_system(body) and Scope.SYNCS_ADMIN not in caller.scopes:
        raise HTTPException(
            403,
            f"a {body.mode.value} resync of a whole sync overwrites one system with the other: it needs the "
            "scope syncs:admin (resync:write may reconcile, resync selected people, or dry-run it)",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="syncs:admin"'},
        )
    try:
        job_id = await start_job(
            resources.sessions,
            resources.bus.topics,
            sync_id=body.sync_id,
            kind=JobKind.RESYNC,
            dry_run=body.dry_run,
            mode=body.mode,
            scope=body.scope,
            nudge=resources.relay.nudge,
        )
    except JobRefused as exc:
        raise _refused(exc) from exc
    async with resources.sessions() as session:
        await audit.record(
            session, caller.actor, action="job.resync", target_kind="sync", target_id=body.sync_id,
            change={"job_id": str(job_id), **body.model_dump(mode="json", exclude={"sync_id"})},
        )
    return await _started(resources, job_id, f"/v1/resync/{job_id}", wait)


def overwrites_a_whole_system(body: ResyncRequest) -> bool:
    """A whole sync made to match one side (a dry run writes nothing)."""
    return body.scope.whole_sync and body.mode is not ResyncMode.RECONCILE and not body.dry_run


@router.get(
    "/resync/{job_id}",
    response_model=Job,
    summary="A resync: state, counts, errors",
    operation_id="getResync",
)
async def resync_job(job_id: uuid.UUID, resources: ResourcesDep, _caller: Reader) -> Any:
    return await _job_or_404(resources, job_id, JobKind.RESYNC)


@router.get(
    "/jobs/{job_id}", response_model=Job, summary="Any job: state, progress, counts", operation_id="getJob"
)
async def get_job(job_id: uuid.UUID, resources: ResourcesDep, _caller: Reader) -> Any:
    return await _job_or_404(resources, job_id)
