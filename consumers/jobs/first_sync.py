"""The first sync of a sync (design.md, "What the product does", 3).

Match people by normalised email, link them, resolve every differing field with the preferred
system, and create what is missing on each side: Salesforce records through sObject Collections
(200 a call), GetResponse contacts through batch creates (1000 a call, asynchronous: the links
wait as `pending` and the lookup loop fills their ids). A dry run stops after the report
(`plan`); a run links and creates people as their contacts are read (`plan_and_run`), so that
its own work (claims, Salesforce calls, commits) is done while its GetResponse calls wait for the
account's limits, not after them.

Resumable by construction: the plan skips every person who already has a link, and every chunk
commits its links together with its writes, so a job that crashed is simply run again. A record
created in Salesforce just before a crash is found by email on the re-run and linked, never
created twice; GetResponse skips batch entries already on the list.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.db import decisions, links
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig
from app.domain.coercion import normalize_email
from app.domain.mapping import CustomFieldTarget
from app.domain.resolver import Resolution, Rule, base_to_json, resolve_change, written_to_salesforce
from app.domain.sides import ObjectType, Side
from app.domain.states import LinkState, NoteRule
from consumers.engine.campaigns import join_campaign_many
from consumers.engine.creation import (
    SalesforceCreate,
    created_in_getresponse,
    created_in_salesforce,
    getresponse_create,
    salesforce_create,
)
from consumers.engine.locked import LockedLink
from consumers.engine.merge import log_resolution, plan_writes, write_getresponse
from consumers.engine.people import (
    GetResponsePerson,
    SalesforcePerson,
    getresponse_person,
    read_getresponse,
    salesforce_fields,
    salesforce_person,
)
from consumers.jobs.patience import patiently

CHUNK = 100
# Contacts read at once: GetResponse allows 10 calls in flight per account (B10), and the
# account's limiter keeps every process within it.
READERS = 8
# Chunks of matches linked at once, each its own transaction: enough that GetResponse's updates
# go on while a chunk claims its links, updates Salesforce or commits.
LINKING_AT_ONCE = 3
SALESFORCE_BATCH = 200
GETRESPONSE_BATCH = 1000
REPORT_LIMIT = 1000  # entries per list in a report; the counts are always complete

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[dict[str, int]], Awaitable[None]]


@dataclass
class Match:
    email: str
    salesforce: SalesforcePerson
    getresponse: GetResponsePerson


@dataclass
class Plan:
    matches: list[Match] = field(default_factory=list)
    salesforce_only: list[SalesforcePerson] = field(default_factory=list)
    getresponse_only: list[GetResponsePerson] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # email -> Salesforce ids, linked first
    no_email: list[str] = field(default_factory=list)
    already_linked: int = 0


async def load_salesforce(
    sf: SalesforceClient, sync: SyncConfig
) -> tuple[dict[str, list[SalesforcePerson]], list[str]]:
    """Every record feeding the sync, by normalised email (oldest first), and those without one."""
    by_email: dict[str, list[SalesforcePerson]] = {}
    no_email: list[str] = []
    for object_type in sorted(sync.salesforce_objects):
        fields = ", ".join(dict.fromkeys(["Id", *salesforce_fields(sync, object_type)]))
        condition = sync.group_condition(object_type)
        where = f" WHERE {condition}" if condition else ""
        soql = f"SELECT {fields} FROM {object_type.value}{where} ORDER BY CreatedDate ASC"  # noqa: S608
        async for record in sf.query(soql):
            person = salesforce_person(sync, object_type, record)
            email = person.email(sync)
            if email is None:
                no_email.append(person.id)
            else:
                by_email.setdefault(email, []).append(person)
    return by_email, no_email


async def list_getresponse(gr: GetResponseClient, sync: SyncConfig) -> dict[str, dict[str, Any]]:
    """The list's contacts as its pages show them, by normalised email (the first of each)."""
    elements: dict[str, dict[str, Any]] = {}
    for element in await patiently(lambda: gr.find_contacts(campaign_id=sync.campaign_id)):
        email = normalize_email(element.get("email"))
        if email is not None and email not in elements:
            elements[email] = element
    return elements


async def read_getresponse_contacts(
    gr: GetResponseClient,
    sync: SyncConfig,
    elements: dict[str, dict[str, Any]],
    found: Callable[[str, GetResponsePerson | None], Awaitable[None]],
) -> None:
    """Every listed contact, handed to `found` as soon as it is known (None: gone meanwhile): read
    in full only when the sync maps a custom field (list elements carry none: B6), READERS at a
    time so that the account's limits, not the round trips, set the pace; each contact is read
    once, in email order."""
    if not any(isinstance(m.getresponse, CustomFieldTarget) for m in sync.mapping.fields):
        for email, element in elements.items():
            await found(email, getresponse_person(sync, element))
        return
    queue = deque(sorted(elements))

    async def reader() -> None:
        while queue:
            email = queue.popleft()
            contact_id = str(elements[email]["contactId"])
            await found(email, await patiently(partial(read_getresponse, gr, sync, contact_id)))

    await _all([reader() for _ in range(READERS)])


async def load_getresponse(gr: GetResponseClient, sync: SyncConfig) -> dict[str, GetResponsePerson]:
    """Every contact on the list, by normalised email."""
    elements = await list_getresponse(gr, sync)
    contacts: dict[str, GetResponsePerson] = {}

    async def keep(email: str, contact: GetResponsePerson | None) -> None:
        if contact is not None:
            contacts[email] = contact

    await read_getresponse_contacts(gr, sync, elements, keep)
    return contacts


def make_plan(
    by_email: dict[str, list[SalesforcePerson]],
    no_email: list[str],
    contacts: dict[str, GetResponsePerson],
    linked: set[str],
) -> Plan:
    plan = Plan(no_email=no_email)
    for email in sorted(set(by_email) | set(contacts)):
        if email in linked:
            plan.already_linked += 1
            continue
        records = by_email.get(email, [])
        if len(records) > 1:
            plan.duplicates[email] = [r.id for r in records]
        contact = contacts.get(email)
        if records and contact:
            plan.matches.append(Match(email, records[0], contact))
        elif records:
            plan.salesforce_only.append(records[0])
        elif contact:
            plan.getresponse_only.append(contact)
    return plan


def report(plan: Plan, sync: SyncConfig) -> dict[str, Any]:
    """What the first sync does (or did): matches, one-sided people, duplicates and conflicts."""
    conflicts: list[dict[str, Any]] = []
    filled = 0
    for match in plan.matches:
        resolution = resolve_change(
            {},
            match.salesforce.snapshot,
            match.getresponse.snapshot,
            preferred=sync.preferred,
            skew=sync.skew,
            first_sync=True,
        )
        for decision in resolution.decisions:
            if decision.rule is Rule.PREFERRED_FIRST_SYNC:
                conflicts.append(
                    {
                        "email": match.email,
                        "field": decision.field,
                        "salesforce": match.salesforce.snapshot.values.get(decision.field),
                        "getresponse": match.getresponse.snapshot.values.get(decision.field),
                        "resolved_to": decision.new,
                        "winner": decision.winner.value if decision.winner else None,
                    }
                )
            elif decision.rule is Rule.FILL_EMPTY:
                filled += 1
    return {
        "counts": {
            "matches": len(plan.matches),
            "salesforce_only": len(plan.salesforce_only),
            "getresponse_only": len(plan.getresponse_only),
            "duplicates": len(plan.duplicates),
            "no_email": len(plan.no_email),
            "conflicts": len(conflicts),
            "empty_fields_filled": filled,
            "already_linked": plan.already_linked,
        },
        "preferred_system": sync.preferred.value,
        "conflicts": conflicts[:REPORT_LIMIT],
        "duplicates": [
            {"email": email, "salesforce_ids": ids, "linked": ids[0]}
            for email, ids in list(plan.duplicates.items())[:REPORT_LIMIT]
        ],
        "salesforce_only": [p.email(sync) for p in plan.salesforce_only[:REPORT_LIMIT]],
        "getresponse_only": [p.email for p in plan.getresponse_only[:REPORT_LIMIT]],
        "no_email": plan.no_email[:REPORT_LIMIT],
    }


@dataclass(frozen=True, kw_only=True)
class FirstSync:
    sessions: async_sessionmaker[AsyncSession]
    vendors: Vendors
    chunk: int = CHUNK  # matches a transaction
    linking_at_once: int = LINKING_AT_ONCE

    async def plan(self, sync: SyncConfig) -> Plan:
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        # Both sides at once: GetResponse's reads take the account's pace from the first second.
        loading = asyncio.ensure_future(load_getresponse(gr, sync))
        try:
            by_email, no_email = await patiently(lambda: load_salesforce(sf, sync))
            contacts = await loading
        finally:
            await _stopped([loading])
        async with self.sessions() as session:
            linked = await links.linked_emails(session, sync.id)
        return make_plan(by_email, no_email, contacts, linked)

    async def run(
        self, sync: SyncConfig, plan: Plan, job_id: uuid.UUID, progress: Progress
    ) -> dict[str, int]:
        """Carries out a plan made beforehand (`plan`)."""
        feeds = _Feeds(
            matches=_Feed(plan.matches, closed=True),
            salesforce_only=_Feed(plan.salesforce_only, closed=True),
            gone_from_getresponse=_Feed(closed=True),
            getresponse_only=_Feed(plan.getresponse_only, closed=True),
        )
        reported = _Reporter(_no_counts(), progress)
        await self._write(sync, feeds, reported, event_id=f"job:{job_id}")
        return reported.counts

    async def plan_and_run(
        self,
        sync: SyncConfig,
        job_id: uuid.UUID,
        progress: Progress,
        planned: Callable[[Plan], Awaitable[None]],
    ) -> dict[str, int]:
        """`plan` and `run` in one: a match is linked (and a person only in GetResponse created in
        Salesforce) once their contact is read, so GetResponse's updates share the account's pace
        with the reads instead of following them, and the chunks' own work (claims, Salesforce,
        commits) is done while the reads wait for the account. The people, their decisions and
        their writes are those of `run(plan)`; `planned` gets that plan once everyone is read."""
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        async with self.sessions() as session:
            linked = await links.linked_emails(session, sync.id)
        loading = asyncio.ensure_future(patiently(lambda: load_salesforce(sf, sync)))
        try:
            elements = await list_getresponse(gr, sync)
            by_email, no_email = await loading
        finally:
            await _stopped([loading])
        not_listed = [r[0] for e, r in sorted(by_email.items()) if e not in elements and e not in linked]
        feeds = _Feeds(
            matches=_Feed(),
            salesforce_only=_Feed(not_listed, closed=True),
            gone_from_getresponse=_Feed(),
            getresponse_only=_Feed(),
        )
        contacts: dict[str, GetResponsePerson] = {}
        reported = _Reporter(_no_counts(), progress)

        async def place(email: str, contact: GetResponsePerson | None) -> None:
            """Where `make_plan` puts this person, as soon as their contact is read."""
            records = by_email.get(email)
            if contact is not None:
                contacts[email] = contact
            if email in linked:
                return
            if contact is None:
                if records:
                    await feeds.gone_from_getresponse.put(records[0])
            elif records:
                await feeds.matches.put(Match(email, records[0], contact))
            else:
                await feeds.getresponse_only.put(contact)

        async def read() -> None:
            await read_getresponse_contacts(gr, sync, elements, place)
            await feeds.close()
            await planned(make_plan(by_email, no_email, contacts, linked))
            await reported.report()

        await _all([read(), self._write(sync, feeds, reported, event_id=f"job:{job_id}")])
        return reported.counts

    async def _write(self, sync: SyncConfig, feeds: _Feeds, reported: _Reporter, event_id: str) -> None:
        """The matches, the people only in Salesforce and those only in GetResponse are different
        people: the three go at once, so that GetResponse's calls never wait for Salesforce's.
        A chunk that fails transiently rolls back and runs again: its writes are idempotent
        (values already written compare equal; GetResponse skips batch entries already on the
        list; collection creates never raise, so a chunk never re-creates what it created)."""
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        # The matches' updates go READERS at a time over all chunks.
        writers = asyncio.Semaphore(READERS)
        link = partial(self._link_matches, sync, sf, gr, writers=writers, event_id=event_id)
        create_in_getresponse = partial(self._create_in_getresponse, sync, gr, event_id=event_id)
        create_in_salesforce = partial(self._create_in_salesforce, sync, sf, event_id=event_id)
        await _all(
            [
                _chunked(feeds.matches, self.chunk, link, reported, at_once=self.linking_at_once),
                _chunked(feeds.salesforce_only, GETRESPONSE_BATCH, create_in_getresponse, reported),
                _chunked(feeds.gone_from_getresponse, GETRESPONSE_BATCH, create_in_getresponse, reported),
                _chunked(feeds.getresponse_only, SALESFORCE_BATCH, create_in_salesforce, reported),
            ]
        )

    async def _link_matches(
        self,
        sync: SyncConfig,
        sf: SalesforceClient,
        gr: GetResponseClient,
        matches: Sequence[Match],
        counts: dict[str, int],
        writers: asyncio.Semaphore,
        event_id: str,
    ) -> None:
        async with transaction(self.sessions) as session:
            updates: dict[ObjectType, list[tuple[ContactLink, dict[str, Any]]]] = {}
            planned: list[tuple[Match, LockedLink, Resolution]] = []
            claimed = await links.claim_emails(session, sync.id, [match.email for match in matches])
            for match in matches:
                link = claimed[match.email]
                if _taken(link):
                    counts["skipped"] += 1  # linked meanwhile by a live event
                    continue
                link.salesforce_id = match.salesforce.id
                link.salesforce_object = match.salesforce.object_type.value
                link.getresponse_contact_id = match.getresponse.id
                link.state = LinkState.LINKED
                locked = LockedLink(session, sync, link, match.salesforce.object_type, sf, gr, event_id)
                resolution = plan_writes(
                    locked, {}, match.salesforce.snapshot, match.getresponse.snapshot, first_sync=True
                )
                planned.append((match, locked, resolution))
            # GetResponse has no batch update: one call a person, READERS at a time over all chunks.

            async def write(match: Match, locked: LockedLink, resolution: Resolution) -> GetResponsePerson:
                async with writers:
                    return await write_getresponse(locked, resolution, match.getresponse)

            written = await _all([write(*each) for each in planned])
            for (match, locked, resolution), contact in zip(planned, written, strict=True):
                link = locked.link
                values = resolution.writes[Side.SALESFORCE]
                if values:
                    fields = sync.mapping.canonical_to_salesforce(
                        values, match.salesforce.object_type, creating=False
                    ).fields
                    updates.setdefault(match.salesforce.object_type, []).append(
                        (link, {"Id": link.salesforce_id, **fields})
                    )
                    link.salesforce_modified_at = None
                else:
                    link.salesforce_modified_at = match.salesforce.modified_at
                link.getresponse_changed_on = contact.changed_on
                # The record as queried predates the update sent below.
                link.base = base_to_json(
                    written_to_salesforce(resolution.new_base, values, match.salesforce.modified_at)
                )
                log_resolution(locked, resolution)
                counts["linked"] += 1
            for object_type, batch in updates.items():
                results = await sf.update_many(object_type.value, [record for _, record in batch])
                metrics.wrote("salesforce", "update_many")
                for (link, _), result in zip(batch, results, strict=True):
                    if not result.ok:
                        # Salesforce did not take the values: there is no agreement to record, and
                        # the next change of this person merges as a first sync again.
                        link.base = {}
                        counts["failed"] += 1
                        decisions.log_note(
                            session,
                            link,
                            field="*",
                            rule=NoteRule.WRITE_FAILED,
                            reason=f"first sync could not update Salesforce: {result.error}",
                            event_id=event_id,
                        )

    async def _create_in_getresponse(
        self,
        sync: SyncConfig,
        gr: GetResponseClient,
        people: Sequence[SalesforcePerson],
        counts: dict[str, int],
        event_id: str,
    ) -> None:
        async with transaction(self.sessions) as session:
            bodies: list[dict[str, Any]] = []
            emails = [_known(record.email(sync)) for record in people]
            claimed = await links.claim_emails(session, sync.id, emails)
            for record, email in zip(people, emails, strict=True):
                link = claimed[email]
                if _taken(link):
                    counts["skipped"] += 1
                    continue
                create = getresponse_create(sync, record.snapshot)
                bodies.append(create.body)
                link.salesforce_id = record.id
                link.salesforce_object = record.object_type.value
                created_in_getresponse(
                    session,
                    link,
                    sync,
                    create,
                    reason=f"first sync: only in Salesforce, added to list {sync.campaign_id}",
                    event_id=event_id,
                )
            if bodies:
                await gr.create_contacts_batch(sync.campaign_id, bodies)
                metrics.wrote("getresponse", "create_batch")
                counts["created_in_getresponse"] += len(bodies)

    async def _create_in_salesforce(
        self,
        sync: SyncConfig,
        sf: SalesforceClient,
        people: Sequence[GetResponsePerson],
        counts: dict[str, int],
        event_id: str,
    ) -> None:
        object_type = sync.create_as
        async with transaction(self.sessions) as session:
            claimed: list[tuple[ContactLink, SalesforceCreate]] = []
            emails = [_known(contact.email) for contact in people]
            by_email = await links.claim_emails(session, sync.id, emails)
            for contact, email in zip(people, emails, strict=True):
                link = by_email[email]
                if _taken(link):
                    counts["skipped"] += 1
                    continue
                claimed.append((link, salesforce_create(sync, object_type, contact)))
            if not claimed:
                return
            results = await sf.create_many(object_type.value, [create.fields for _, create in claimed])
            metrics.wrote("salesforce", "create_many")
            for (link, create), result in zip(claimed, results, strict=True):
                if not result.ok or result.id is None:
                    counts["failed"] += 1
                    decisions.log_note(
                        session,
                        link,
                        field="*",
                        rule=NoteRule.WRITE_FAILED,
                        reason=f"first sync could not create the Salesforce record: {result.error}",
                        event_id=event_id,
                    )
                    continue
                created_in_salesforce(
                    session,
                    link,
                    create,
                    result.id,
                    reason=f"first sync: only in GetResponse, created Salesforce {object_type} {result.id}",
                    event_id=event_id,
                )
                counts["created_in_salesforce"] += 1
            claimed_links = [link for link, _ in claimed]
            await join_campaign_many(session, sync, sf, object_type, claimed_links, event_id)


class _Reporter:
    """The job's counts, reported after every chunk: one report at a time, each taken when it is
    written, so that a report never goes back to fewer than the one before."""

    def __init__(self, counts: dict[str, int], progress: Progress) -> None:
        self.counts = counts
        self._progress = progress
        self._lock = asyncio.Lock()

    async def report(self) -> None:
        async with self._lock:
            await self._progress(dict(self.counts))


class _Feed(Generic[T]):
    """People for chunks, as they become known.

    By hand: `asyncio.Queue` hands out one item at a time and, before Python 3.13's `shutdown`,
    has no way to say "no more will come", which is what lets the last chunk go out short."""

    def __init__(self, people: Iterable[T] = (), *, closed: bool = False) -> None:
        self._waiting = deque(people)
        self._closed = closed
        self._changed = asyncio.Condition()

    async def put(self, person: T) -> None:
        async with self._changed:
            self._waiting.append(person)
            self._changed.notify_all()

    async def close(self) -> None:
        """No more people will come: the last chunk may be short."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def take(self, size: int) -> list[T]:
        """The next chunk: `size` people, fewer once no more will come, none when all are taken."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._waiting) >= size or self._closed)
            return [self._waiting.popleft() for _ in range(min(size, len(self._waiting)))]


@dataclass(frozen=True)
class _Feeds:
    matches: _Feed[Match]
    salesforce_only: _Feed[SalesforcePerson]  # not on the list
    gone_from_getresponse: _Feed[SalesforcePerson]  # listed, but gone before their contact was read
    getresponse_only: _Feed[GetResponsePerson]

    async def close(self) -> None:
        for feed in (self.matches, self.salesforce_only, self.gone_from_getresponse, self.getresponse_only):
            await feed.close()


async def _chunked(
    feed: _Feed[T],
    size: int,
    chunk: Callable[[Sequence[T], dict[str, int]], Awaitable[None]],
    reported: _Reporter,
    *,
    at_once: int = 1,
) -> None:
    """Every chunk of `size` people through `_step`, `at_once` chunks at a time; each chunk is its
    own transaction, so the chunks that committed stay done whatever happens to the others."""

    async def next_chunks() -> None:
        while people := await feed.take(size):
            await _step(reported.counts, partial(chunk, people))
            await reported.report()

    await _all([next_chunks() for _ in range(at_once)])


async def _all(steps: Sequence[Awaitable[R]]) -> list[R]:
    """The steps at once, their results in order. The first to fail stops the others (a chunk in
    flight rolls back; those that committed stay done: the job resumes from them) and is raised as
    it is, not as a group, so the job worker tells a transient failure from a permanent one as for
    a single step."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    finally:
        await _stopped(tasks)


async def _stopped(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancels the tasks still running and waits until they have let go of what they hold."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _step(counts: dict[str, int], chunk: Callable[[dict[str, int]], Awaitable[None]]) -> None:
    """Run one chunk patiently; its counts are added once, when an attempt has succeeded."""

    async def attempt() -> dict[str, int]:
        mine: dict[str, int] = dict.fromkeys(counts, 0)
        await chunk(mine)
        return mine

    for key, value in (await patiently(attempt)).items():
        counts[key] = counts.get(key, 0) + value


def _no_counts() -> dict[str, int]:
    return dict.fromkeys(
        ("linked", "created_in_getresponse", "created_in_salesforce", "skipped", "failed"), 0
    )


def _known(email: str | None) -> str:
    """A planned person's email: the plan puts no one without one in a chunk."""
    assert email is not None
    return email


def _taken(link: ContactLink) -> bool:
    """The link already ties this person (a live event got there first, or an earlier run)."""
    return bool(link.salesforce_id or link.getresponse_contact_id or link.state != LinkState.PENDING)
