"""A sync configuration checked against both systems as they are now (design.md "Configure a
sync"): Salesforce describe of each object, GetResponse lists and custom fields, and one SOQL
query per object when a filter is given. Every problem is reported at once, with the path of the
request field it is about, and nothing is stored while there is one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.clients.errors import Permanent, VendorError
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.control.errors import Conflict, ControlError, Problem, VendorUnavailable
from app.domain.groups import group_condition
from app.domain.mapping import SyncMapping
from app.domain.mapping_validation import CustomFieldInfo, SalesforceFieldInfo, validate_mapping
from app.domain.sides import ObjectType

OPT_OUT_FIELD = "HasOptedOutOfEmail"
LEAD_SOURCE_FIELD = "LeadSource"


@dataclass(frozen=True)
class SyncSettings:
    """What a sync is, as validation needs it (a create, or a stored sync with a patch applied)."""

    campaign_id: str
    salesforce_objects: Sequence[ObjectType]
    soql_filter: str | None
    salesforce_campaign_id: str | None
    create_as: ObjectType
    lead_source: str | None
    marker_field: str | None
    set_opt_out: bool
    mapping: SyncMapping


@dataclass(frozen=True)
class LiveMetadata:
    describes: Mapping[ObjectType, Mapping[str, Mapping[str, Any]]]  # object -> field name -> describe
    campaigns: Mapping[str, Mapping[str, Any]]  # campaignId -> campaign
    custom_fields: Mapping[str, CustomFieldInfo]

    def field_infos(self) -> dict[ObjectType, dict[str, SalesforceFieldInfo]]:
        return {
            object_type: {
                name: SalesforceFieldInfo(
                    name=name,
                    type=str(field.get("type")),
                    required=bool(field.get("createable"))
                    and not field.get("nillable", True)
                    and not field.get("defaultedOnCreate", False),
                )
                for name, field in fields.items()
            }
            for object_type, fields in self.describes.items()
        }


def _unavailable(vendor: str, exc: VendorError) -> ControlError:
    if isinstance(exc, Permanent):
        return Conflict(
            f"the {vendor} connection no longer works ({exc.reason}); connect it again, then retry"
        )
    return VendorUnavailable(f"{vendor} did not answer ({exc.reason}); nothing was stored, try again")


async def read_metadata(
    salesforce: SalesforceClient, getresponse: GetResponseClient, objects: Sequence[ObjectType]
) -> LiveMetadata:
    try:
        described = await asyncio.gather(*(salesforce.describe(o.value) for o in objects))
    except VendorError as exc:
        raise _unavailable("Salesforce", exc) from exc
    try:
        campaigns, custom_fields = await asyncio.gather(getresponse.campaigns(), getresponse.custom_fields())
    except VendorError as exc:
        raise _unavailable("GetResponse", exc) from exc
    return LiveMetadata(
        describes={
            o: {str(f.get("name")): f for f in d.get("fields") or [] if isinstance(f, dict)}
            for o, d in zip(objects, described, strict=True)
        },
        campaigns={str(c.get("campaignId")): c for c in campaigns},
        custom_fields={
            str(f.get("customFieldId")): CustomFieldInfo(
                custom_field_id=str(f.get("customFieldId")), name=str(f.get("name")), type=str(f.get("type"))
            )
            for f in custom_fields
        },
    )


def configuration_problems(sync: SyncSettings, metadata: LiveMetadata) -> list[Problem]:
    problems: list[Problem] = []
    if sync.campaign_id not in metadata.campaigns:
        known = ", ".join(f"{c.get('name')} ({i})" for i, c in sorted(metadata.campaigns.items())) or "none"
        message = f"GetResponse list {sync.campaign_id} does not exist; the lists are: {known}"
        problems.append(Problem("campaign_id", message))
    if sync.create_as not in sync.salesforce_objects:
        problems.append(
            Problem(
                "create_as",
                f"people from GetResponse would become {sync.create_as.value}s, which this sync does not "
                "read back: add it to salesforce_objects or create the other type",
            )
        )
    problems.extend(
        Problem("mapping", message)
        for message in validate_mapping(
            sync.mapping, metadata.field_infos(), metadata.custom_fields, sync.salesforce_objects
        )
    )
    if sync.marker_field:
        problems.extend(_checkbox_problems("marker_field", sync.marker_field, sync, metadata))
    if sync.set_opt_out:
        problems.extend(_checkbox_problems("set_opt_out", OPT_OUT_FIELD, sync, metadata))
    if sync.lead_source is not None:
        problems.extend(_lead_source_problems(sync, metadata))
    return problems


def _checkbox_problems(path: str, field: str, sync: SyncSettings, metadata: LiveMetadata) -> list[Problem]:
    problems = []
    for object_type in sync.salesforce_objects:
        found = metadata.describes.get(object_type, {}).get(field)
        if found is None:
            problems.append(Problem(path, f"{object_type.value}.{field} does not exist in Salesforce"))
        elif found.get("type") != "boolean":
            message = f"{object_type.value}.{field} is of type {found.get('type')}, not a checkbox (boolean)"
            problems.append(Problem(path, message))
        elif not found.get("updateable", True):
            problems.append(Problem(path, f"{object_type.value}.{field} cannot be written"))
    return problems


def _lead_source_problems(sync: SyncSettings, metadata: LiveMetadata) -> list[Problem]:
    field = metadata.describes.get(sync.create_as, {}).get(LEAD_SOURCE_FIELD)
    if field is None:
        return [Problem("lead_source", f"{sync.create_as.value}.{LEAD_SOURCE_FIELD} does not exist")]
    values = [
        str(v.get("value"))
        for v in field.get("picklistValues") or []
        if isinstance(v, dict) and v.get("active", True)
    ]
    if sync.lead_source not in values:
        return [
            Problem(
                "lead_source",
                f"'{sync.lead_source}' is not an active value of {sync.create_as.value}.{LEAD_SOURCE_FIELD}; "
                f"the values are: {', '.join(values) or 'none'}",
            )
        ]
    return []


async def group_problems(salesforce: SalesforceClient, sync: SyncSettings) -> list[Problem]:
    """The group checked live: the Campaign exists in the connected org, and the whole condition
    (filter and Campaign) runs once per object (LIMIT 1), so that a typo is found now, not by the
    first sync."""
    problems = []
    if sync.salesforce_campaign_id:
        problem = await _campaign_problem(salesforce, sync.salesforce_campaign_id)
        if problem is not None:
            return [problem]  # the condition would only fail again, naming the same id
    for object_type in sync.salesforce_objects:
        condition = group_condition(
            object_type, soql_filter=sync.soql_filter, campaign_id=sync.salesforce_campaign_id
        )
        if condition is None:
            continue
        # The admin's own read-only filter, run with the connection's rights: SOQL cannot write.
        soql = f"SELECT Id FROM {object_type.value} WHERE {condition} LIMIT 1"  # noqa: S608
        try:
            async for _ in salesforce.query(soql):
                break
        except Permanent as exc:
            problems.append(Problem("soql_filter", f"{object_type.value}: {exc.reason}"))
        except VendorError as exc:
            raise _unavailable("Salesforce", exc) from exc
    return problems


async def _campaign_problem(salesforce: SalesforceClient, campaign_id: str) -> Problem | None:
    soql = f"SELECT Id, Name FROM Campaign WHERE Id = '{campaign_id}'"  # noqa: S608 - a checked id
    try:
        found = [record async for record in salesforce.query(soql)]
    except Permanent as exc:
        return Problem("salesforce_campaign_id", f"Salesforce refused to read Campaigns: {exc.reason}")
    except VendorError as exc:
        raise _unavailable("Salesforce", exc) from exc
    if not found:
        return Problem("salesforce_campaign_id", f"no Campaign {campaign_id} in the connected Salesforce org")
    return None
