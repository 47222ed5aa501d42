"""The New sync wizard's third step: the dry-run report, then Synchronize, each job followed live
(a little JavaScript polls its JSON; without it the page refreshes itself) until it is done."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.api.deps import ResourcesDep, SessionDep, UiAdminForm, UiViewer
from app.control import syncs
from app.control.errors import ControlError
from app.control.jobs import JobRefused, job_view, start_job
from app.db import jobs
from app.domain.jobs import JobKind, JobState
from app.ui.templating import render

router = APIRouter(prefix="/ui/syncs", include_in_schema=False)
FINISHED = {JobState.DONE, JobState.FAILED, JobState.CANCELLED}


@router.get("/{sync_id}/first-sync", response_class=HTMLResponse)
async def step_three(
    request: Request, sync_id: uuid.UUID, viewer: UiViewer, session: SessionDep
) -> HTMLResponse:
    try:
        sync = await syncs.get_sync(session, sync_id)
    except ControlError as exc:
        return render(request, "refused.html", viewer, status_code=exc.status, error=exc.message)
    return render(request, "wizard_3.html", viewer, section="new", sync=sync, job=None)


@router.post("/{sync_id}/first-sync/{how}")
async def start_first_sync(
    sync_id: uuid.UUID,
    how: str,
    viewer: UiAdminForm,
    resources: ResourcesDep,
    request: Request,
    session: SessionDep,
) -> Response:
    try:
        job_id = await start_job(
            resources.sessions,
            resources.bus.topics,
            sync_id=sync_id,
            kind=JobKind.FIRST_SYNC,
            dry_run=how != "run",
            nudge=resources.relay.nudge,
        )
    except JobRefused as exc:
        sync = await syncs.get_sync(session, sync_id)
        return render(
            request,
            "wizard_3.html",
            viewer,
            status_code=exc.status,
            section="new",
            sync=sync,
            job=None,
            error=exc.message,
        )
    return RedirectResponse(f"/ui/syncs/{sync_id}/jobs/{job_id}", status_code=303)


async def _job(resources: Any, sync_id: uuid.UUID, job_id: uuid.UUID) -> dict[str, Any] | None:
    async with resources.sessions() as session:
        found = await jobs.get_job(session, job_id)
    if found is None or found.sync_id != sync_id:
        return None
    return job_view(found)


def _counts_text(view: dict[str, Any]) -> str:
    return (
        ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in sorted((view.get("counts") or {}).items())
        )
        or "starting"
    )


@router.get("/{sync_id}/jobs/{job_id}.json")
async def job_progress(
    sync_id: uuid.UUID, job_id: uuid.UUID, viewer: UiViewer, resources: ResourcesDep
) -> JSONResponse:
    view = await _job(resources, sync_id, job_id)
    if view is None:
        return JSONResponse({"detail": f"no job {job_id} of sync {sync_id}"}, status_code=404)
    return JSONResponse(
        {
            "state": view["state"],
            "finished": JobState(view["state"]) in FINISHED,
            "counts_text": _counts_text(view),
        }
    )


@router.get("/{sync_id}/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(
    request: Request,
    sync_id: uuid.UUID,
    job_id: uuid.UUID,
    viewer: UiViewer,
    session: SessionDep,
    resources: ResourcesDep,
) -> HTMLResponse:
    view = await _job(resources, sync_id, job_id)
    if view is None:
        return render(
            request, "refused.html", viewer, status_code=404, error=f"No job {job_id} of sync {sync_id}."
        )
    sync = await syncs.get_sync(session, sync_id)
    finished = JobState(view["state"]) in FINISHED
    return render(
        request,
        "wizard_3.html",
        viewer,
        section="new",
        sync=sync,
        job=view,
        finished=finished,
        counts_text=_counts_text(view),
    )
