"""Reading one person on either side, as canonical snapshots the resolver can compare.

Both directions need the same reads (a Salesforce record by id or by email, a GetResponse contact
by id or by exact email on the list), so they live here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clients.errors import NotFound
from app.clients.getresponse import GetResponseClient
from app.clients.getresponse_formats import parse_datetime as parse_getresponse_datetime
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_formats import parse_datetime as parse_salesforce_datetime
from app.db.syncs import SyncConfig
from app.domain.coercion import FieldKind, normalize_email
from app.domain.resolver import Snapshot
from app.domain.sides import ObjectType, Side, Value


def email_field(sync: SyncConfig, object_type: ObjectType) -> tuple[str, str]:
    """(canonical name, Salesforce field) of the email mapping: every valid sync has one."""
    for mapping in sync.mapping.for_object(object_type):
        if mapping.kind is FieldKind.EMAIL and isinstance(mapping.salesforce, str):
            return mapping.name, mapping.salesforce
    raise ValueError(f"sync {sync.id} maps no email for {object_type}")


@dataclass(frozen=True)
class SalesforcePerson:
    id: str
    object_type: ObjectType
    record: dict[str, Any]
    snapshot: Snapshot

    @property
    def modified_at(self) -> datetime | None:
        return self.snapshot.at

    def email(self, sync: SyncConfig) -> str | None:
        name, _ = email_field(sync, self.object_type)
        value = self.snapshot.values.get(name)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class GetResponsePerson:
    id: str
    contact: dict[str, Any]
    snapshot: Snapshot

    @property
    def changed_on(self) -> datetime | None:
        return self.snapshot.at

    @property
    def email(self) -> str | None:
        return normalize_email(self.contact.get("email"))


def salesforce_fields(sync: SyncConfig, object_type: ObjectType) -> list[str]:
    return [*sync.mapping.salesforce_field_names(object_type), "LastModifiedDate"]


def salesforce_snapshot(
    sync: SyncConfig,
    object_type: ObjectType,
    record: dict[str, Any],
    at: datetime | None,
    *,
    complete: bool,
) -> Snapshot:
    values = sync.mapping.salesforce_to_canonical(record, object_type, complete=complete)
    return Snapshot(
        Side.SALESFORCE, values, at=at, complete=False, carries=sync.mapping.canonical_names(object_type)
    )


def salesforce_person(sync: SyncConfig, object_type: ObjectType, record: dict[str, Any]) -> SalesforcePerson:
    modified = record.get("LastModifiedDate")
    at = parse_salesforce_datetime(modified) if isinstance(modified, str) else None
    snapshot = salesforce_snapshot(sync, object_type, record, at, complete=True)
    return SalesforcePerson(str(record["Id"]), object_type, record, snapshot)


async def read_salesforce(
    sf: SalesforceClient, sync: SyncConfig, object_type: ObjectType, record_id: str
) -> SalesforcePerson | None:
    try:
        record = await sf.get(object_type.value, record_id, fields=salesforce_fields(sync, object_type))
    except NotFound:
        return None
    record.setdefault("Id", record_id)
    return salesforce_person(sync, object_type, record)


def soql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def find_salesforce_by_email(
    sf: SalesforceClient, sync: SyncConfig, email: str
) -> list[SalesforcePerson]:
    """Every live record of the sync's objects with this email, oldest first."""
    found: list[SalesforcePerson] = []
    for object_type in sorted(sync.salesforce_objects):
        _, field = email_field(sync, object_type)
        fields = ", ".join(["Id", *salesforce_fields(sync, object_type)])
        soql = (
            # Field names are API names checked by the mapping's pattern; the value is escaped.
            f"SELECT {fields} FROM {object_type.value} WHERE {field} = {soql_literal(email)} "  # noqa: S608
            "ORDER BY CreatedDate ASC LIMIT 10"
        )
        async for record in sf.query(soql):
            found.append(salesforce_person(sync, object_type, record))
    return found


def getresponse_person(sync: SyncConfig, contact: dict[str, Any]) -> GetResponsePerson:
    values: dict[str, Value] = sync.mapping.getresponse_to_canonical(contact)
    changed = contact.get("changedOn")
    at = parse_getresponse_datetime(changed) if isinstance(changed, str) and changed else None
    return GetResponsePerson(
        str(contact["contactId"]), contact, Snapshot(Side.GETRESPONSE, values, at=at, complete=True)
    )


async def read_getresponse(
    gr: GetResponseClient, sync: SyncConfig, contact_id: str
) -> GetResponsePerson | None:
    try:
        contact = await gr.get_contact(contact_id)
    except NotFound:
        return None
    return getresponse_person(sync, contact)


async def find_on_list(gr: GetResponseClient, sync: SyncConfig, email: str) -> GetResponsePerson | None:
    """The contact with exactly this email on the sync's list (an exact match: C10), read in full."""
    for element in await gr.find_contacts(email=email, campaign_id=sync.campaign_id):
        if normalize_email(element.get("email")) == email:
            return await read_getresponse(gr, sync, str(element["contactId"]))
    return None
