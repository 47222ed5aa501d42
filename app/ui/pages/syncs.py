"""The Syncs table with each sync's actions, a sync's detail page, and its dead letters."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import ResourcesDep, SessionDep, UiAdminForm, UiResyncForm, UiViewer, VendorsDep
from app.control import dead_letters, decisions, syncs
from app.control import status as sync_status
from app.control.errors import ControlError
from app.control.jobs import JobRefused, start_job
from app.control.status import SyncStatus
from app.domain.jobs import JobKind, ResyncMode, ResyncScope
from app.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)
Action = Literal["cancel", "resync"]

ACTIONS: dict[str, tuple[str, str, str]] = {
    # action: (button, what happens, scope it needs)
    "resync": (
        "Resync every person",
        "Every linked person is read again from both systems and merged field by field against what both "
        "sides last agreed on; only values that differ are written. Live changes keep flowing meanwhile.",
        "resync:write",
    ),
    "cancel": (
        "Cancel the sync",
        "Changes stop travelling between the list and Salesforce for good; this sync cannot be changed "
        "again (create a new one for the list). Kept: the links between people, their decision logs and "
        "dead letters.",
        "syncs:admin",
    ),
}


@router.get("/syncs", response_class=HTMLResponse)
async def syncs_table(
    request: Request, viewer: UiViewer, session: SessionDep, vendors: VendorsDep, resources: ResourcesDep
) -> HTMLResponse:
    rows: list[tuple[syncs.SyncRead, SyncStatus | None]] = []
    for sync in await syncs.list_syncs(session):
        found = None
        if sync.state != "cancelled":
            found = await sync_status.sync_status(session, vendors, resources.settings, sync.id)
        rows.append((sync, found))
    rows.sort(key=lambda row: (row[0].state == "cancelled", row[0].name.lower()))
    return render(request, "syncs.html", viewer, section="syncs", rows=rows, actions=ACTIONS)


@router.get("/syncs/{sync_id}", response_class=HTMLResponse)
async def sync_detail(
    request: Request,
    sync_id: uuid.UUID,
    viewer: UiViewer,
    session: SessionDep,
    vendors: VendorsDep,
    resources: ResourcesDep,
    message: str | None = None,
) -> HTMLResponse:
    try:
        sync = await syncs.get_sync(session, sync_id)
    except ControlError as exc:
        return render(request, "refused.html", viewer, status_code=exc.status, error=exc.message)
    found = await sync_status.sync_status(session, vendors, resources.settings, sync_id)
    letters = await dead_letters.list_dead_letters(session, sync_id=sync_id, status="open", limit=100)
    causes = Counter((letter.error_class, letter.reason) for letter in letters.items)
    people = await decisions.find_links(session, sync_id=sync_id, limit=20)
    return render(
        request,
        "sync_detail.html",
        viewer,
        section="syncs",
        sync=sync,
        status=found,
        letters=letters.items,
        causes=causes.most_common(),
        people=people,
        actions=ACTIONS,
        message=message,
    )


@router.get("/syncs/{sync_id}/{action}", response_class=HTMLResponse)
async def confirm_action(
    request: Request, sync_id: uuid.UUID, action: Action, viewer: UiViewer
) -> HTMLResponse:
    label, explanation, needs = ACTIONS[action]
    return render(
        request,
        "confirm.html",
        viewer,
        section="syncs",
        heading=f"{label}?",
        explanation=explanation,
        action=f"/ui/syncs/{sync_id}/{action}",
        confirm_label=label,
        back=f"/ui/syncs/{sync_id}",
        needs=needs,
        danger=action == "cancel",
    )


def _back(sync_id: uuid.UUID, message: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/syncs/{sync_id}?{urlencode({'message': message})}", status_code=303)


@router.post("/syncs/{sync_id}/cancel")
async def cancel(sync_id: uuid.UUID, viewer: UiAdminForm, session: SessionDep) -> Response:
    try:
        await syncs.cancel_sync(session, sync_id)
    except ControlError as exc:
        return _back(sync_id, exc.message)
    return _back(sync_id, "The sync is cancelled; its links are kept.")


@router.post("/syncs/{sync_id}/resync")
async def resync(sync_id: uuid.UUID, viewer: UiResyncForm, resources: ResourcesDep) -> Response:
    try:
        await start_job(
            resources.sessions,
            resources.bus.topics,
            sync_id=sync_id,
            kind=JobKind.RESYNC,
            dry_run=False,
            mode=ResyncMode.RECONCILE,
            scope=ResyncScope(whole_sync=True),
            nudge=resources.relay.nudge,
        )
    except JobRefused as exc:
        return _back(sync_id, exc.message)
    return _back(sync_id, "A resync of every person started.")


@router.post("/dead-letters/{letter_id}/{what}")
async def dead_letter_action(
    letter_id: int,
    what: Literal["replay", "discard"],
    viewer: UiAdminForm,
    session: SessionDep,
    resources: ResourcesDep,
    sync_id: Annotated[uuid.UUID, Form()],
) -> Response:
    try:
        if what == "replay":
            await dead_letters.replay(session, resources.bus, letter_id)
        else:
            await dead_letters.discard(session, letter_id)
    except ControlError as exc:
        return _back(sync_id, f"Dead letter {letter_id}: {exc.message}")
    done = "replayed: its change is processed again" if what == "replay" else "discarded"
    return _back(sync_id, f"Dead letter {letter_id} {done}.")


@router.post("/syncs/{sync_id}/dead-letters/{what}")
async def dead_letters_matching(
    sync_id: uuid.UUID,
    what: Literal["replay", "discard"],
    viewer: UiAdminForm,
    session: SessionDep,
    resources: ResourcesDep,
    reason: Annotated[str, Form()],
) -> Response:
    """Every open dead letter of the sync with this reason, one by one through the same service."""
    page = await dead_letters.list_dead_letters(
        session, sync_id=sync_id, status="open", limit=dead_letters.MAX_PAGE
    )
    done, failed = 0, []
    for letter in page.items:
        if letter.reason != reason:
            continue
        try:
            if what == "replay":
                await dead_letters.replay(session, resources.bus, letter.id)
            else:
                await dead_letters.discard(session, letter.id)
            done += 1
        except ControlError as exc:
            failed.append(f"{letter.id}: {exc.message}")
    verb = "replayed" if what == "replay" else "discarded"
    message = f"{done} dead letter{'s' if done != 1 else ''} {verb}."
    if failed:
        message += " Not done: " + "; ".join(failed)
    return _back(sync_id, message)
