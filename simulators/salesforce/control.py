"""The control API under `/_sim/`: never part of Salesforce, never counted in quota or calls.

Record edits made here act as a person in the UI would: the same validation as the REST API
(errors in the same array shape), the UI user as LastModifiedById, an empty CDC `changeOrigin`,
and the same Outbound Messages and change events.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from simulators.common.faults import Faults
from simulators.salesforce import render, schema
from simulators.salesforce.cdc import GAP_TYPES
from simulators.salesforce.deps import json_body, sobject_named, ui_actor
from simulators.salesforce.errors import ApiError, SalesforceError, entity_is_deleted
from simulators.salesforce.state import SimDep, Simulator
from simulators.salesforce.store import Record, Transaction

router = APIRouter(prefix="/_sim")


def _full(sim: Simulator, record: Record) -> dict[str, Any]:
    sobject = schema.SOBJECTS[record.sobject]
    return render.record(sobject, record.values, [f.name for f in sobject.fields], sim.config.api_version)


@router.post("/reset")
async def reset(sim: SimDep) -> dict[str, bool]:
    sim.reset()
    return {"reset": True}


@router.get("/config")
async def get_config(sim: SimDep) -> dict[str, Any]:
    return sim.config.model_dump()


@router.post("/config")
async def update_config(request: Request, sim: SimDep) -> JSONResponse:
    try:
        patch = await request.json()
    except ValueError:
        patch = None
    if not isinstance(patch, dict):
        return JSONResponse({"detail": "expected a JSON object"}, status_code=422)
    try:
        config = sim.update_config(patch)
    except ValidationError as exc:
        return JSONResponse({"detail": exc.errors(include_url=False, include_context=False)}, status_code=422)
    return JSONResponse(config.model_dump())


@router.get("/faults")
async def get_faults(sim: SimDep) -> Faults:
    return sim.faults


@router.post("/faults")
async def set_faults(faults: Faults, sim: SimDep) -> Faults:
    sim.faults = faults
    return faults


@router.get("/calls")
async def calls(sim: SimDep, since: int = 0) -> list[dict[str, Any]]:
    return sim.calls.list(since)


@router.get("/deliveries")
async def deliveries(sim: SimDep, since: int = 0, body: bool = False) -> list[dict[str, Any]]:
    return sim.deliverer.attempts(since, with_body=body)


@router.get("/idle")
async def idle(sim: SimDep) -> dict[str, bool]:
    return {"idle": sim.idle}


class ClockMove(BaseModel):
    advance_seconds: float = Field(gt=0)


@router.post("/clock")
async def advance_clock(move: ClockMove, sim: SimDep) -> dict[str, str]:
    return {"now": render.wire(sim.clock.advance(move.advance_seconds))}


@router.post("/sessions/expire")
async def expire_sessions(sim: SimDep) -> dict[str, int]:
    expired = sim.sessions.expire_all()
    sim.event_log.wake()  # open Pub/Sub streams find their token gone
    return {"expired": expired}


@router.get("/pubsub")
async def pubsub_address(request: Request) -> dict[str, str]:
    """Where the Pub/Sub API listens: plaintext gRPC on loopback."""
    return {"address": request.app.state.pubsub.address}


class PubSubFaultsPatch(BaseModel):
    drop_streams: bool = Field(False, description="end every open stream with UNAVAILABLE")
    allocation_exhausted: bool | None = Field(None, description="the daily delivery allocation is spent")
    too_many_clients: bool | None = Field(None, description="new streams are refused: too many clients")


@router.post("/pubsub/faults")
async def pubsub_faults(body: PubSubFaultsPatch, sim: SimDep) -> dict[str, Any]:
    faults = sim.pubsub_faults
    if body.drop_streams:
        faults.drops += 1
    if body.allocation_exhausted is not None:
        faults.allocation_exhausted = body.allocation_exhausted
    if body.too_many_clients is not None:
        faults.too_many_clients = body.too_many_clients
    sim.event_log.wake()
    return {
        "allocation_exhausted": faults.allocation_exhausted,
        "too_many_clients": faults.too_many_clients,
        "drops": faults.drops,
    }


@router.get("/quota")
async def quota(sim: SimDep) -> dict[str, int]:
    used, limit = sim.quota.usage()
    return {"used": used, "limit": limit}


class Gap(BaseModel):
    entity: str
    changeType: Literal[GAP_TYPES]  # type: ignore[valid-type]
    recordIds: list[str] = Field(default_factory=list)


@router.post("/cdc/gap")
async def gap(request: Request, body: Gap, sim: SimDep) -> dict[str, Any]:
    sobject = sobject_named(body.entity)
    if body.changeType != "GAP_OVERFLOW":
        for raw in body.recordIds or [""]:
            sim.store.find(sobject, raw)
    return sim.cdc.gap(
        entity=sobject.name,
        change_type=body.changeType,
        record_ids=body.recordIds,
        user_id=sim.config.ui_user_id,
        now=sim.clock.now(),
    )


@router.get("/records/{name}")
async def list_records(name: str, sim: SimDep) -> list[dict[str, Any]]:
    return [_full(sim, r) for r in sim.store.all(sobject_named(name).name)]


@router.post("/records/{name}", status_code=201)
async def create_record(name: str, request: Request, sim: SimDep) -> dict[str, str]:
    sobject = sobject_named(name)
    body = await json_body(request)
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        return {"id": tx.create(sobject, body)}


class MassUpdate(BaseModel):
    ids: list[str] = Field(min_length=1)
    values: dict[str, Any]


@router.post("/records/{name}/mass-update")
async def mass_update(name: str, body: MassUpdate, request: Request, sim: SimDep) -> dict[str, list[str]]:
    """One UI transaction changing several records the same way: CDC merges it into one event."""
    sobject = sobject_named(name)
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        for raw in body.ids:
            tx.update(sobject, raw, body.values)
    return {"ids": [sim.store.find(sobject, raw).id for raw in body.ids]}


@router.get("/records/{name}/{record_id}")
async def get_record(name: str, record_id: str, sim: SimDep) -> dict[str, Any]:
    return _full(sim, sim.store.find(sobject_named(name), record_id))


@router.patch("/records/{name}/{record_id}")
async def update_record(name: str, record_id: str, request: Request, sim: SimDep) -> dict[str, str]:
    sobject = sobject_named(name)
    body = await json_body(request)
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        tx.update(sobject, record_id, body)
    return {"id": sim.store.find(sobject, record_id).id}


@router.delete("/records/{name}/{record_id}")
async def delete_record(name: str, record_id: str, request: Request, sim: SimDep) -> dict[str, str]:
    """To the Recycle Bin; a CampaignMember is gone for good (it has no Recycle Bin)."""
    sobject = sobject_named(name)
    found = sim.store.find(sobject, record_id)
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        tx.delete(sobject, record_id)
    return {"id": found.id}


@router.post("/records/{name}/{record_id}/undelete")
async def undelete_record(name: str, record_id: str, request: Request, sim: SimDep) -> dict[str, str]:
    sobject = sobject_named(name)
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        tx.undelete(sobject, record_id)
    return {"id": sim.store.find(sobject, record_id).id}


class Conversion(BaseModel):
    contactId: str | None = None


@router.post("/records/Lead/{record_id}/convert")
async def convert_lead(record_id: str, request: Request, sim: SimDep) -> dict[str, str]:
    """Lead conversion as the UI does it: a Contact is created from the Lead (or an existing one is
    used), and the Lead becomes read-only (IsConverted, ConvertedContactId, ConvertedDate,
    Status "Closed - Converted"). Conversion fires no Outbound Message for the Lead. The Lead's
    campaign memberships gain the Contact (see `_carry_memberships`)."""
    raw = await request.body()
    conversion = Conversion.model_validate_json(raw) if raw.strip() else Conversion()
    lead_def, contact_def = schema.LEAD, schema.CONTACT
    with sim.store.transaction(ui_actor(request, sim.config.ui_user_id)) as tx:
        lead = tx.lookup(lead_def, record_id)
        if lead.deleted:
            raise SalesforceError(404, entity_is_deleted())
        if lead.values["IsConverted"]:
            raise SalesforceError(
                400, ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
            )
        if conversion.contactId:
            contact = tx.lookup(contact_def, conversion.contactId)
            if contact.deleted:
                raise SalesforceError(404, entity_is_deleted())
            contact_id = contact.id
        else:
            values = lead.values
            contact_id = tx.create(
                contact_def,
                {
                    "FirstName": values["FirstName"],
                    "LastName": values["LastName"],
                    "Email": values["Email"],
                    "Phone": values["Phone"],
                    "Title": values["Title"],
                    "MailingStreet": values["Street"],
                    "MailingCity": values["City"],
                    "MailingState": values["State"],
                    "MailingPostalCode": values["PostalCode"],
                    "MailingCountry": values["Country"],
                    "LeadSource": values["LeadSource"],
                    "HasOptedOutOfEmail": values["HasOptedOutOfEmail"],
                },
            )
        tx.update(
            lead_def,
            lead.id,
            {},
            fires_rules=False,
            system={
                "IsConverted": True,
                "ConvertedContactId": contact_id,
                "ConvertedDate": sim.clock.now().date(),
                "Status": "Closed - Converted",
            },
        )
        _carry_memberships(tx, lead.id, contact_id)
    return {"id": lead.id, "convertedContactId": contact_id}


def _carry_memberships(tx: Transaction, lead_id: str, contact_id: str) -> None:
    """A converted Lead's CampaignMember rows keep their LeadId and gain the Contact's id, so the
    person stays in the Campaign as a Contact (Object Reference: members of converted leads carry
    both ids). Where the Contact is already a member of that Campaign, the Lead's row is left as
    it is (UNCONFIRMED). An UPDATE of the member, with no workflow rules run."""
    members = tx.records(schema.CAMPAIGN_MEMBER)
    joined = {m.values["CampaignId"] for m in members if m.values["ContactId"] == contact_id}
    for member in members:
        values = member.values
        if values["LeadId"] == lead_id and not values["ContactId"] and values["CampaignId"] not in joined:
            tx.update(
                schema.CAMPAIGN_MEMBER, member.id, {}, fires_rules=False, system={"ContactId": contact_id}
            )
