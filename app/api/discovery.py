"""Discovery: what the connected systems offer a sync (lists, custom fields, Salesforce fields with
the GetResponse fields each may map to, Campaigns). The admin UI's wizard reads the same services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses
from app.api.deps import DiscoveryDep, Reader, SessionDep, VendorsDep
from app.control import discovery
from app.control.discovery import CampaignRead, CustomFieldRead, ListRead, SalesforceFieldRead
from app.domain.sides import ObjectType

router = APIRouter(prefix="/v1", tags=["discovery"])

RESPONSES = {**AUTH_RESPONSES, **error_responses(409, 502)}


@router.get(
    "/getresponse/lists", summary="The GetResponse lists, with their opt-in type", responses=RESPONSES
)
async def lists(_: Reader, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep) -> list[ListRead]:
    with control_errors():
        return await discovery.getresponse_lists(session, vendors, cache)


@router.get(
    "/getresponse/custom-fields",
    summary="The GetResponse custom fields, with their type, format and allowed values",
    responses=RESPONSES,
)
async def custom_fields(
    _: Reader, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep
) -> list[CustomFieldRead]:
    with control_errors():
        return await discovery.getresponse_custom_fields(session, vendors, cache)


@router.get(
    "/salesforce/objects/{object_type}/fields",
    summary="The object's fields, each with the GetResponse fields it may map to (and why not)",
    description=(
        "`targets` lists the GetResponse email, name and every custom field, each `allowed` or with "
        "the `reason` it is not, by the rules sync validation applies (e.g. Phone only to a phone or "
        "text field). `LeadSource`'s `picklist_values` and the checkbox (`boolean`) fields are what "
        "a sync's lead source and marker field may be."
    ),
    responses=RESPONSES,
)
async def salesforce_fields(
    _: Reader, object_type: ObjectType, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep
) -> list[SalesforceFieldRead]:
    with control_errors():
        return await discovery.salesforce_fields(session, vendors, cache, object_type)


@router.get(
    "/salesforce/campaigns",
    summary="Salesforce Campaigns whose name contains q (50 at most), for a sync's group",
    responses=RESPONSES,
)
async def campaigns(
    _: Reader,
    session: SessionDep,
    vendors: VendorsDep,
    cache: DiscoveryDep,
    q: Annotated[str, Query(max_length=80, description="part of the Campaign's name")] = "",
) -> list[CampaignRead]:
    with control_errors():
        return await discovery.salesforce_campaigns(session, vendors, cache, q)
