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
from datetime import UTC, datetime, timedelta
from typing import Any

from app import metrics
from app.clients.errors import NotFound, RateLimited, Transient, VendorError
from app.clients.getresponse import GetResponseClient
from app.clients.vendors import Vendors
from app.db import decisions, links
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.resolver import Snapshot
from app.domain.sides import ObjectType, Side, Value
from app.domain.states import LinkState, NoteRule
from app.logs import get_logger
from consumers.engine.locked import LockedLink
from consumers.engine.merge import merge_and_write
from consumers.engine.people import GetResponsePerson, find_on_list

log = get_logger(__name__)

FIRST_LOOKUP_AFTER = timedelta(milliseconds=250)
MAX_LOOKUP_DELAY = timedelta(seconds=30)
MAX_LOOKUPS = 14  # about five minutes in all
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
    link.pending_changes = {"values": held, "at": latest}


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
        link.pending_changes = {}
    elif contact.changed_on is not None:
        link.getresponse_changed_on = contact.changed_on
    decisions.log_note(
        locked.session,
        link,
        field="getresponse_contact_id",
        rule=NoteRule.LINKED,
        new=contact.id,
        reason="the contact GetResponse created asynchronously is now known",
        event_id=locked.event_id,
    )


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
    """The loop, run beside the salesforce -> getresponse consumer (any number of replicas)."""

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
            for link in due:
                # Each link in a savepoint of its own: one whose held changes cannot be written
                # waits alone, and the links found in the same round are still recorded.
                try:
                    async with session.begin_nested():
                        await self._look_up(session, link)
                except VendorError as exc:
                    await session.refresh(link)
                    link.next_lookup_at = now() + delay_after_error(link, exc)
                    log.log(
                        logging.WARNING if isinstance(exc, Transient) else logging.ERROR,
                        "the contact of a pending create is known, but writing what waited for it "
                        "failed; trying again later",
                        link_id=link.id,
                        error=str(exc),
                        next_lookup_at=link.next_lookup_at.isoformat(),
                    )
        return bool(due)

    async def _look_up(self, session: Any, link: ContactLink) -> None:
        sync = await self.syncs.by_id(link.sync_id)
        if sync is not None and sync.paused:
            link.next_lookup_at = now() + PAUSED_LOOKUP_DELAY  # looked up once the sync is resumed
            return
        if sync is None or not sync.live:
            link.next_lookup_at = None
            return
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        try:
            contact = await find_on_list(gr, sync, link.email_normalized)
        except VendorError as exc:
            link.next_lookup_at = now() + delay_after_error(link, exc)
            log.log(
                logging.WARNING if isinstance(exc, Transient) else logging.ERROR,
                "lookup of a pending contact got no answer; asking again later",
                link_id=link.id,
                error=str(exc),
                next_lookup_at=link.next_lookup_at.isoformat(),
            )
            return
        if contact is not None:
            sf = await self.vendors.salesforce(sync.salesforce_connection_id)
            object_type = ObjectType(link.salesforce_object or sync.create_as)
            locked = LockedLink(session, sync, link, object_type, sf, gr, None)
            if link.state is LinkState.REMOVING:
                await remove_arrived(locked, contact)
            else:
                await attach(locked, contact)
            links.touch(link)
            return
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
