"""Sync configurations, one per GetResponse list: create, read, change and cancel them.

A sync created with `"first_sync": false` is `active` at once: live changes flow from then on
and nobody is backfilled. With `"first_sync": true` it is created `draft` (live changes are
ignored) until `POST /v1/syncs/{id}/first-sync` starts the backfill, whose job moves it through
`first_sync` to `active`. A cancelled sync ignores live changes, keeps its links, cannot be
changed again, and frees its list for a new sync.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.vendors import Vendors
from app.control.errors import Conflict, Invalid, NotFound, Problem
from app.control.sync_validation import (
    SyncSettings,
    configuration_problems,
    group_problems,
    read_metadata,
)
from app.db import connections, paused_changes, syncs
from app.db.models import Sync
from app.domain.groups import CAMPAIGN_ID, soql_filter_problem
from app.domain.mapping import SalesforceFieldName, SyncMapping
from app.domain.sides import ObjectType, Side
from app.domain.states import SyncState

MAPPING_EXAMPLE: dict[str, Any] = {
    "fields": [
        {"name": "email", "salesforce": "Email", "getresponse": "email"},
        {"name": "name", "salesforce": ["FirstName", "LastName"], "getresponse": "name"},
        {
            "name": "phone",
            "salesforce": "Phone",
            "getresponse": {"custom_field_id": "cfPhn", "type": "phone"},
        },
        {
            "name": "company",
            "salesforce": "Company",
            "getresponse": {"custom_field_id": "cfCmp", "type": "string"},
            "objects": ["Lead"],
        },
    ],
    "skipped": ["Title"],
}
# A Campaign id as Salesforce shows it: 15 or 18 letters and digits, starting with 701.
SalesforceCampaignId = Annotated[str, StringConstraints(pattern=f"^{CAMPAIGN_ID.pattern}$")]

CREATE_EXAMPLE: dict[str, Any] = {
    "name": "Newsletter <-> Leads and Contacts",
    "campaign_id": "Gr7Mn",
    "salesforce_objects": ["Lead", "Contact"],
    "create_as": "Lead",
    "lead_source": "Web",
    "preferred_system": "salesforce",
    "marker_field": "GRdeleted__c",
    "set_opt_out": True,
    "mapping": MAPPING_EXAMPLE,
    "first_sync": False,
}


def _distinct(objects: list[ObjectType]) -> list[ObjectType]:
    return list(dict.fromkeys(objects))


def _one_where_condition(soql_filter: str | None) -> str | None:
    if soql_filter is not None:
        problem = soql_filter_problem(soql_filter)
        if problem is not None:
            raise ValueError(f"soql_filter must be one WHERE condition: {problem}")
    return soql_filter


class _SyncFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    salesforce_objects: list[ObjectType] = Field(min_length=1, description="Lead, Contact or both")
    soql_filter: str | None = Field(
        None,
        max_length=4000,
        description="a SOQL WHERE condition that defines who belongs to the sync, e.g. `LeadSource = 'Web'`",
    )
    salesforce_campaign_id: SalesforceCampaignId | None = Field(
        None,
        description="a Salesforce Campaign whose members feed the list (with soql_filter, both apply); "
        "people who come from GetResponse join it",
    )
    create_as: ObjectType = Field(ObjectType.LEAD, description="what people created in GetResponse become")
    lead_source: str | None = Field(None, description="LeadSource value of records created from GetResponse")
    preferred_system: Side = Field(description="wins conflicts within the clock skew, and the first sync")
    marker_field: SalesforceFieldName | None = Field(
        None, description="checkbox set when the person leaves the GetResponse list, e.g. GRdeleted__c"
    )
    set_opt_out: bool = Field(False, description="also set HasOptedOutOfEmail when the person unsubscribes")
    mapping: SyncMapping

    _objects = field_validator("salesforce_objects")(_distinct)


class SyncCreate(_SyncFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CREATE_EXAMPLE]})

    # Only what is asked for is checked: a sync stored before this check is still shown.
    _filter = field_validator("soql_filter")(_one_where_condition)

    campaign_id: str = Field(min_length=1, max_length=64, description="the GetResponse list (campaignId)")
    first_sync: bool = Field(
        False,
        description="true: created as draft, to be started with POST /v1/syncs/{id}/first-sync; "
        "false: active at once, without a backfill",
    )


class SyncUpdate(BaseModel):
    """Only the fields given change; `null` clears an optional one. The list cannot change: a sync
    belongs to its list (cancel it and create another)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"preferred_system": "getresponse"}, {"soql_filter": None}]},
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    salesforce_objects: list[ObjectType] | None = Field(None, min_length=1)
    soql_filter: str | None = Field(None, max_length=4000)
    salesforce_campaign_id: SalesforceCampaignId | None = None
    create_as: ObjectType | None = None
    lead_source: str | None = None
    preferred_system: Side | None = None
    marker_field: SalesforceFieldName | None = None
    set_opt_out: bool | None = None
    mapping: SyncMapping | None = None

    _filter = field_validator("soql_filter")(_one_where_condition)


class SyncRead(_SyncFields):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "state": "active",
                    **{k: v for k, v in CREATE_EXAMPLE.items() if k != "first_sync"},
                    "salesforce_campaign_id": None,
                    "soql_filter": None,
                    "salesforce_connection_id": "5b0c4f8e-3c0e-4a8e-9d55-0d7f3c1f2a10",
                    "getresponse_connection_id": "7d1e0c9a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
                    "created_at": "2026-11-26T10:00:00Z",
                    "updated_at": "2026-11-26T10:00:00Z",
                    "next_step": None,
                }
            ]
        },
    )

    id: uuid.UUID
    state: SyncState
    campaign_id: str
    salesforce_connection_id: uuid.UUID
    getresponse_connection_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    next_step: str | None = Field(None, validate_default=True)

    @field_validator("next_step")
    @classmethod
    def _hint(cls, _: str | None, info: ValidationInfo) -> str | None:
        """What a draft waits for (id and state are validated before it)."""
        if info.data.get("state") is SyncState.DRAFT:
            return f"start the first sync: POST /v1/syncs/{info.data['id']}/first-sync"
        return None


async def _list_taken(session: AsyncSession, campaign_id: str, other_than: uuid.UUID | None = None) -> None:
    taken = await syncs.live_sync_id_of_list(session, campaign_id, other_than=other_than)
    if taken is not None:
        raise Conflict(f"GetResponse list {campaign_id} already has sync {taken}; cancel it first")


async def _validated(vendors: Vendors, sync: Sync, settings: SyncSettings) -> None:
    salesforce = await vendors.salesforce(sync.salesforce_connection_id)
    getresponse = await vendors.getresponse(sync.getresponse_connection_id)
    metadata = await read_metadata(salesforce, getresponse, settings.salesforce_objects)
    problems = configuration_problems(settings, metadata)
    problems += await group_problems(salesforce, settings)
    if problems:
        raise Invalid(problems)


def _settings_of(row: Sync) -> SyncSettings:
    return SyncSettings(
        campaign_id=row.campaign_id,
        salesforce_objects=[ObjectType(o) for o in row.salesforce_objects],
        soql_filter=row.soql_filter,
        salesforce_campaign_id=row.salesforce_campaign_id,
        create_as=ObjectType(row.create_as),
        lead_source=row.lead_source,
        marker_field=row.marker_field,
        set_opt_out=row.set_opt_out,
        mapping=SyncMapping.model_validate(row.mapping),
    )


async def _save(session: AsyncSession, row: Sync) -> SyncRead:
    try:
        await session.commit()
    except IntegrityError as exc:
        # Another request gave the list a sync between our check and this commit.
        await session.rollback()
        raise Conflict(f"GetResponse list {row.campaign_id} already has a sync; cancel it first") from exc
    await session.refresh(row)
    return SyncRead.model_validate(row)


async def create_sync(session: AsyncSession, vendors: Vendors, body: SyncCreate) -> SyncRead:
    salesforce = await connections.latest_connected(session, "salesforce")
    getresponse = await connections.latest_connected(session, "getresponse")
    if salesforce is None or getresponse is None:
        missing = [
            label
            for label, found in (("the Salesforce org", salesforce), ("the GetResponse account", getresponse))
            if found is None
        ]
        raise Conflict(f"connect {' and '.join(missing)} first (/v1/connections)")
    await _list_taken(session, body.campaign_id)
    row = Sync(
        name=body.name,
        salesforce_connection_id=salesforce.id,
        getresponse_connection_id=getresponse.id,
        campaign_id=body.campaign_id,
        salesforce_objects=[o.value for o in body.salesforce_objects],
        soql_filter=body.soql_filter,
        salesforce_campaign_id=body.salesforce_campaign_id,
        create_as=body.create_as.value,
        lead_source=body.lead_source,
        preferred_system=body.preferred_system.value,
        marker_field=body.marker_field,
        set_opt_out=body.set_opt_out,
        mapping=body.mapping.model_dump(mode="json"),
        state=SyncState.DRAFT if body.first_sync else SyncState.ACTIVE,
    )
    await _validated(vendors, row, _settings_of(row))
    session.add(row)
    return await _save(session, row)


async def list_syncs(session: AsyncSession) -> list[SyncRead]:
    return [SyncRead.model_validate(r) for r in await syncs.all_syncs(session)]


async def _row(session: AsyncSession, sync_id: uuid.UUID, *, lock: bool = False) -> Sync:
    row = await syncs.sync_by_id(session, sync_id, lock=lock)
    if row is None:
        raise NotFound(f"no sync {sync_id}")
    return row


async def get_sync(session: AsyncSession, sync_id: uuid.UUID) -> SyncRead:
    return SyncRead.model_validate(await _row(session, sync_id))


async def update_sync(
    session: AsyncSession, vendors: Vendors, sync_id: uuid.UUID, patch: SyncUpdate
) -> SyncRead:
    row = await _row(session, sync_id)
    if row.state is SyncState.CANCELLED:
        raise Conflict(f"sync {sync_id} is cancelled and cannot change; create a new sync for the list")
    given = patch.model_fields_set
    for name in given:
        value = getattr(patch, name)
        if name in ("name", "salesforce_objects", "create_as", "preferred_system", "set_opt_out", "mapping"):
            if value is None:
                raise Invalid([Problem(name, "cannot be null")])
        if name == "salesforce_objects":
            value = [o.value for o in _distinct(value)]
        elif name == "mapping":
            value = value.model_dump(mode="json")
        elif name in ("create_as", "preferred_system"):
            value = value.value
        setattr(row, name, value)
    await _validated(vendors, row, _settings_of(row))
    row.updated_at = func.now()
    return await _save(session, row)


async def cancel_sync(session: AsyncSession, sync_id: uuid.UUID) -> SyncRead:
    """Idempotent: cancelling a cancelled sync answers it as it is."""
    row = await _row(session, sync_id, lock=True)
    if row.state is not SyncState.CANCELLED:
        if row.state is SyncState.PAUSED:
            await paused_changes.take_all(session, sync_id)  # kept for a resume that will not come
        row.state, row.paused_from = SyncState.CANCELLED, None
        row.updated_at = func.now()
    return await _save(session, row)
