"""The New sync wizard, in GetResponse's three steps: (1) the list, the Salesforce objects and how
people are treated; (2) the field-mapping grid, each type problem beside its row; (3) the dry-run
report, then Synchronize with live progress until the sync is active.

Every step reads the discovery services and ends in the control services (`create_sync`,
`start_job`), so that the wizard accepts exactly what the control API accepts. Steps 1 and 2
carry their answers in the form itself: nothing is stored until the whole sync is valid.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import DiscoveryDep, ResourcesDep, SessionDep, UiAdminForm, UiCaller, UiViewer, VendorsDep
from app.control import discovery, syncs
from app.control.discovery import SalesforceFieldRead
from app.control.errors import ControlError, Invalid
from app.control.jobs import JobRefused, job_view, start_job
from app.db import jobs
from app.domain.jobs import JobKind, JobState
from app.domain.mapping import StandardField
from app.domain.sides import ObjectType
from app.ui.templating import render

router = APIRouter(prefix="/ui/syncs", include_in_schema=False)
FINISHED = {JobState.DONE, JobState.FAILED, JobState.CANCELLED}
STEP_ONE_FIELDS = (
    "name",
    "campaign_id",
    "soql_filter",
    "salesforce_campaign_id",
    "create_as",
    "lead_source",
    "preferred_system",
    "marker_field",
    "set_opt_out",
)
NOT_MAPPED = ""
NAME_PARTS = ("FirstName", "LastName")


@dataclass
class Row:
    object_type: ObjectType
    field: SalesforceFieldRead
    chosen: str = NOT_MAPPED
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def key(self) -> str:
        return f"map.{self.object_type.value}.{self.field.name}"


def _step_one(form: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in STEP_ONE_FIELDS}
    answers["salesforce_objects"] = [
        o for o in form.getlist("salesforce_objects") if o in ("Lead", "Contact")
    ]
    return answers


async def _choices(session: Any, vendors: Any, cache: Any, campaign_query: str = "") -> dict[str, Any]:
    lists = await discovery.getresponse_lists(session, vendors, cache)
    lead_fields = await discovery.salesforce_fields(session, vendors, cache, ObjectType.LEAD)
    campaigns = await discovery.salesforce_campaigns(session, vendors, cache, campaign_query)
    by_name = {f.name: f for f in lead_fields}
    lead_sources = by_name["LeadSource"].picklist_values if "LeadSource" in by_name else []
    checkboxes = [
        f for f in lead_fields if f.type == "boolean" and f.updateable and f.name != "HasOptedOutOfEmail"
    ]
    return {
        "lists": lists,
        "campaigns": campaigns,
        "campaign_query": campaign_query,
        "lead_sources": lead_sources,
        "checkboxes": checkboxes,
    }


def _carried(form: Any) -> dict[str, str]:
    """The grid's answers, kept in step 1's form while someone goes back to it."""
    return {k: str(v) for k, v in form.items() if k.startswith("map.") or k == "skip_unmapped"}


async def _back_to_step_one(
    request: Request,
    viewer: UiCaller,
    form: Any,
    answers: dict[str, Any],
    choices: dict[str, Any],
    *,
    status_code: int = 200,
    error: str | None = None,
    field_problems: dict[str, list[str]] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "wizard_1.html",
        viewer,
        status_code=status_code,
        section="new",
        error=error,
        answers=answers,
        carried=_carried(form),
        field_problems=field_problems or {},
        **choices,
    )


@router.get("/new", response_class=HTMLResponse)
async def step_one(
    request: Request, viewer: UiViewer, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep
) -> HTMLResponse:
    defaults = {
        "name": "",
        "campaign_id": "",
        "salesforce_objects": ["Lead", "Contact"],
        "soql_filter": "",
        "salesforce_campaign_id": "",
        "create_as": "Lead",
        "lead_source": "",
        "preferred_system": "salesforce",
        "marker_field": "",
        "set_opt_out": "",
    }
    try:
        choices = await _choices(session, vendors, cache)
    except ControlError as exc:
        return render(
            request,
            "wizard_1.html",
            viewer,
            status_code=exc.status,
            section="new",
            error=exc.message,
            answers=defaults,
            unavailable=True,
        )
    return render(request, "wizard_1.html", viewer, section="new", answers=defaults, **choices)


def _rows(
    object_types: list[ObjectType], fields: dict[ObjectType, list[SalesforceFieldRead]], form: Any
) -> list[Row]:
    rows = []
    for object_type in object_types:
        for found in fields[object_type]:
            if not (found.updateable or found.required) or found.type in ("id", "reference"):
                continue
            row = Row(object_type, found)
            given = form.get(row.key)
            row.chosen = (
                str(given)
                if given is not None
                else ("email" if found.type == "email" and found.name == "Email" else NOT_MAPPED)
            )
            rows.append(row)
    return rows


@router.post("/new/mapping", response_class=HTMLResponse)
async def step_two(
    request: Request, viewer: UiAdminForm, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep
) -> Response:
    form = await request.form()
    answers = _step_one(form)
    if form.get("submit") == "search":
        query = str(form.get("campaign_q") or "").strip()[:80]
        choices = await _choices(session, vendors, cache, query)
        return await _back_to_step_one(request, viewer, form, answers, choices)
    missing = {
        "name": "Give the sync a name.",
        "campaign_id": "Choose the GetResponse list.",
        "salesforce_objects": "Choose Leads, Contacts or both.",
    }
    absent = {path: [message] for path, message in missing.items() if not answers[path]}
    if absent:
        choices = await _choices(session, vendors, cache)
        return await _back_to_step_one(
            request,
            viewer,
            form,
            answers,
            choices,
            status_code=422,
            error="Some answers are missing: see below.",
            field_problems=absent,
        )
    object_types = [ObjectType(o) for o in answers["salesforce_objects"]]
    try:
        fields = {o: await discovery.salesforce_fields(session, vendors, cache, o) for o in object_types}
        custom_fields = await discovery.getresponse_custom_fields(session, vendors, cache)
    except ControlError as exc:
        return render(request, "refused.html", viewer, status_code=exc.status, error=exc.message)
    rows = _rows(object_types, fields, form)
    skip_unmapped = bool(form.get("skip_unmapped"))
    context: dict[str, Any] = {
        "answers": answers,
        "rows": rows,
        "custom_fields": custom_fields,
        "skip_unmapped": skip_unmapped,
    }
    if form.get("submit") != "create":
        return render(request, "wizard_2.html", viewer, section="new", **context)

    for row in rows:
        target = next((t for t in row.field.targets if t.getresponse == row.chosen), None)
        if row.chosen and target is not None and not target.allowed and target.reason:
            row.problems.append(target.reason)
    if any(row.problems for row in rows):
        return render(
            request,
            "wizard_2.html",
            viewer,
            status_code=422,
            section="new",
            error="Some fields cannot go where they are mapped: see the rows marked below.",
            **context,
        )
    body = _sync_body(answers, rows, {f.custom_field_id: f.type for f in custom_fields}, skip_unmapped)
    try:
        created = await syncs.create_sync(session, vendors, syncs.SyncCreate.model_validate(body))
    except ValidationError as exc:
        messages = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return render(
            request,
            "wizard_2.html",
            viewer,
            status_code=422,
            section="new",
            error="; ".join(messages),
            **context,
        )
    except Invalid as exc:
        first_step: dict[str, list[str]] = {}
        for problem in exc.problems:
            if problem.path in STEP_ONE_FIELDS or problem.path == "salesforce_objects":
                first_step.setdefault(problem.path, []).append(problem.message)
        if first_step:
            return await _back_to_step_one(
                request,
                viewer,
                form,
                answers,
                await _choices(session, vendors, cache),
                status_code=422,
                error="The sync was not saved: fix what is marked below.",
                field_problems=first_step,
            )
        general = _place_problems(rows, [p.message for p in exc.problems])
        return render(
            request,
            "wizard_2.html",
            viewer,
            status_code=422,
            section="new",
            general_problems=general,
            error="The sync was not saved: fix what is marked below.",
            **context,
        )
    except ControlError as exc:
        return render(
            request,
            "wizard_2.html",
            viewer,
            status_code=exc.status,
            section="new",
            error=exc.message,
            **context,
        )
    return RedirectResponse(f"/ui/syncs/{created.id}/first-sync", status_code=303)


def _place_problems(rows: list[Row], messages: list[str]) -> list[str]:
    """Each problem beside the row it names (`Lead.Phone`, or the field alone); the rest in general."""
    general = []
    for message in messages:
        placed = False
        for row in rows:
            qualified = f"{row.object_type.value}.{row.field.name}"
            if re.search(rf"(?<![\w.]){re.escape(qualified)}\b", message) or re.search(
                rf"^{re.escape(row.field.name)} is required on {row.object_type.value}s", message
            ):
                row.problems.append(message)
                placed = True
        if not placed:
            general.append(message)
    return general


def _sync_body(
    answers: dict[str, Any], rows: list[Row], types: dict[str, str], skip_unmapped: bool
) -> dict[str, Any]:
    """The SyncCreate the grid means: one mapping per (target, Salesforce field), over the objects
    that map it; FirstName and LastName to `name` become the name pair."""
    grouped: dict[tuple[str, str], set[str]] = {}
    name_objects: set[str] = set()
    for row in rows:
        if not row.chosen:
            continue
        if row.chosen == StandardField.NAME:
            name_objects.add(row.object_type.value)
            continue
        grouped.setdefault((row.chosen, row.field.name), set()).add(row.object_type.value)
    booleans = {row.field.name for row in rows if row.field.type == "boolean"}
    fields: list[dict[str, Any]] = []
    for (target, salesforce), objects in grouped.items():
        if target == StandardField.EMAIL:
            fields.append(
                {
                    "name": "email",
                    "salesforce": salesforce,
                    "getresponse": "email",
                    "objects": sorted(objects),
                }
            )
            continue
        name = _canonical_name(target, rows)
        fields.append(
            {
                "name": name,
                "salesforce": salesforce,
                "objects": sorted(objects),
                "boolean": salesforce in booleans,
                "getresponse": {"custom_field_id": target, "type": types.get(target, "string")},
            }
        )
    if name_objects:
        fields.append(
            {
                "name": "name",
                "salesforce": list(NAME_PARTS),
                "getresponse": "name",
                "objects": sorted(name_objects),
            }
        )
    mapped = {row.field.name for row in rows if row.chosen}
    skipped = sorted(
        {
            row.field.name
            for row in rows
            if skip_unmapped and row.field.required and row.field.name not in mapped
        }
    )
    return {
        "name": answers["name"],
        "campaign_id": answers["campaign_id"],
        "salesforce_objects": answers["salesforce_objects"],
        "soql_filter": answers["soql_filter"] or None,
        "salesforce_campaign_id": answers["salesforce_campaign_id"] or None,
        "create_as": answers["create_as"] or "Lead",
        "lead_source": answers["lead_source"] or None,
        "preferred_system": answers["preferred_system"] or "salesforce",
        "marker_field": answers["marker_field"] or None,
        "set_opt_out": answers["set_opt_out"] == "on",
        "mapping": {"fields": fields, "skipped": skipped},
        "first_sync": True,
    }


def _canonical_name(target: str, rows: list[Row]) -> str:
    for row in rows:
        for option in row.field.targets:
            if option.getresponse == target:
                cleaned = re.sub(r"[^a-z0-9_]", "_", option.name.lower()).strip("_")
                return cleaned if re.match(r"^[a-z]", cleaned) else f"f_{cleaned}"
    return f"f_{target.lower()}"


# Step 3: the dry run, then the first sync, each followed live.


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
