"""The Syncs table with each sync's actions, a sync's detail page, and its dead letters."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import ResourcesDep, SessionDep, UiAdminForm, UiResyncForm, UiViewer, VendorsDep
from app.control import audit_entries, dead_letter_bulk, dead_letters, decisions, pausing, syncs
from app.control import status as sync_status
from app.control.dead_letter_bulk import DeadLetterFilter
from app.control.errors import ControlError
from app.control.jobs import JobRefused, start_job, sync_jobs
from app.control.status import SyncStatus
from app.domain.jobs import JobKind, ResyncMode, ResyncScope
from app.domain.states import SyncState
from app.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)
Action = Literal["pause", "resume", "resync", "cancel"]
JOBS_SHOWN = 20
DECISIONS_SHOWN = 25


@dataclass(frozen=True)
class SyncAction:
    label: str
    explanation: str  # what happens, on the confirmation page
    needs: str  # the scope
    offered_in: frozenset[SyncState]


_NOT_CANCELLED = frozenset(SyncState) - {SyncState.CANCELLED}
ACTIONS: dict[str, SyncAction] = {
    "pause": SyncAction(
        "Pause the sync",
        "Changes stop being applied either way, and Salesforce is not polled for this sync. Changes made "
        "meanwhile in either system are kept, not lost: on resume they are applied in the order they came.",
        "syncs:admin",
        frozenset(s for s in SyncState if s.live),
    ),
    "resume": SyncAction(
        "Resume the sync",
        "The changes kept while the sync was paused are applied, oldest first, and live changes flow "
        "again from where the sync stopped.",
        "syncs:admin",
        frozenset({SyncState.PAUSED}),
    ),
    "resync": SyncAction(
        "Resync every person",
        "Every linked person is read again from both systems and merged field by field against what both "
        "sides last agreed on; only values that differ are written. Live changes keep flowing meanwhile.",
        "resync:write",
        _NOT_CANCELLED,
    ),
    "cancel": SyncAction(
        "Cancel the sync",
        "Changes stop travelling between the list and Salesforce for good; this sync cannot be changed "
        "again (create a new one for the list). Kept: the links between people, their decision logs and "
        "dead letters.",
        "syncs:admin",
        _NOT_CANCELLED,
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
    jobs = await sync_jobs(session, sync_id, limit=JOBS_SHOWN)
    recent = await decisions.sync_decisions(session, sync_id, limit=DECISIONS_SHOWN)
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
        jobs=jobs,
        recent=recent.items,
        actions=ACTIONS,
        message=message,
    )


@router.get("/syncs/{sync_id}/{action}", response_class=HTMLResponse)
async def confirm_action(
    request: Request, sync_id: uuid.UUID, action: Action, viewer: UiViewer
) -> HTMLResponse:
    chosen = ACTIONS[action]
    return render(
        request,
        "confirm.html",
        viewer,
        section="syncs",
        heading=f"{chosen.label}?",
        explanation=chosen.explanation,
        action=f"/ui/syncs/{sync_id}/{action}",
        confirm_label=chosen.label,
        back=f"/ui/syncs/{sync_id}",
        needs=chosen.needs,
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
    await audit_entries.sync_cancelled(session, viewer.caller.actor, sync_id)
    return _back(sync_id, "The sync is cancelled; its links are kept.")


@router.post("/syncs/{sync_id}/pause")
async def pause(sync_id: uuid.UUID, viewer: UiAdminForm, session: SessionDep) -> Response:
    try:
        await pausing.pause_sync(session, sync_id)
    except ControlError as exc:
        return _back(sync_id, exc.message)
    await audit_entries.sync_paused(session, viewer.caller.actor, sync_id)
    return _back(
        sync_id, "The sync is paused: changes made meanwhile are kept, and applied in order on resume."
    )


@router.post("/syncs/{sync_id}/resume")
async def resume(
    sync_id: uuid.UUID, viewer: UiAdminForm, session: SessionDep, resources: ResourcesDep
) -> Response:
    try:
        resumed = await pausing.resume_sync(session, resources.bus.topics, sync_id)
    except ControlError as exc:
        return _back(sync_id, exc.message)
    resources.relay.nudge()
    await audit_entries.sync_resumed(session, viewer.caller.actor, resumed)
    kept = resumed.changes_resent
    return _back(
        sync_id,
        f"The sync is resumed; {kept} change{'s' if kept != 1 else ''} kept while it was paused, "
        "now applied in order.",
    )


@router.post("/syncs/{sync_id}/resync")
async def resync(sync_id: uuid.UUID, viewer: UiResyncForm, resources: ResourcesDep) -> Response:
    mode, scope = ResyncMode.RECONCILE, ResyncScope(whole_sync=True)
    try:
        job_id = await start_job(
            resources.sessions,
            resources.bus.topics,
            sync_id=sync_id,
            kind=JobKind.RESYNC,
            dry_run=False,
            mode=mode,
            scope=scope,
            nudge=resources.relay.nudge,
        )
    except JobRefused as exc:
        return _back(sync_id, exc.message)
    async with resources.sessions() as session:
        await audit_entries.resync_started(
            session, viewer.caller.actor, sync_id, job_id, scope=scope, mode=mode, dry_run=False
        )
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
            letter = await dead_letters.replay(session, resources.bus, letter_id)
        else:
            letter = await dead_letters.discard(session, letter_id)
    except ControlError as exc:
        return _back(sync_id, f"Dead letter {letter_id}: {exc.message}")
    if what == "replay":
        await audit_entries.dead_letter_replayed(session, viewer.caller.actor, letter)
    else:
        await audit_entries.dead_letter_discarded(session, viewer.caller.actor, letter)
    done = "replayed: its change is processed again" if what == "replay" else "discarded"
    return _back(sync_id, f"Dead letter {letter_id} {done}.")


@router.post("/syncs/{sync_id}/dead-letters/{what}")
async def dead_letters_matching(
    sync_id: uuid.UUID,
    what: Literal["replay", "discard"],
    viewer: UiAdminForm,
    session: SessionDep,
    resources: ResourcesDep,
    error_class: Annotated[str, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    """Every open dead letter of the sync with this cause, in one transaction (all or none)."""
    try:
        wanted = DeadLetterFilter(
            sync_id=sync_id, error_class=error_class, reason_contains=reason[:500] or None,
            limit=dead_letter_bulk.MAX_BULK,
        )
        if what == "replay":
            result = await dead_letter_bulk.replay_matching(session, resources.bus.topics, wanted)
            resources.relay.nudge()
            await audit_entries.dead_letters_replayed(session, viewer.caller.actor, wanted, result)
        else:
            result = await dead_letter_bulk.discard_matching(session, wanted)
            await audit_entries.dead_letters_discarded(session, viewer.caller.actor, wanted, result)
    except ValidationError as exc:
        return _back(sync_id, "; ".join(str(e["msg"]) for e in exc.errors()))
    except ControlError as exc:
        return _back(sync_id, exc.message)
    verb = "replayed" if what == "replay" else "discarded"
    message = f"{result.done} dead letter{'s' if result.done != 1 else ''} {verb}."
    if result.skipped:
        skipped = ", ".join(map(str, result.skipped))
        message += f" Left open, with no change event to replay (discard them): {skipped}."
    return _back(sync_id, message)
