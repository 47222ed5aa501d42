"""getresponse -> salesforce: apply a GetResponse change to Salesforce.

Webhooks and the poller only say "contact X on list Y changed", so the contact is read again and
resolved against the link's base; the Salesforce write is a conditional PATCH (412: re-read and
merge). A new person becomes a Lead or a Contact, as the sync says, after a search by email so
that a retry never creates a second record. Leaving the list never deletes in Salesforce: it sets
the sync's marker field (and HasOptedOutOfEmail when configured); coming back clears them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.bus import ConsumerRole
from app.clients.errors import NotFound
from app.clients.vendors import Vendors
from app.db import decisions, links
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.events import ChangeEvent, Kind, Transport
from app.domain.resolver import Snapshot
from app.domain.sides import MissingEmail, ObjectType, Side
from app.domain.states import LinkState, NoteRule
from consumers.engine import echoes, pending
from consumers.engine.campaigns import join_campaign
from consumers.engine.creation import created_in_salesforce, salesforce_create
from consumers.engine.locked import Change, LockedLink, apply_once
from consumers.engine.merge import merge_and_write
from consumers.engine.paused import kept_for_paused
from consumers.engine.people import (
    GetResponsePerson,
    find_salesforce_by_email,
    read_getresponse,
    read_salesforce,
)

ROLE = ConsumerRole.GETRESPONSE_TO_SALESFORCE
OPT_OUT_FIELD = "HasOptedOutOfEmail"


@dataclass(frozen=True, kw_only=True)
class GetResponseToSalesforce:
    sessions: async_sessionmaker[AsyncSession]
    syncs: SyncDirectory
    vendors: Vendors

    async def apply(self, event: ChangeEvent) -> None:
        sync = await self._sync_of(event)
        if sync is None:
            return  # not a list any sync feeds
        if await kept_for_paused(self.sessions, sync, event):
            return
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)

        async def step(session: AsyncSession) -> None:
            change = Change(session, sync, event, sf, gr)
            leaving = event.kind in (Kind.UNSUBSCRIBED, Kind.REMOVED)
            link = await links.lock_by_getresponse_id(session, sync.id, event.record_id)
            # A removal applies to the link of its own contact id only: by email, a webhook naming
            # any contact could mark anyone who shares that address.
            if link is None and event.email and not leaving:
                link = await links.lock_by_email(session, sync.id, event.email.strip().lower())
            object_type = (
                ObjectType(link.salesforce_object) if link and link.salesforce_object else sync.create_as
            )
            locked = change.lock(link, object_type) if link else None
            if leaving:
                if locked is not None:
                    await _left_list(locked, event)
            else:
                await _changed(change, object_type, locked)

        await apply_once(self.sessions, ROLE, f"{sync.id}:{event.event_id}", step)

    async def _sync_of(self, event: ChangeEvent) -> SyncConfig | None:
        if event.campaign_id:
            return await self.syncs.for_campaign(event.campaign_id)
        # A payload without the list: ask GetResponse which list the contact is on.
        for sync in await self.syncs.all():
            if not sync.state.listening or (
                event.connection_id and str(sync.getresponse_connection_id) != event.connection_id
            ):
                continue
            gr = await self.vendors.getresponse(sync.getresponse_connection_id)
            try:
                contact = await gr.get_contact(event.record_id)
            except NotFound:
                return None
            return await self.syncs.for_campaign(str(contact.get("campaign", {}).get("campaignId", "")))
        return None


async def _changed(change: Change, object_type: ObjectType, locked: LockedLink | None) -> None:
    sync, event = change.sync, change.event
    link = locked.link if locked else None
    if (
        link is not None
        and event.transport is Transport.POLLER
        and event.source_timestamp is not None
        and link.getresponse_changed_on is not None
        and event.source_timestamp < link.getresponse_changed_on
    ):
        return  # the poll reports nothing newer than what this link already holds
    if echoes.known_to_link(sync, link, event):
        return  # our own write or create coming back: the base already holds all it says
    if locked is not None and echoes.left_to_lookups(locked.link, event):
        return  # the contact of a batched create: the list's search links it, and can tell it is ours
    if locked is not None and echoes.arrived_as_created(sync, locked.link, event):
        await pending.attach(locked, pending.arrived_contact(sync, event))  # our create, as sent
        links.touch(locked.link)
        return
    contact = await read_getresponse(change.gr, sync, event.record_id)
    if contact is None:
        return  # gone again: its unsubscribe or removal event is handled on its own
    contact = _stamped(contact, event)
    email = contact.email
    if email is None:
        raise MissingEmail(f"GetResponse contact {contact.id} has no email")
    if locked is None:
        link = await links.claim_email(change.session, sync.id, email)
        object_type = ObjectType(link.salesforce_object) if link.salesforce_object else sync.create_as
        locked = change.lock(link, object_type)
    link = locked.link
    if link.state is LinkState.REMOVING:
        await pending.remove_arrived(locked, contact)  # our create of a person deleted since
        links.touch(link)
        return
    if link.state == LinkState.PENDING and link.pending_since is not None:
        await pending.attach(locked, contact)  # our own create has shown up
        links.touch(link)
        return
    if link.getresponse_contact_id not in (None, contact.id) and not link.removed_from_list:
        if link.state != LinkState.DELETED:
            decisions.log_note(
                change.session,
                link,
                field="getresponse_contact_id",
                rule=NoteRule.DUPLICATE,
                new=contact.id,
                reason=f"{email} is already linked to contact {link.getresponse_contact_id}",
                event_id=event.event_id,
            )
            return
    link.getresponse_contact_id = contact.id
    if link.removed_from_list:
        await _back_on_list(locked)
    if link.state == LinkState.DELETED:
        # The Salesforce record was deleted earlier; this person came back through GetResponse.
        link.salesforce_id = None
        link.base = {}
    link.state = LinkState.LINKED
    if link.salesforce_id is None:
        await _link_or_create_in_salesforce(locked, contact)
    else:
        other = None
        modified_at = link.salesforce_modified_at
        if modified_at is None:
            current = await read_salesforce(locked.sf, sync, locked.object_type, link.salesforce_id)
            if current is None:
                return  # deleted in Salesforce: its DELETE event removes the person from the list
            other, modified_at = current.snapshot, current.modified_at
        await merge_and_write(
            locked,
            contact.snapshot,
            other,
            contact=contact,
            salesforce_modified_at=modified_at,
            salesforce_read_now=other is not None,
            first_sync=not link.base,
        )
    links.touch(link)


async def _link_or_create_in_salesforce(locked: LockedLink, contact: GetResponsePerson) -> None:
    link, sync = locked.link, locked.sync
    email = link.email_normalized
    existing = await find_salesforce_by_email(locked.sf, sync, email)
    if existing:
        record = existing[0]
        link.salesforce_id = record.id
        link.salesforce_object = record.object_type.value
        locked.object_type = record.object_type
        if len(existing) > 1:
            decisions.log_note(
                locked.session,
                link,
                field="salesforce_id",
                rule=NoteRule.DUPLICATE,
                new=record.id,
                reason=f"{len(existing)} Salesforce records have {email}; linked the oldest, {record.id}",
                event_id=locked.event_id,
            )
        await merge_and_write(
            locked,
            contact.snapshot,
            record.snapshot,
            contact=contact,
            salesforce_modified_at=record.modified_at,
            salesforce_read_now=True,
            first_sync=not link.base,
        )
        await join_campaign(locked)
        return
    create = salesforce_create(sync, sync.create_as, contact)
    new_id = await locked.sf.create(create.object_type.value, create.fields)
    metrics.wrote("salesforce", "create")
    locked.object_type = create.object_type
    created_in_salesforce(
        locked.session,
        link,
        create,
        new_id,
        reason=f"new person on the GetResponse list: created Salesforce {create.object_type} {new_id}",
        event_id=locked.event_id,
    )
    await join_campaign(locked)


def _stamped(contact: GetResponsePerson, event: ChangeEvent) -> GetResponsePerson:
    """Date the contact by the later of `changedOn` and the webhook's `occurredAt`: some edits
    (custom fields) do not bump `changedOn` (B9), but their webhook says when they happened."""
    occurred = event.source_timestamp
    if event.transport is not Transport.WEBHOOK or occurred is None:
        return contact
    if contact.changed_on is not None and contact.changed_on >= occurred:
        return contact
    snapshot = Snapshot(contact.snapshot.side, contact.snapshot.values, at=occurred, complete=True)
    return GetResponsePerson(contact.id, contact.contact, snapshot)


def _marker_fields(sync: SyncConfig, value: bool) -> dict[str, bool]:
    fields: dict[str, bool] = {}
    if sync.marker_field:
        fields[sync.marker_field] = value
    if sync.set_opt_out:
        fields[OPT_OUT_FIELD] = value
    return fields


async def _left_list(locked: LockedLink, event: ChangeEvent) -> None:
    link = locked.link
    if link.state in (LinkState.DELETED, LinkState.REMOVING) or link.removed_from_list:
        return  # the echo of our own delete, or a repeat
    if await _still_on_list(locked, event.record_id):
        # Webhooks carry no signature: whoever holds the webhook URL could send this one.
        decisions.log_note(
            locked.session,
            link,
            field="*",
            rule=NoteRule.REMOVAL_UNCONFIRMED,
            new=False,
            winner=None,
            write_to=None,
            reason=(
                f"{event.kind.value} reported, but GetResponse still has contact {event.record_id} on "
                f"list {locked.sync.campaign_id}: nothing written to Salesforce"
            ),
            event_id=locked.event_id,
        )
        links.touch(link)
        return
    await _mark(
        locked,
        on=True,
        rule=NoteRule.LEFT_LIST,
        reason=f"{event.kind.value} in GetResponse: marked in Salesforce, never deleted there",
    )


async def _still_on_list(locked: LockedLink, contact_id: str) -> bool:
    """One read of the contact: GetResponse answers 404 for a contact that unsubscribed, bounced or
    was removed (B6), so a contact it still shows on the sync's list has not left it."""
    try:
        contact = await locked.gr.get_contact(contact_id, fields=["campaign"])
    except NotFound:
        return False
    campaign = contact.get("campaign")
    on_list = campaign.get("campaignId") if isinstance(campaign, dict) else None
    return on_list == locked.sync.campaign_id


async def _back_on_list(locked: LockedLink) -> None:
    await _mark(
        locked,
        on=False,
        rule=NoteRule.BACK_ON_LIST,
        reason="subscribed to the GetResponse list again: marker cleared",
    )


async def _mark(locked: LockedLink, *, on: bool, rule: NoteRule, reason: str) -> None:
    """Set or clear the sync's marker field (and HasOptedOutOfEmail when configured)."""
    link = locked.link
    link.removed_from_list = on
    fields = _marker_fields(locked.sync, on)
    if link.salesforce_id and fields:
        try:
            await locked.sf.update(locked.object_type.value, link.salesforce_id, fields)
            metrics.wrote("salesforce", "update")
        except NotFound:
            pass  # deleted in Salesforce meanwhile
        link.salesforce_modified_at = None
    decisions.log_note(
        locked.session,
        link,
        field=",".join(fields) or "*",
        rule=rule,
        new=on,
        winner=Side.GETRESPONSE.value,
        write_to=Side.SALESFORCE.value if fields else None,
        reason=reason,
        event_id=locked.event_id,
    )
    links.touch(link)
