"""salesforce -> getresponse: apply a Salesforce change to the sync's GetResponse list.

For each sync the record feeds: lock the person's link, complete the Salesforce values if the
event carried only some, read the GetResponse contact (GetResponse has no conditional write, so
we read and merge before we write: design.md), resolve field by field, write only what differs.
A new person is created on the list (asynchronously: consumers/engine/pending.py); a delete removes the
person from the list and an undelete adds them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.bus import ConsumerRole
from app.clients.errors import Conflict, NotFound
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.db import decisions, links
from app.db.models import ContactLink
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.events import CAMPAIGN_DETAIL, ChangeEvent, Kind
from app.domain.groups import same_salesforce_id
from app.domain.resolver import Snapshot
from app.domain.sides import MissingEmail, ObjectType, Side
from app.domain.states import LinkState, NoteRule
from consumers.engine import batching, echoes, pending
from consumers.engine.creation import created_in_getresponse, getresponse_create
from consumers.engine.locked import Change, LockedLink, apply_once
from consumers.engine.merge import merge_and_write
from consumers.engine.paused import kept_for_paused
from consumers.engine.people import (
    GetResponsePerson,
    email_field,
    find_on_list,
    read_getresponse,
    read_salesforce,
    salesforce_snapshot,
    soql_literal,
)

ROLE = ConsumerRole.SALESFORCE_TO_GETRESPONSE
# How far before an overflow's commit its records may have been changed.
ENTITY_REREAD_WINDOW = timedelta(minutes=5)

# Whole-record events: a field they leave out is empty (CDC CREATE and UNDELETE send only the
# non-empty fields: api-contracts.md A2).
_COMPLETE_KINDS = frozenset({Kind.CREATED, Kind.UNDELETED})


@dataclass(frozen=True, kw_only=True)
class SalesforceToGetResponse:
    sessions: async_sessionmaker[AsyncSession]
    syncs: SyncDirectory
    vendors: Vendors

    async def apply(self, event: ChangeEvent) -> None:
        for sync in await self.syncs.for_salesforce(event.connection_id, event.object_type):
            if _about_another_campaign(sync, event):
                continue  # nothing changed for this sync: no read, no lock, no processed-event row
            if await kept_for_paused(self.sessions, sync, event):
                continue
            if event.kind is Kind.REREAD and event.detail.get("reread") == "entity":
                await self._reread_entity(sync, event)
            else:
                await self._apply(sync, event)

    async def _reread_entity(self, sync: SyncConfig, event: ChangeEvent) -> None:
        """A CDC overflow (or a wildcard record id) names no records: re-read every record of the
        object changed around the event's commit, one at a time (api-contracts.md A2). A gap
        re-read after an expired Pub/Sub replay id names where the gap starts (`detail.since`)."""
        since = (
            datetime.fromisoformat(event.detail["since"]).astimezone(UTC)
            if isinstance(event.detail.get("since"), str)
            else (event.source_timestamp or datetime.now(UTC)) - ENTITY_REREAD_WINDOW
        )
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        soql = (
            f"SELECT Id FROM {ObjectType(event.object_type).value} "  # noqa: S608 - an enum value
            f"WHERE SystemModstamp >= {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )
        async for record in sf.query(soql):
            record_id = str(record["Id"])
            one = event.model_copy(
                update={"record_id": record_id, "event_id": f"{event.event_id}:{record_id}", "detail": {}}
            )
            await self._apply(sync, one)

    async def _apply(self, sync: SyncConfig, event: ChangeEvent) -> None:
        object_type = ObjectType(event.object_type)
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)

        async def step(session: AsyncSession) -> None:
            change = Change(session, sync, event, sf, gr)
            link = await links.lock_by_salesforce_id(session, sync.id, event.record_id)
            locked = change.lock(link, object_type) if link else None
            if event.kind is not Kind.DELETED and not await _in_group(sf, sync, object_type, event.record_id):
                # Outside the sync's group (its SOQL filter, its Campaign): a person who was linked
                # stays on the list as they are (leaving the group is not leaving the list); nothing
                # more goes there.
                return
            if event.kind is Kind.DELETED:
                if locked is not None:
                    await _remove_from_list(locked)
            else:
                await _changed(change, object_type, locked)

        await apply_once(self.sessions, ROLE, f"{sync.id}:{event.event_id}", step)


async def _changed(change: Change, object_type: ObjectType, locked: LockedLink | None) -> None:
    sync, event = change.sync, change.event
    snapshot = await _salesforce_snapshot(change, object_type, complete_by_read=locked is None)
    if snapshot is None:  # the record is gone: a later DELETE event says so too
        if locked is not None:
            await _remove_from_list(locked)
        return
    if locked is None:
        email_name, _ = email_field(sync, object_type)
        email = snapshot.values.get(email_name)
        if not isinstance(email, str):
            raise MissingEmail(
                f"Salesforce {object_type} {event.record_id} has no email: it cannot be put on "
                f"GetResponse list {sync.campaign_id}"
            )
        link = await links.claim_email(change.session, sync.id, email)
        locked = change.lock(link, object_type)
        if link.salesforce_id not in (None, event.record_id):
            decisions.log_note(
                change.session,
                link,
                field="salesforce_id",
                rule=NoteRule.DUPLICATE,
                new=event.record_id,
                reason=f"{email} is already linked to Salesforce record {link.salesforce_id} in this "
                "sync; this record is a duplicate and is not synced",
                event_id=event.event_id,
            )
            return
        link.salesforce_id = event.record_id
        link.salesforce_object = object_type.value
    await _push(locked, snapshot, event)
    links.touch(locked.link)


async def _salesforce_snapshot(
    change: Change, object_type: ObjectType, *, complete_by_read: bool
) -> Snapshot | None:
    """The Salesforce side as the event tells it, completed by a read when it is not enough (and
    read whole when `complete_by_read` and the event is not a whole record)."""
    sync, event, sf = change.sync, change.event, change.sf
    if event.kind is Kind.REREAD or (complete_by_read and event.kind not in _COMPLETE_KINDS):
        # A gap event carries no data, and a new person needs every mapped field.
        current = await read_salesforce(sf, sync, object_type, event.record_id)
        return current.snapshot if current else None
    record: dict[str, Any] = dict(event.fields)
    missing = sync.mapping.salesforce_fields_to_complete(record, object_type)
    if missing:
        try:
            record.update(await sf.get(object_type.value, event.record_id, fields=missing))
        except NotFound:
            return None
    return salesforce_snapshot(
        sync, object_type, record, event.source_timestamp, complete=event.kind in _COMPLETE_KINDS
    )


async def _in_group(sf: SalesforceClient, sync: SyncConfig, object_type: ObjectType, record_id: str) -> bool:
    """Whether the record is one the sync's group selects: its SOQL filter and its Campaign
    (always, without either)."""
    condition = sync.group_condition(object_type)
    if condition is None:
        return True
    soql = (
        f"SELECT Id FROM {object_type.value} "  # noqa: S608 - the filter is the admin's, validated live
        f"WHERE Id = {soql_literal(record_id)} AND {condition}"
    )
    return any([record async for record in sf.query(soql)])


def _about_another_campaign(sync: SyncConfig, event: ChangeEvent) -> bool:
    """A person joined a Campaign that is not this sync's group: nothing changed for this sync."""
    joined = event.detail.get(CAMPAIGN_DETAIL)
    if not isinstance(joined, str):
        return False
    return sync.salesforce_campaign_id is None or not same_salesforce_id(joined, sync.salesforce_campaign_id)


async def _push(locked: LockedLink, snapshot: Snapshot, event: ChangeEvent) -> None:
    link, sync = locked.link, locked.sync
    at = snapshot.at
    if link.state in (LinkState.DELETED, LinkState.REMOVING) and event.kind is not Kind.UNDELETED:
        return  # removed from the list with the record; only an undelete brings the person back
    if link.state is LinkState.REMOVING:
        link.state = LinkState.PENDING  # undeleted before our create showed up: wait for it again
    if link.removed_from_list:
        _not_on_list(
            locked, at, "the person left the GetResponse list; Salesforce changes are not sent there"
        )
        return
    if link.state == LinkState.DELETED:  # undelete: back on the list as a new contact
        link.base = {}
        await _create(locked, snapshot)
        return
    contact = None
    if echoes.salesforce_agrees(link, snapshot.values):
        # The echo of our own PATCH (Outbound Messages carry no origin), the create's second
        # delivery, or a save of fields the sync does not map: nothing to write, and the record
        # is now known as of its time.
        links.note_salesforce_time(link, at)
        return
    if link.getresponse_contact_id:
        contact = await read_getresponse(locked.gr, sync, link.getresponse_contact_id)
        if contact is None:
            # Gone from the list: the unsubscribe or removal webhook tells the other direction,
            # which sets the marker; writing here would re-add someone who left.
            _not_on_list(locked, at, "the GetResponse contact no longer exists; nothing written")
            return
    elif link.pending_since is not None:
        # Our create is on its way: this change joins those held for it, and all of them are
        # written in one merge once the contact shows up (now, or through a lookup or its webhook).
        pending.hold_changes(link, dict(snapshot.values), at)
        links.note_salesforce_time(link, at)
        if batching.queued_body(link) is not None:
            return  # not sent yet: nothing to find
        contact = await find_on_list(locked.gr, sync, link.email_normalized)
        if contact is not None:
            await pending.attach(locked, contact)
        return
    else:
        # A new person: created without a search first; one already on the list answers 409
        # (C8), and _create merges with that contact instead.
        await _create(locked, snapshot)
        return
    link.state = LinkState.LINKED
    gr_snapshot, defer = _getresponse_side(link, contact)
    await merge_and_write(
        locked,
        snapshot,
        gr_snapshot,
        contact=contact,
        salesforce_modified_at=at,
        first_sync=not link.base,
        defer=defer,
    )


def _not_on_list(locked: LockedLink, at: datetime | None, reason: str) -> None:
    """Nothing goes to the list for this person; the Salesforce side is known as of `at`."""
    decisions.log_note(
        locked.session,
        locked.link,
        field="*",
        rule=NoteRule.NOT_ON_LIST,
        reason=reason,
        event_id=locked.event_id,
    )
    links.note_salesforce_time(locked.link, at)


def _getresponse_side(link: ContactLink, contact: GetResponsePerson) -> tuple[Snapshot, dict[str, str]]:
    """The contact as a snapshot, and the fields whose GetResponse change has no known time.

    GetResponse bumps `changedOn` for some edits only (custom-field edits may not: api-contracts.md
    B9, UNCONFIRMED), so a value that differs from the base while `changedOn` is no newer than what
    the link has seen was changed at an unknown instant. Resolving it here by the preferred system
    could overwrite a later GetResponse edit; its own event (the custom-field webhook, with its
    exact time) decides instead.
    """
    known = link.getresponse_changed_on
    if contact.changed_on is not None and (known is None or contact.changed_on > known):
        return contact.snapshot, {}
    base = link.base
    defer = {
        name: "changed in GetResponse at an unknown time; the event of that change decides"
        for name, value in contact.snapshot.values.items()
        if name in base and base[name]["value"] != value
    }
    return contact.snapshot, defer


async def _create(locked: LockedLink, snapshot: Snapshot) -> None:
    """Put a new person on the list. The id comes later (consumers/engine/pending.py)."""
    link, sync = locked.link, locked.sync
    create = getresponse_create(sync, snapshot)
    if await batching.in_burst(locked.session, sync, link):
        created_in_getresponse(
            locked.session,
            link,
            sync,
            create,
            reason=f"new person: queued with others for GetResponse list {sync.campaign_id}",
            event_id=locked.event_id,
        )
        batching.queue(link, create.body)
        link.next_lookup_at = pending.now() + batching.GATHER
        return
    try:
        await locked.gr.create_contact({**create.body, "campaign": {"campaignId": sync.campaign_id}})
        metrics.wrote("getresponse", "create")
    except Conflict:
        # Already on the list (a form signup, or our own earlier attempt): merge with it instead.
        contact = await find_on_list(locked.gr, sync, link.email_normalized)
        if contact is None:
            raise
        link.getresponse_contact_id = contact.id
        link.state = LinkState.LINKED
        await merge_and_write(
            locked,
            snapshot,
            contact.snapshot,
            contact=contact,
            salesforce_modified_at=snapshot.at,
            first_sync=not link.base,
        )
        return
    created_in_getresponse(
        locked.session,
        link,
        sync,
        create,
        reason=f"new person: created on GetResponse list {sync.campaign_id}",
        event_id=locked.event_id,
    )


async def _remove_from_list(locked: LockedLink) -> None:
    link = locked.link
    if link.state in (LinkState.DELETED, LinkState.REMOVING):
        return
    if batching.queued_body(link) is not None:
        # Queued and not sent yet: it never will be.
        link.state = LinkState.DELETED
        link.next_lookup_at = None
        link.pending_changes = {}
        reason = "deleted in Salesforce before its GetResponse create was sent: not created"
    elif link.getresponse_contact_id is None and link.pending_since is not None:
        # Our create is still on its way: the lookups keep looking, and remove the contact once
        # it shows up, instead of linking it (consumers/engine/pending.py).
        link.state = LinkState.REMOVING
        link.pending_changes = {}
        reason = (
            "deleted in Salesforce while its GetResponse create was pending: removed from the "
            "list once it shows up"
        )
    else:
        if link.getresponse_contact_id:
            await pending.delete_contact(locked.gr, link.getresponse_contact_id)
        link.state = LinkState.DELETED
        link.next_lookup_at = None
        reason = "deleted in Salesforce: removed from the GetResponse list"
    decisions.log_note(
        locked.session,
        link,
        field="*",
        rule=NoteRule.DELETED,
        winner=Side.SALESFORCE.value,
        write_to=Side.GETRESPONSE.value,
        reason=reason,
        event_id=locked.event_id,
    )
    links.touch(link)
