"""Resync: read both sides of some people (or a whole sync) afresh and make them agree.

- `reconcile`: the usual three-way merge against each link's base, with both sides read now:
  what either side changed since the base wins, conflicts go by time, then the preferred system.
- `salesforce_wins` / `getresponse_wins`: the named side's values go to the other side for every
  field where they differ (an empty value never erases a filled one: no data is destroyed).

A dry run reports what would be written, per person and field, and writes nothing. Progress is
kept in the job's cursor (people done), so a job resumed after a crash skips them. Calls to
GetResponse go at background priority: live events first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.db import links
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig
from app.domain.coercion import normalize_email
from app.domain.jobs import ResyncMode, ResyncScope
from app.domain.resolver import Decision, Rule, base_from_json
from app.domain.sides import ObjectType, Side
from consumers.engine.locked import LockedLink
from consumers.engine.merge import merge_and_write, plan_writes
from consumers.engine.people import read_getresponse, read_salesforce
from consumers.jobs.patience import patiently

REPORT_LIMIT = 1000
Checkpoint = Callable[[int, dict[str, int], list[dict[str, Any]]], Awaitable[None]]


def not_linked(scope: ResyncScope, found: list[ContactLink]) -> list[str]:
    """People the scope names that no link of the sync knows: reported, not guessed at."""
    known: set[str | None] = set()
    for link in found:
        known |= {link.email_normalized, link.salesforce_id, link.getresponse_contact_id}
    named = (
        [normalize_email(e) or e for e in scope.emails] + scope.salesforce_ids + scope.getresponse_contact_ids
    )
    return [n for n in named if n not in known]


@dataclass(frozen=True, kw_only=True)
class Resync:
    sessions: async_sessionmaker[AsyncSession]
    vendors: Vendors

    async def run(
        self,
        sync: SyncConfig,
        *,
        mode: ResyncMode,
        scope: ResyncScope,
        dry_run: bool,
        done: int,
        checkpoint: Checkpoint,
        event_id: str,
    ) -> tuple[dict[str, int], list[dict[str, Any]], list[str]]:
        sf = await self.vendors.salesforce(sync.salesforce_connection_id)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        async with self.sessions() as session:
            ids = await links.ids_in_scope(
                session,
                sync.id,
                whole_sync=scope.whole_sync,
                emails=[e for e in (normalize_email(raw) for raw in scope.emails) if e],
                salesforce_ids=scope.salesforce_ids,
                getresponse_contact_ids=scope.getresponse_contact_ids,
            )
            found = await links.by_ids(session, ids)
        missing = [] if scope.whole_sync else not_linked(scope, found)
        counts = {"people": len(ids), "changed": 0, "unchanged": 0, "gone": 0, "fields_written": 0}
        changes: list[dict[str, Any]] = []
        for position, link_id in enumerate(ids):
            if position < done:
                continue
            person = PersonResync(sync, mode=mode, dry_run=dry_run, sf=sf, gr=gr, event_id=event_id)
            outcome = await patiently(partial(resync_person, self.sessions, person, link_id))
            outcome.add_to(counts, changes)
            if (position + 1) % 50 == 0:
                await checkpoint(position + 1, counts, changes)
        return counts, changes, missing


@dataclass(frozen=True)
class PersonResync:
    """What resyncing one person needs besides the person: the sync, how, and both clients."""

    sync: SyncConfig
    mode: ResyncMode
    dry_run: bool
    sf: SalesforceClient
    gr: GetResponseClient
    event_id: str

    @property
    def forced(self) -> Side | None:
        """The side whose values win every differing field, or None for the three-way merge."""
        return {
            ResyncMode.SALESFORCE_WINS: Side.SALESFORCE,
            ResyncMode.GETRESPONSE_WINS: Side.GETRESPONSE,
        }.get(self.mode)


@dataclass(frozen=True)
class PersonOutcome:
    """One person's part of the job's counts and report."""

    gone: bool = False
    email: str = ""
    written: tuple[Decision, ...] = ()

    def add_to(self, counts: dict[str, int], changes: list[dict[str, Any]]) -> None:
        if self.gone:
            counts["gone"] += 1
            return
        counts["changed" if self.written else "unchanged"] += 1
        counts["fields_written"] += sum(len(d.write_to) for d in self.written)
        for d in self.written:
            if len(changes) < REPORT_LIMIT:
                changes.append(
                    {
                        "email": self.email,
                        "field": d.field,
                        "old": d.old,
                        "new": d.new,
                        "write_to": [side.value for side in d.write_to],
                        "rule": d.rule.value,
                    }
                )


async def resync_person(
    sessions: async_sessionmaker[AsyncSession], job: PersonResync, link_id: int
) -> PersonOutcome:
    """Read both sides of one person afresh and make them agree, in one transaction that holds the
    link's lock; retried whole on a transient failure (the caller counts only a finished outcome).
    A dry run plans the writes and makes none."""
    sync = job.sync
    async with transaction(sessions) as session:
        link = await links.lock_by_id(session, link_id)
        if link is None or not link.salesforce_id or not link.getresponse_contact_id:
            return PersonOutcome(gone=True)
        object_type = ObjectType(link.salesforce_object or sync.create_as)
        record = await read_salesforce(job.sf, sync, object_type, link.salesforce_id)
        contact = await read_getresponse(job.gr, sync, link.getresponse_contact_id)
        if record is None or contact is None:
            return PersonOutcome(gone=True)  # deleted or off the list: the live events handle those
        locked = LockedLink(session, sync, link, object_type, job.sf, job.gr, job.event_id)
        forced = job.forced
        incoming, other = (
            (contact.snapshot, record.snapshot)
            if forced is Side.GETRESPONSE
            else (record.snapshot, contact.snapshot)
        )
        if job.dry_run:
            base = {} if forced else base_from_json(link.base)
            resolution = plan_writes(locked, base, incoming, other, first_sync=bool(forced), preferred=forced)
        else:
            if forced:
                link.base = {}
            resolution = await merge_and_write(
                locked,
                incoming,
                other,
                contact=contact,
                salesforce_modified_at=record.modified_at,
                salesforce_read_now=True,
                first_sync=bool(forced),
                preferred=forced,
            )
            links.touch(link)
    written = tuple(d for d in resolution.decisions if d.write_to and d.rule is not Rule.UNCHANGED)
    return PersonOutcome(email=link.email_normalized, written=written)
