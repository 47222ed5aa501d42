"""The vendor's contact endpoints under `/v3/contacts` (api-contracts B6, checklist C8 to C10).

- `POST /contacts` -> 202 with an empty body and no id; the contact shows up after
  `create_delay_ms` (see `contact_service.py`).
- `POST /contacts/batch` -> 202 (at most 1000 contacts; its own throttle, see `limits.py`).
  Emails already on the list, or refused there, are skipped silently, as an asynchronous import
  would; everything else is queued like single creates.
- `GET /contacts/{id}` -> ContactDetails (`fields=a,b` projects, `contactId` always kept), or
  404/1013 with `context: {"contactId": ...}` for unknown, pending or departed contacts.
- `GET /contacts` -> ContactListElement list (no tags, no customFieldValues), see
  `contact_search.py`.
- `POST /contacts/{id}` (POST, not PATCH) -> 200 ContactDetails; only the keys sent change;
  `tags` and `customFieldValues` replace their sets; a new `campaign.campaignId` moves the contact.
- `POST /contacts/{id}/custom-fields` -> 200 `[{customFieldId, values}]` for the whole set after
  the upsert; the fields not sent keep their values.
- `POST /contacts/{id}/tags` -> 200 with the contact's tags after the upsert.
- `DELETE /contacts/{id}` -> 204; with `messageId` it is an unsubscribe from that message.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.getresponse import contact_bodies as bodies
from simulators.getresponse.contact_search import search
from simulators.getresponse.contact_service import ContactEdit
from simulators.getresponse.errors import not_found, parse_body, read_json_object, validation_error
from simulators.getresponse.listing import page_of, project
from simulators.getresponse.render import contact_details, contact_element, tag
from simulators.getresponse.state import SimState, StateDep
from simulators.getresponse.store import Contact

router = APIRouter(prefix="/contacts")


def _visible(state: SimState, contact_id: str) -> Contact:
    contact = state.store.visible_contact(contact_id)
    if contact is None:
        raise not_found("contactId", contact_id)
    return contact


def _details(state: SimState, contact: Contact) -> JSONResponse:
    return JSONResponse(contact_details(contact, state.store, state.config))


@router.post("", status_code=202)
async def create_contact(request: Request, state: StateDep) -> Response:
    draft = bodies.new_contact(state.store, await read_json_object(request))
    state.contacts.queue_create(draft)
    return Response(status_code=202)


@router.post("/batch", status_code=202)
async def create_contacts_batch(request: Request, state: StateDep) -> Response:
    for draft in bodies.batch_drafts(state.store, await read_json_object(request)):
        if state.contacts.refusal(draft.email, draft.campaign_id) is None:
            state.contacts.queue_create(draft)
    return Response(status_code=202)


@router.get("")
async def search_contacts(request: Request, state: StateDep) -> Response:
    found, listing = search(state.store.active_contacts(), request.query_params)
    page, headers = page_of(found, listing)
    items = [
        project(contact_element(c, state.store, state.config), listing.fields, "contactId") for c in page
    ]
    return JSONResponse(items, headers=headers)


@router.get("/{contact_id}")
async def get_contact(contact_id: str, request: Request, state: StateDep) -> Response:
    contact = _visible(state, contact_id)
    fields_param = request.query_params.get("fields")
    fields = frozenset(f.strip() for f in fields_param.split(",") if f.strip()) if fields_param else None
    return JSONResponse(project(contact_details(contact, state.store, state.config), fields, "contactId"))


@router.post("/{contact_id}")
async def update_contact(contact_id: str, request: Request, state: StateDep) -> Response:
    contact = _visible(state, contact_id)
    edit = bodies.contact_update(state.store, await read_json_object(request))
    state.contacts.apply(contact, edit)
    return _details(state, contact)


@router.post("/{contact_id}/custom-fields")
async def upsert_custom_fields(contact_id: str, request: Request, state: StateDep) -> Response:
    contact = _visible(state, contact_id)
    data = parse_body(bodies.CustomFieldsUpsertIn, await read_json_object(request))
    values = bodies.checked_fields(state.store, data.customFieldValues)
    state.contacts.apply(contact, ContactEdit(custom_upsert=values))
    return JSONResponse([{"customFieldId": k, "values": list(v)} for k, v in contact.custom.items()])


@router.post("/{contact_id}/tags")
async def upsert_tags(contact_id: str, request: Request, state: StateDep) -> Response:
    contact = _visible(state, contact_id)
    data = parse_body(bodies.TagsUpsertIn, await read_json_object(request))
    tag_ids = bodies.checked_tags(state.store, [t.tagId for t in data.tags])
    state.contacts.apply(contact, ContactEdit(tags_upsert=tag_ids))
    return JSONResponse([tag(state.store.tags[t], state.config) for t in contact.tags])


@router.delete("/{contact_id}", status_code=204)
async def delete_contact(contact_id: str, request: Request, state: StateDep) -> Response:
    contact = _visible(state, contact_id)
    ip_address = request.query_params.get("ipAddress")
    if ip_address is not None:
        try:
            ipaddress.ip_address(ip_address)
        except ValueError as exc:
            raise validation_error("ipAddress is not a valid IP address", field="ipAddress") from exc
    unsubscribe = bool(request.query_params.get("messageId"))
    state.contacts.depart(contact, "unsubscribed" if unsubscribe else "removed")
    return Response(status_code=204)
