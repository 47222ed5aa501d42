"""The New sync wizard, in GetResponse's three steps: (1) the list, the Salesforce objects and how
people are treated; (2) the field-mapping grid, each type problem beside its row; (3) the dry-run
report, then Synchronize with live progress until the sync is active (pages/first_sync.py).

Every step reads the discovery services and ends in the control services (`create_sync`,
`start_job`), so that the wizard accepts exactly what the control API accepts. Steps 1 and 2
carry their answers in the form itself: nothing is stored until the whole sync is valid.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import DiscoveryDep, SessionDep, UiAdminForm, UiCaller, UiViewer, VendorsDep
from app.control import discovery, syncs
from app.control.errors import ControlError, Invalid
from app.domain.sides import ObjectType
from app.ui.mapping_grid import grid_rows, place_problems, sync_body
from app.ui.templating import render

router = APIRouter(prefix="/ui/syncs", include_in_schema=False)
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
    rows = grid_rows(object_types, fields, form)
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
    body = sync_body(answers, rows, {f.custom_field_id: f.type for f in custom_fields}, skip_unmapped)
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
        general = place_problems(rows, [p.message for p in exc.problems])
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
