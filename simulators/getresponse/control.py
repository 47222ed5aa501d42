"""The control API under `/_sim`: not the vendor's, not authenticated, not throttled, not logged
in `/_sim/calls`. It plays what happens outside the API (a person subscribing through a form, an
account user editing in the web UI) and lets tests inspect and steer the simulator.

People and users:
- `POST /_sim/contacts` `{email, name?, campaignId?, customFieldValues?, tags?, origin?}`: a
  subscription through a form (origin `www` unless given, e.g. `panel`), visible at once, sends
  `contact_added`; answers 201 `{"contactId": ...}`. Someone who left the list may come back this
  way (a new contactId).
- `PATCH /_sim/contacts/{id}` `{name?, email?, customFieldValues?}`: an edit in the web UI.
  `customFieldValues` are merged (`value: []` clears that field). Sends what the vendor would:
  `contact_email_changed`, `contact_custom_field_changed` per changed field, nothing for a name.
- `POST /_sim/contacts/{id}/unsubscribe`, `.../bounce`, `DELETE /_sim/contacts/{id}`: the contact
  leaves its list (`contact_removed_link`, `contact_removed_bounce`, `contact_removed`).
- `POST /_sim/contacts/{id}/resubscribe`: the person subscribes again: `{"contactId": <new id>}`.
- `POST /_sim/contacts/{id}/confirm`: the person confirms a double opt-in; sends `contact_added`.

Inspection and steering:
- `GET /_sim/contacts[?email=&campaignId=&state=]`: every contact in every state (pending,
  unconfirmed, active, rejected, unsubscribed, bounced, removed) with its list and exact
  timestamps (`createdOnExact`, `changedOnExact`); `GET /_sim/contacts/{id}`: one of them.
- `GET /_sim/calls[?since=N]`, `GET /_sim/deliveries[?since=N&body=true]`.
- `GET|POST /_sim/faults` (POST replaces the whole fault set; `{}` clears it).
- `GET|POST /_sim/config` (POST is a partial update, validated).
- `GET /_sim/idle` -> `{"idle": bool}`: no create pending, no webhook buffered, queued, in flight
  or waiting for a retry.
- `POST /_sim/reset`: contacts, calls, deliveries, faults and limits cleared; config kept; seed
  lists, fields and tags restored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulators.common.faults import Faults
from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.contact_bodies import (
    Email,
    FieldValueIn,
    Name,
    TagIn,
    checked_campaign,
    checked_fields,
    checked_tags,
)
from simulators.getresponse.contact_service import ContactDraft, ContactEdit
from simulators.getresponse.errors import GetResponseError, not_found, parse_body, read_json_object
from simulators.getresponse.formats import api_time
from simulators.getresponse.render import campaign_ref
from simulators.getresponse.state import SimState, StateDep
from simulators.getresponse.store import Contact

router = APIRouter(prefix="/_sim")


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    email: Email
    name: Name | None = None
    campaignId: str | None = None
    customFieldValues: list[FieldValueIn] = Field(default_factory=list)
    tags: list[TagIn] = Field(default_factory=list)
    origin: str = "www"


class UiEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name | None = None
    email: Email | None = None
    customFieldValues: list[FieldValueIn] | None = None


def contact_view(contact: Contact, state: SimState) -> dict[str, Any]:
    return {
        "contactId": contact.contact_id,
        "email": contact.email,
        "name": contact.name,
        "state": contact.state,
        "origin": contact.origin,
        "campaign": campaign_ref(contact.campaign_id, state.store, state.config),
        "createdOn": api_time(contact.created_on),
        "changedOn": api_time(contact.changed_on),
        "createdOnExact": contact.created_on.isoformat(),
        "changedOnExact": contact.changed_on.isoformat(),
        "dayOfCycle": contact.day_of_cycle,
        "scoring": contact.scoring,
        "note": contact.note,
        "ipAddress": contact.ip_address,
        "tags": list(contact.tags),
        "customFieldValues": [{"customFieldId": k, "values": list(v)} for k, v in contact.custom.items()],
    }


def _contact(state: SimState, contact_id: str) -> Contact:
    contact = state.store.contacts.get(contact_id)
    if contact is None:
        raise not_found("contactId", contact_id)
    return contact


def _active(state: SimState, contact_id: str) -> Contact:
    contact = _contact(state, contact_id)
    if contact.state != "active":
        raise GetResponseError(400, 1002, f"Contact is {contact.state}", {"contactId": contact_id})
    return contact


@router.post("/reset")
async def reset(state: StateDep) -> dict[str, bool]:
    state.reset()
    return {"reset": True}


@router.post("/contacts", status_code=201)
async def subscribe(request: Request, state: StateDep) -> dict[str, str]:
    data = parse_body(SubscribeIn, await read_json_object(request))
    default = next(c.campaign_id for c in state.store.campaigns.values() if c.is_default)
    draft = ContactDraft(
        email=data.email,
        campaign_id=checked_campaign(state.store, data.campaignId or default),
        name=data.name,
        tags=checked_tags(state.store, [t.tagId for t in data.tags]),
        custom=checked_fields(state.store, data.customFieldValues),
    )
    return {"contactId": state.contacts.subscribe(draft, origin=data.origin).contact_id}


@router.get("/contacts")
async def list_contacts(
    state: StateDep,
    email: str | None = None,
    campaignId: str | None = None,
    contact_state: Annotated[str | None, Query(alias="state")] = None,
) -> list[dict[str, Any]]:
    contacts = sorted(state.store.contacts.values(), key=lambda c: c.created_on)
    return [
        contact_view(c, state)
        for c in contacts
        if (email is None or c.email == email.lower())
        and (campaignId is None or c.campaign_id == campaignId)
        and (contact_state is None or c.state == contact_state)
    ]


@router.get("/contacts/{contact_id}")
async def show_contact(contact_id: str, state: StateDep) -> dict[str, Any]:
    return contact_view(_contact(state, contact_id), state)


@router.patch("/contacts/{contact_id}")
async def edit_in_ui(contact_id: str, request: Request, state: StateDep) -> dict[str, Any]:
    contact = _active(state, contact_id)
    data = parse_body(UiEditIn, await read_json_object(request))
    edit = ContactEdit()
    if "name" in data.model_fields_set:
        edit.standard["name"] = data.name
    if data.email is not None:
        edit.standard["email"] = data.email
    if data.customFieldValues is not None:
        edit.custom_upsert = checked_fields(state.store, data.customFieldValues, allow_clear=True)
    state.contacts.apply(contact, edit)
    return contact_view(contact, state)


@router.post("/contacts/{contact_id}/unsubscribe")
async def unsubscribe(contact_id: str, state: StateDep) -> dict[str, Any]:
    contact = _active(state, contact_id)
    state.contacts.depart(contact, "unsubscribed")
    return contact_view(contact, state)


@router.post("/contacts/{contact_id}/bounce")
async def bounce(contact_id: str, state: StateDep) -> dict[str, Any]:
    contact = _active(state, contact_id)
    state.contacts.depart(contact, "bounced")
    return contact_view(contact, state)


@router.post("/contacts/{contact_id}/confirm")
async def confirm(contact_id: str, state: StateDep) -> dict[str, Any]:
    contact = _contact(state, contact_id)
    if contact.state != "unconfirmed":
        raise GetResponseError(
            400, 1002, f"Contact is {contact.state}, not unconfirmed", {"contactId": contact_id}
        )
    state.contacts.confirm(contact)
    return contact_view(contact, state)


@router.post("/contacts/{contact_id}/resubscribe", status_code=201)
async def resubscribe(contact_id: str, state: StateDep) -> dict[str, str]:
    return {"contactId": state.contacts.resubscribe(_contact(state, contact_id)).contact_id}


@router.delete("/contacts/{contact_id}", status_code=204)
async def remove(contact_id: str, state: StateDep) -> Response:
    state.contacts.depart(_active(state, contact_id), "removed")
    return Response(status_code=204)


@router.get("/calls")
async def calls(state: StateDep, since: int = 0) -> list[dict[str, Any]]:
    return state.calls.list(since)


@router.get("/deliveries")
async def deliveries(state: StateDep, since: int = 0, body: bool = False) -> list[dict[str, Any]]:
    return state.deliverer.attempts(since, with_body=body)


@router.get("/faults")
async def get_faults(state: StateDep) -> dict[str, Any]:
    return state.faults.model_dump()


@router.post("/faults")
async def set_faults(request: Request, state: StateDep) -> dict[str, Any]:
    state.faults = parse_body(Faults, await read_json_object(request))
    return state.faults.model_dump()


@router.get("/config")
async def get_config(state: StateDep) -> dict[str, Any]:
    return state.config.model_dump()


@router.post("/config")
async def set_config(request: Request, state: StateDep) -> dict[str, Any]:
    changes = await read_json_object(request)
    state.config = parse_body(GetResponseSimConfig, {**state.config.model_dump(), **changes})
    return state.config.model_dump()


@router.get("/idle")
async def idle(state: StateDep) -> JSONResponse:
    return JSONResponse({"idle": state.idle})
