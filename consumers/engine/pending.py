"""GetResponse creates are asynchronous (202, no id: api-contracts.md C8).

After `POST /contacts` the link stays `pending` with its email and list. The contact's id is
filled by whichever comes first: the subscribe webhook (the getresponse -> salesforce consumer
finds the link by email), or this module's lookup loop, which searches the list by exact email
with a growing delay. Salesforce changes that arrive meanwhile wait in `pending_changes` and are
merged and written once the contact is known. A contact that never appears (GetResponse may
reject it later, e.g. an invalid domain) is given up on after MAX_LOOKUPS answers that it is not
on the list, and the decision log says so. A lookup that gets no answer (a 5xx, a 429, a timeout,
a refused credential) says nothing about the contact: it is asked again later, on a backoff, and
does not count towards giving up, so an outage of GetResponse delays the link but never drops
it. A person deleted in Salesforce meanwhile waits as `removing`: their contact is taken off the
list as soon as it shows up, instead of being linked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app import metrics
from app.clients.errors import NotFound, RateLimited, Transient, VendorError
from app.clients.getresponse import GetResponseClient
from app.clients.getresponse_formats import parse_datetime as parse_getresponse_datetime
from app.clients.vendors import Vendors
from app.db import decisions, links
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.coercion import normalize_email
from app.domain.events import ChangeEvent
from app.domain.resolver import Snapshot
from app.domain.sides import ObjectType, Side, Value
from app.domain.states import LinkState, NoteRule
from app.logs import get_logger
from consumers.engine import batching
from consumers.engine.locked import LockedLink
from consumers.engine.merge import merge_and_write
from consumers.engine.people import GetResponsePerson, find_on_list, getresponse_person, read_getresponse

log = get_logger(__name__)

FIRST_LOOKUP_AFTER = timedelta(milliseconds=250)
MAX_LOOKUP_DELAY = timedelta(seconds=30)
MAX_LOOKUPS = 14  # about five minutes in all
# A missed link is also looked up by its email from this many misses on (see PendingLookups).
EXACT_LOOKUP_AFTER = 2
# The list's search starts this long before the oldest due create was sent: GetResponse's times
# have whole seconds, and its clock and ours may differ a little. A contact dated earlier still
# than that is found by the exact-email lookup instead. (A wide margin costs every search the
# whole burst's contacts again.)
CREATED_SEARCH_MARGIN = timedelta(seconds=2)
# A batched create's contact is not dated earlier than this before the batch was sent.
CLOCK_MARGIN = timedelta(seconds=1)
PAUSED_LOOKUP_DELAY = timedelta(seconds=5)  # while its sync is paused, a lookup waits


def now() -> datetime:
    return datetime.now(UTC)


def mark_created(link: ContactLink) -> None:
    """The create was sent: wait for the contact to show up."""
    link.state = LinkState.PENDING
    link.getresponse_contact_id = None
    link.pending_since = now()
    link.lookup_attempts = 0
    link.next_lookup_at = now() + FIRST_LOOKUP_AFTER


def hold_changes(link: ContactLink, values: dict[str, Value], at: datetime | None) -> None:
    """Keep Salesforce changes for a contact whose id is not known yet; later values win."""
    held: dict[str, Any] = dict(link.pending_changes.get("values", {}))
    held.update(values)
    previous = link.pending_changes.get("at")
    latest = at.isoformat() if at else previous
    if previous and at and datetime.fromisoformat(previous) > at:
        latest = previous
    link.pending_changes = {**link.pending_changes, "values": held, "at": latest}


def held_snapshot(link: ContactLink, sync: SyncConfig, object_type: ObjectType) -> Snapshot | None:
    if not link.pending_changes.get("values"):
        return None
    at = link.pending_changes.get("at")
    return Snapshot(
        Side.SALESFORCE,
        dict(link.pending_changes["values"]),
        at=datetime.fromisoformat(at) if at else None,
        carries=sync.mapping.canonical_names(object_type),
    )


async def attach(locked: LockedLink, contact: GetResponsePerson) -> None:
    """The contact of a pending link is known: record its id and write what waited for it."""
    link = locked.link
    link.getresponse_contact_id = contact.id
    link.state = LinkState.LINKED
    link.pending_since = None
    link.next_lookup_at = None
    held = held_snapshot(link, locked.sync, locked.object_type)
    if held is not None:
        await merge_and_write(
            locked,
            held,
            contact.snapshot,
            contact=contact,
            salesforce_modified_at=link.salesforce_modified_at,
        )
    elif contact.changed_on is not None and _agrees_with_base(link, contact):
        # Known as of its changedOn only when it shows what the base holds: an edit made since
        # the create is then read and merged when its poll or webhook comes (echoes.py).
        link.getresponse_changed_on = contact.changed_on
    link.pending_changes = {}
    decisions.log_note(
        locked.session,
        link,
        field="getresponse_contact_id",
        rule=NoteRule.LINKED,
        new=contact.id,
        reason="the contact GetResponse created asynchronously is now known",
        event_id=locked.event_id,
    )


def _agrees_with_base(link: ContactLink, contact: GetResponsePerson) -> bool:
    base = link.base
    shown = contact.snapshot.values
    return all(name in base and base[name].get("value") == value for name, value in shown.items())


def arrived_contact(sync: SyncConfig, event: ChangeEvent) -> GetResponsePerson:
    """The contact a `contact_added` webhook shows, known as of its `occurredAt`: its custom fields
    are the ones we created it with (consumers/engine/echoes.py says when that holds)."""
    values = sync.mapping.getresponse_to_canonical(event.fields)
    contact = {"contactId": event.record_id, **event.fields}
    snapshot = Snapshot(Side.GETRESPONSE, values, at=event.source_timestamp, complete=False)
    return GetResponsePerson(event.record_id, contact, snapshot)


async def delete_contact(gr: GetResponseClient, contact_id: str) -> None:
    try:
        await gr.delete_contact(contact_id)
        metrics.wrote("getresponse", "delete")
    except NotFound:
        pass  # already gone: the outcome we wanted


async def remove_arrived(locked: LockedLink, contact: GetResponsePerson) -> None:
    """The contact of a person deleted in Salesforce while its create was pending has shown up:
    take it off the list, as the delete asked."""
    link = locked.link
    await delete_contact(locked.gr, contact.id)
    link.getresponse_contact_id = contact.id
    link.state = LinkState.DELETED
    link.pending_since = None
    link.next_lookup_at = None
    link.pending_changes = {}
    decisions.log_note(
        locked.session,
        link,
        field="getresponse_contact_id",
        rule=NoteRule.DELETED,
        new=contact.id,
        winner=Side.SALESFORCE.value,
        write_to=Side.GETRESPONSE.value,
        reason="the contact created before the person was deleted in Salesforce showed up: removed",
        event_id=locked.event_id,
    )


def delay_after_error(link: ContactLink, error: VendorError) -> timedelta:
    """How long a lookup that got no answer waits before asking again.

    `lookup_attempts` counts answers only, so the backoff grows with the time the create has
    waited so far instead (waiting as long again doubles it each time), from the delay the next
    regular lookup would have had, up to MAX_LOOKUP_DELAY; a 429 waits at least as long as it asks.
    """
    regular: timedelta = FIRST_LOOKUP_AFTER * 2**link.lookup_attempts
    waited = now() - link.pending_since if link.pending_since is not None else regular
    delay = min(MAX_LOOKUP_DELAY, max(regular, waited))
    if isinstance(error, RateLimited):
        delay = max(delay, timedelta(seconds=error.retry_after))
    return delay


class PendingLookups:
    """The loop, run beside the salesforce -> getresponse consumer (any number of replicas).

    The due links are looked up list by list: one `createdOn` search of the list, sorted and 1000
    a page, answers for every create of that list still waiting (the due ones and the others),
    instead of one exact-email search each. A contact found there that nobody changed since it was
    created (`changedOn` = `createdOn`) and for which no Salesforce change waits is linked as we
    created it, without reading it. A link the list's search keeps missing (a contact older than
    the search, such as an email a batch found already on the list) is also looked up by its email.
    """

    def __init__(
        self, *, sessions: Any, syncs: SyncDirectory, vendors: Vendors, interval: float = 0.1
    ) -> None:
        self.sessions = sessions
        self.syncs = syncs
        self.vendors = vendors
        self.interval = interval
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("pending lookups failed; trying again")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self.interval)
                except TimeoutError:
                    pass

    async def run_once(self) -> bool:
        async with transaction(self.sessions) as session:
            due = await links.due_lookups(session, now())
            by_sync: dict[Any, list[ContactLink]] = {}
            for link in due:
                by_sync.setdefault(link.sync_id, []).append(link)
            for sync_id, waiting in by_sync.items():
                await self._look_up_list(session, sync_id, waiting)
        return bool(due)

    async def _look_up_list(self, session: Any, sync_id: Any, due: list[ContactLink]) -> None:
        sync = await self.syncs.by_id(sync_id)
        if sync is not None and sync.paused:
            for link in due:
                link.next_lookup_at = now() + PAUSED_LOOKUP_DELAY  # looked up once the sync is resumed
            return
        if sync is None or not sync.live:
            for link in due:
                link.next_lookup_at = None
            return
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        due = await self._send_queued(session, gr, sync, due)
        if not due:
            return
        since = min((link.pending_since or now()) for link in due) - CREATED_SEARCH_MARGIN
        try:
            found = {
                email: element
                for element in await gr.created_since(sync.campaign_id, since)
                if (email := normalize_email(element.get("email"))) is not None
            }
        except VendorError as exc:
            for link in due:
                _no_answer(link, exc)
            return
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        others = await links.pending_with_emails(
            session, sync.id, [e for e in found if e not in {link.email_normalized for link in due}]
        )
        for link in [*due, *others]:
            locked = LockedLink(
                session, sync, link, ObjectType(link.salesforce_object or sync.create_as), sf, gr, None
            )
            # Each link in a savepoint of its own: one that gets no answer (its lookup, its read,
            # or the write of the changes held for it) waits alone, and the links found in the
            # same round are still recorded.
            try:
                async with session.begin_nested():
                    await _settle(locked, found.get(link.email_normalized))
            except VendorError as exc:
                await session.refresh(link)
                _no_answer(link, exc)

    async def _send_queued(
        self, session: Any, gr: GetResponseClient, sync: SyncConfig, due: list[ContactLink]
    ) -> list[ContactLink]:
        """Send the list's queued creates (the due ones and every other one queued, in one batch
        when it can: consumers/engine/batching.py); returns the due links left to look up."""
        queued = [link for link in due if batching.queued_body(link) is not None]
        if not queued:
            return due
        queued += await links.queued_creates(session, sync.id, exclude=[link.id for link in queued])
        went = await batching.send_queued(session, gr, sync, queued)
        for link in queued:
            if link in went:
                mark_created(link)
            elif link.state is LinkState.PENDING and batching.queued_body(link) is not None:
                link.next_lookup_at = max(link.next_lookup_at or now(), now() + batching.GATHER)
        return [link for link in due if link not in queued]


async def _settle(locked: LockedLink, element: dict[str, Any] | None) -> None:
    """Link (or remove) the contact of one waiting create that the list's search showed as
    `element`, or look it up by its email once the search has missed it often enough."""
    link, sync, gr = locked.link, locked.sync, locked.gr
    if element is None and link.lookup_attempts >= EXACT_LOOKUP_AFTER:
        contact = await find_on_list(gr, sync, link.email_normalized)
        if contact is not None:
            if _ours(link, contact.contact):
                await _arrived(locked, contact)
            else:
                await _merge_existing(locked, contact)
                links.touch(link)
            return
    elif element is not None and not _ours(link, element):
        contact = await read_getresponse(gr, sync, str(element["contactId"]))
        if contact is not None:
            await _merge_existing(locked, contact)
            links.touch(link)
            return
    elif element is not None:
        contact = await _as_created(locked, element)
        if contact is not None:
            await _arrived(locked, contact)
            return
    _missed(locked.session, sync, link)


def _ours(link: ContactLink, contact: Mapping[str, Any]) -> bool:
    """Whether the contact (a list element or its details) is the one our create made: made
    through the API, and not before our create was sent. A single create cannot meet another
    contact of its email (that is a 409), but a batch skips one already on the list without a word."""
    if not batching.unverified(link):
        return True
    raw = contact.get("createdOn")
    if contact.get("origin") not in (None, "api") or not isinstance(raw, str) or link.pending_since is None:
        return False
    return parse_getresponse_datetime(raw) >= link.pending_since - CLOCK_MARGIN


async def _merge_existing(locked: LockedLink, contact: GetResponsePerson) -> None:
    """Link a contact that was on the list before our create, and merge the two as a create's 409
    does (consumers/engine/to_getresponse.py): the base we recorded for the create was never
    agreed, so the values we meant to create (and any change held since) meet the contact's as in
    a first sync."""
    link, sync = locked.link, locked.sync
    values = {name: state.get("value") for name, state in link.base.items()}
    values.update(link.pending_changes.get("values", {}))
    snapshot = Snapshot(
        Side.SALESFORCE,
        values,
        at=link.salesforce_modified_at,
        carries=sync.mapping.canonical_names(locked.object_type),
    )
    link.base = {}
    link.pending_changes = {}
    link.getresponse_contact_id = contact.id
    link.state = LinkState.LINKED
    link.pending_since = None
    link.next_lookup_at = None
    await merge_and_write(
        locked,
        snapshot,
        contact.snapshot,
        contact=contact,
        salesforce_modified_at=snapshot.at,
        first_sync=True,
    )


async def _as_created(locked: LockedLink, element: dict[str, Any]) -> GetResponsePerson | None:
    """The contact a list element shows: as we created it when nobody changed it since and no
    Salesforce change waits for it (no read), else read in full (None: gone again)."""
    link, sync = locked.link, locked.sync
    untouched = element.get("changedOn") in (None, element.get("createdOn"))
    if untouched and not link.pending_changes.get("values"):
        return getresponse_person(sync, element)
    return await read_getresponse(locked.gr, sync, str(element["contactId"]))


async def _arrived(locked: LockedLink, contact: GetResponsePerson) -> None:
    if locked.link.state is LinkState.REMOVING:
        await remove_arrived(locked, contact)
    else:
        await attach(locked, contact)
    links.touch(locked.link)


def _no_answer(link: ContactLink, error: VendorError) -> None:
    link.next_lookup_at = now() + delay_after_error(link, error)
    log.log(
        logging.WARNING if isinstance(error, Transient) else logging.ERROR,
        "a lookup of a pending contact, or the write of what waited for it, got no answer; "
        "trying again later",
        link_id=link.id,
        error=str(error),
        next_lookup_at=link.next_lookup_at.isoformat(),
    )


def _missed(session: Any, sync: SyncConfig, link: ContactLink) -> None:
    """The list's search answered without this contact: wait longer, or give up."""
    link.lookup_attempts += 1
    if link.lookup_attempts >= MAX_LOOKUPS:
        link.state = LinkState.DELETED
        link.next_lookup_at = None
        decisions.log_note(
            session,
            link,
            field="getresponse_contact_id",
            rule=NoteRule.CREATE_REJECTED,
            reason=(
                f"GetResponse accepted the create but the contact never appeared on list "
                f"{sync.campaign_id} after {link.lookup_attempts} lookups: it was rejected "
                "(blacklisted, invalid domain) or awaits double opt-in"
            ),
            event_id=None,
        )
        log.warning("pending contact given up", link_id=link.id)
        return
    delay = min(MAX_LOOKUP_DELAY, FIRST_LOOKUP_AFTER * 2**link.lookup_attempts)
    link.next_lookup_at = now() + delay
