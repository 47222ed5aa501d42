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
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.getresponse import GetResponseClient
from app.clients.limits import Priority
from app.clients.salesforce import SalesforceClient
from app.db import links
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig
from app.domain.coercion import normalize_email
from app.domain.jobs import ResyncMode, ResyncScope
from app.domain.resolver import Rule, base_from_json
from app.domain.sides import ObjectType, Side
from consumers.jobs.patience import patiently
from consumers.merge import Person, merge_and_write, plan_writes
from consumers.people import read_getresponse, read_salesforce
from consumers.vendors import Vendors

REPORT_LIMIT = 1000
Checkpoint = Callable[[int, dict[str, int], list[dict[str, Any]]], Awaitable[None]]


async def people_in_scope(session: AsyncSession, sync: SyncConfig, scope: ResyncScope) -> list[int]:
    """Link ids, in a stable order (resuming counts on it)."""
    statement = select(ContactLink.id).where(ContactLink.sync_id == sync.id)
    if scope.whole_sync:
        statement = statement.where(ContactLink.state == links.LINKED)
    else:
        emails = [e for e in (normalize_email(raw) for raw in scope.emails) if e]
        statement = statement.where(
            ContactLink.email_normalized.in_(emails)
            | ContactLink.salesforce_id.in_(scope.salesforce_ids)
            | ContactLink.getresponse_contact_id.in_(scope.getresponse_contact_ids)
        )
    return list(await session.scalars(statement.order_by(ContactLink.id)))


def not_linked(scope: ResyncScope, found: list[ContactLink]) -> list[str]:
    """People the scope names that no link of the sync knows: reported, not guessed at."""
    known: set[str | None] = set()
    for link in found:
        known |= {link.email_normalized, link.salesforce_id, link.getresponse_contact_id}
    named = (
        [normalize_email(e) or e for e in scope.emails] + scope.salesforce_ids + scope.getresponse_contact_ids
    )
    return [n for n in named if n not in known]


class Resync:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], vendors: Vendors) -> None:
        self.sessions = sessions
        self.vendors = vendors

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
        gr = (await self.vendors.getresponse(sync.getresponse_connection_id)).with_priority(
            Priority.BACKGROUND
        )
        async with self.sessions() as session:
            ids = await people_in_scope(session, sync, scope)
            found = list(await session.scalars(select(ContactLink).where(ContactLink.id.in_(ids))))
        missing = [] if scope.whole_sync else not_linked(scope, found)
        counts = {"people": len(ids), "changed": 0, "unchanged": 0, "gone": 0, "fields_written": 0}
        changes: list[dict[str, Any]] = []
        for position, link_id in enumerate(ids):
            if position < done:
                continue
            await patiently(
                partial(self._one, sync, link_id, mode, dry_run, sf, gr, event_id, counts, changes)
            )
            if (position + 1) % 50 == 0:
                await checkpoint(position + 1, counts, changes)
        return counts, changes, missing

    async def _one(
        self,
        sync: SyncConfig,
        link_id: int,
        mode: ResyncMode,
        dry_run: bool,
        sf: SalesforceClient,
        gr: GetResponseClient,
        event_id: str,
        counts: dict[str, int],
        changes: list[dict[str, Any]],
    ) -> None:
        """One person, in one transaction; retried whole on a transient failure (the counts are
        only touched once everything of this person succeeded)."""
        async with transaction(self.sessions) as session:
            link = await links.lock_by_id(session, link_id)
            if link is None or not link.salesforce_id or not link.getresponse_contact_id:
                counts["gone"] += 1
                return
            object_type = ObjectType(link.salesforce_object or sync.create_as)
            record = await read_salesforce(sf, sync, object_type, link.salesforce_id)
            contact = await read_getresponse(gr, sync, link.getresponse_contact_id)
            if record is None or contact is None:
                counts["gone"] += 1  # deleted or off the list: the live events handle those
                return
            person = Person(session, sync, link, object_type, sf, gr, event_id)
            forced = (
                None
                if mode is ResyncMode.RECONCILE
                else (Side.SALESFORCE if mode is ResyncMode.SALESFORCE_WINS else Side.GETRESPONSE)
            )
            incoming, other = (
                (contact.snapshot, record.snapshot)
                if forced is Side.GETRESPONSE
                else (record.snapshot, contact.snapshot)
            )
            if dry_run:
                base = {} if forced else base_from_json(link.base)
                resolution = plan_writes(
                    person, base, incoming, other, first_sync=bool(forced), preferred=forced
                )
            else:
                if forced:
                    link.base = {}
                resolution = await merge_and_write(
                    person,
                    incoming,
                    other,
                    contact=contact,
                    salesforce_modified_at=record.modified_at,
                    first_sync=bool(forced),
                    preferred=forced,
                )
                links.touch(link)
        written = [d for d in resolution.decisions if d.write_to and d.rule is not Rule.UNCHANGED]
        counts["changed" if written else "unchanged"] += 1
        counts["fields_written"] += sum(len(d.write_to) for d in written)
        for d in written:
            if len(changes) < REPORT_LIMIT:
                changes.append(
                    {
                        "email": link.email_normalized,
                        "field": d.field,
                        "old": d.old,
                        "new": d.new,
                        "write_to": [side.value for side in d.write_to],
                        "rule": d.rule.value,
                    }
                )
