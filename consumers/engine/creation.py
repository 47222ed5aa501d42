"""Putting a new person on the other side: every create path, live or first sync, goes through here.

A create is planned from the source side's snapshot (what the target's fields take, and which
values they refuse), sent by the caller (one contact or a batch, one record or an sObject
Collection), and then recorded on the link: the base becomes every value the target took, stamped
with the source side's time, and the decision log says who was created where.

GetResponse creates are asynchronous (202, no id: api-contracts.md C8): the link waits as
`pending` until the contact shows up (consumers/engine/pending.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import decisions, links
from app.db.models import ContactLink
from app.db.syncs import SyncConfig
from app.domain.mapping import CoercionNote
from app.domain.resolver import FieldState, Snapshot, base_to_json
from app.domain.sides import ObjectType, Side
from app.domain.states import LinkState, NoteRule
from consumers.engine import pending
from consumers.engine.people import GetResponsePerson

LEAD_SOURCE_FIELD = "LeadSource"


@dataclass(frozen=True)
class GetResponseCreate:
    """A contact to create from a Salesforce snapshot: its body (without the list), the values
    GetResponse's fields refuse, and the values left out with the reason."""

    snapshot: Snapshot
    body: dict[str, Any]
    skipped: tuple[CoercionNote, ...]

    @property
    def refused(self) -> dict[str, str]:
        return {note.field: note.reason for note in self.skipped}


@dataclass(frozen=True)
class SalesforceCreate:
    """A record to create from a GetResponse contact: its fields and the values Salesforce refuses."""

    contact: GetResponsePerson
    object_type: ObjectType
    fields: dict[str, Any]
    refused: Mapping[str, str]


def getresponse_create(sync: SyncConfig, snapshot: Snapshot) -> GetResponseCreate:
    write = sync.mapping.canonical_to_getresponse(dict(snapshot.values))
    return GetResponseCreate(snapshot, dict(write.payload), write.skipped)


def salesforce_create(
    sync: SyncConfig, object_type: ObjectType, contact: GetResponsePerson
) -> SalesforceCreate:
    """The record's fields, with the sync's LeadSource on a new Lead."""
    write = sync.mapping.canonical_to_salesforce(dict(contact.snapshot.values), object_type, creating=True)
    fields = dict(write.fields)
    if sync.lead_source and object_type is ObjectType.LEAD:
        fields[LEAD_SOURCE_FIELD] = sync.lead_source
    return SalesforceCreate(contact, object_type, fields, write.refused)


def created_base(snapshot: Snapshot, refused: Mapping[str, str]) -> dict[str, Any]:
    """The base of a person just created on the other side from `snapshot`: every value the other
    side took is now agreed, stamped with the source side's time."""
    return base_to_json(
        {
            name: FieldState(value, snapshot.at, snapshot.side)
            for name, value in snapshot.values.items()
            if name not in refused
        }
    )


def created_in_getresponse(
    session: AsyncSession,
    link: ContactLink,
    sync: SyncConfig,
    create: GetResponseCreate,
    *,
    reason: str,
    event_id: str | None,
) -> None:
    """Record a create GetResponse accepted: the link waits for the contact's id."""
    link.base = created_base(create.snapshot, create.refused)
    pending.mark_created(link)
    links.note_salesforce_time(link, create.snapshot.at)
    decisions.log_note(
        session,
        link,
        field="*",
        rule=NoteRule.CREATED,
        winner=Side.SALESFORCE.value,
        write_to=Side.GETRESPONSE.value,
        new=sorted([*create.body, "campaign"]),
        reason=reason,
        event_id=event_id,
    )
    for note in create.skipped:
        decisions.log_note(
            session,
            link,
            field=note.field,
            rule=NoteRule.NOT_WRITABLE,
            old=note.value,
            reason=f"not written to GetResponse: {note.reason}",
            event_id=event_id,
        )


def created_in_salesforce(
    session: AsyncSession,
    link: ContactLink,
    create: SalesforceCreate,
    record_id: str,
    *,
    reason: str,
    event_id: str | None,
) -> None:
    """Record a Salesforce record created for a GetResponse contact: the two are linked."""
    link.salesforce_id = record_id
    link.salesforce_object = create.object_type.value
    link.getresponse_contact_id = create.contact.id
    link.getresponse_changed_on = create.contact.changed_on
    link.state = LinkState.LINKED
    link.base = created_base(create.contact.snapshot, create.refused)
    decisions.log_note(
        session,
        link,
        field="*",
        rule=NoteRule.CREATED,
        winner=Side.GETRESPONSE.value,
        write_to=Side.SALESFORCE.value,
        new=record_id,
        reason=reason,
        event_id=event_id,
    )
