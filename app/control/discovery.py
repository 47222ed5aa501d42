"""What the connected systems offer a sync: GetResponse lists and custom fields, Salesforce fields
(with the GetResponse fields each may map to, by the rules sync validation applies) and
Campaigns. Read by API clients and by the admin UI's wizard, which asks for the same lists again
and again while someone edits a sync: answers are kept per connection for
`SFGR_DISCOVERY_CACHE_S` seconds, so a page of dropdowns costs one call per vendor, not one per
dropdown.

Any vendor error is a 502 that names the vendor and says what it answered: these are reads, a
refused credential is no conflict of ours, and the person at the screen needs the vendor's words.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.errors import VendorError
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.control.errors import Conflict, VendorUnavailable
from app.control.sync_validation import LiveMetadata
from app.db import connections
from app.db.models import Connection
from app.domain.mapping import StandardField
from app.domain.mapping_validation import SalesforceFieldInfo, custom_field_problem
from app.domain.sides import ObjectType

T = TypeVar("T")


class ListRead(BaseModel):
    campaign_id: str
    name: str
    is_default: bool
    optin_type: str | None  # the list's opt-in for contacts added through the API: single or double


class CustomFieldRead(BaseModel):
    custom_field_id: str
    name: str
    type: str
    format: str | None
    values: list[str]


class Target(BaseModel):
    """One GetResponse field a Salesforce field might go to, and whether it may."""

    getresponse: str  # "email", "name" or a custom field id
    name: str
    type: str
    allowed: bool
    reason: str | None = None  # why not, in words, with the fix


class SalesforceFieldRead(BaseModel):
    name: str
    label: str
    type: str
    length: int | None
    required: bool
    updateable: bool
    picklist_values: list[str]
    targets: list[Target]


class CampaignRead(BaseModel):
    id: str
    name: str
    is_active: bool


class DiscoveryCache:
    """Answers per (connection, question) for `ttl_s` seconds; one per process."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._answers: dict[tuple[uuid.UUID, str], tuple[float, Any]] = {}
        self._lock = asyncio.Lock()

    async def get(self, connection_id: uuid.UUID, key: str, read: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        found = self._answers.get((connection_id, key))
        if found is not None and now - found[0] < self.ttl_s:
            answer: T = found[1]
            return answer
        value = await read()
        async with self._lock:
            self._answers = {k: v for k, v in self._answers.items() if now - v[0] < self.ttl_s}
            self._answers[(connection_id, key)] = (now, value)
        return value


async def _connection(session: AsyncSession, kind: Literal["salesforce", "getresponse"]) -> Connection:
    found = await connections.latest_connected(session, kind)
    if found is None:
        label = "the Salesforce org" if kind == "salesforce" else "the GetResponse account"
        raise Conflict(f"connect {label} first (/v1/connections)")
    return found


def _vendor_failed(vendor: str, exc: VendorError) -> VendorUnavailable:
    return VendorUnavailable(f"{vendor} answered an error: {exc.reason}")


async def _getresponse_call(
    vendors: Vendors, connection: Connection, call: Callable[[GetResponseClient], Awaitable[T]]
) -> T:
    try:
        return await call(await vendors.getresponse(connection.id))
    except VendorError as exc:
        raise _vendor_failed("GetResponse", exc) from exc


async def _salesforce_call(
    vendors: Vendors, connection: Connection, call: Callable[[SalesforceClient], Awaitable[T]]
) -> T:
    try:
        return await call(await vendors.salesforce(connection.id))
    except VendorError as exc:
        raise _vendor_failed("Salesforce", exc) from exc


async def getresponse_lists(session: AsyncSession, vendors: Vendors, cache: DiscoveryCache) -> list[ListRead]:
    connection = await _connection(session, "getresponse")

    async def read(client: GetResponseClient) -> list[ListRead]:
        # The opt-in type is only in a list's details (B8), one call per list.
        elements = await client.campaigns()
        details = await asyncio.gather(*(client.campaign(str(e.get("campaignId"))) for e in elements))
        return [
            ListRead(
                campaign_id=str(d.get("campaignId")),
                name=str(d.get("name")),
                is_default=str(d.get("isDefault")).lower() == "true",
                optin_type=(d.get("optinTypes") or {}).get("api"),
            )
            for d in details
        ]

    return await cache.get(connection.id, "lists", lambda: _getresponse_call(vendors, connection, read))


async def _custom_fields(
    vendors: Vendors, connection: Connection, cache: DiscoveryCache
) -> list[CustomFieldRead]:
    async def read(client: GetResponseClient) -> list[CustomFieldRead]:
        return [
            CustomFieldRead(
                custom_field_id=str(f.get("customFieldId")),
                name=str(f.get("name")),
                # The legacy shape says `type: single_select` and keeps the data type in valueType (B7).
                type=str(f.get("valueType") or f.get("type")),
                format=f.get("format") or f.get("fieldType"),
                values=[str(v) for v in f.get("values") or []],
            )
            for f in await client.custom_fields()
        ]

    return await cache.get(
        connection.id, "custom-fields", lambda: _getresponse_call(vendors, connection, read)
    )


async def getresponse_custom_fields(
    session: AsyncSession, vendors: Vendors, cache: DiscoveryCache
) -> list[CustomFieldRead]:
    return await _custom_fields(vendors, await _connection(session, "getresponse"), cache)


async def salesforce_fields(
    session: AsyncSession, vendors: Vendors, cache: DiscoveryCache, object_type: ObjectType
) -> list[SalesforceFieldRead]:
    """The object's fields, each with every GetResponse field it may (or may not) go to."""
    salesforce = await _connection(session, "salesforce")
    getresponse = await _connection(session, "getresponse")
    described = await cache.get(
        salesforce.id,
        f"describe:{object_type.value}",
        lambda: _salesforce_call(vendors, salesforce, lambda c: c.describe(object_type.value)),
    )
    custom_fields = await _custom_fields(vendors, getresponse, cache)
    fields = [f for f in described.get("fields") or [] if isinstance(f, dict)]
    metadata = LiveMetadata(
        describes={object_type: {str(f.get("name")): f for f in fields}}, campaigns={}, custom_fields={}
    )
    infos = metadata.field_infos()[object_type]
    return [
        SalesforceFieldRead(
            name=info.name,
            label=str(field.get("label") or info.name),
            type=info.type,
            length=field.get("length"),
            required=info.required,
            updateable=bool(field.get("updateable")),
            picklist_values=[
                str(v.get("value"))
                for v in field.get("picklistValues") or []
                if isinstance(v, dict) and v.get("active", True)
            ],
            targets=_targets(object_type, info, custom_fields),
        )
        for field, info in ((f, infos[str(f.get("name"))]) for f in fields)
    ]


def _targets(
    object_type: ObjectType, info: SalesforceFieldInfo, custom_fields: list[CustomFieldRead]
) -> list[Target]:
    standard = [
        Target(
            getresponse=StandardField.EMAIL,
            name="email",
            type="email",
            allowed=info.type == "email",
            reason=None if info.type == "email" else "only an email field can go to the GetResponse email",
        ),
        Target(
            getresponse=StandardField.NAME,
            name="name",
            type="name",
            allowed=info.name in ("FirstName", "LastName"),
            reason=None
            if info.name in ("FirstName", "LastName")
            else "the GetResponse name takes FirstName and LastName together",
        ),
    ]
    custom = []
    for field in custom_fields:
        problem = custom_field_problem(object_type, info, field.type, field.name)
        custom.append(
            Target(
                getresponse=field.custom_field_id,
                name=field.name,
                type=field.type,
                allowed=problem is None,
                reason=problem,
            )
        )
    return standard + custom


def _soql_text(value: str) -> str:
    """`value` inside a SOQL LIKE literal: quotes and backslashes escaped, wildcards taken literally."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return escaped.replace("%", "\\%").replace("_", "\\_")


async def salesforce_campaigns(
    session: AsyncSession, vendors: Vendors, cache: DiscoveryCache, query: str
) -> list[CampaignRead]:
    """Up to 50 Campaigns whose name contains `query` (all, by name, when it is empty)."""
    connection = await _connection(session, "salesforce")
    condition = f" WHERE Name LIKE '%{_soql_text(query)}%'" if query else ""
    soql = f"SELECT Id, Name, IsActive FROM Campaign{condition} ORDER BY Name LIMIT 50"  # noqa: S608 - escaped

    async def read(client: SalesforceClient) -> list[CampaignRead]:
        return [
            CampaignRead(id=str(r.get("Id")), name=str(r.get("Name")), is_active=bool(r.get("IsActive")))
            async for r in client.query(soql)
        ]

    return await cache.get(
        connection.id, f"campaigns:{query}", lambda: _salesforce_call(vendors, connection, read)
    )
