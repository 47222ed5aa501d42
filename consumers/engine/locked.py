"""One locked contact link and what applying a change to it needs, and the apply step every
direction shares.

Every change to a person runs inside one transaction that holds the link's row lock (app/db/links.py),
so the two directions, the jobs and replicas never interleave their read-merge-write on one person.
An event is applied at most once per consumer: the processed-event row is written in the same
transaction as the link, so a redelivered message finds it and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import ConsumerRole
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.db import processed_events
from app.db.models import ContactLink
from app.db.session import transaction
from app.db.syncs import SyncConfig
from app.domain.events import ChangeEvent
from app.domain.sides import ObjectType


@dataclass
class LockedLink:
    """The context of one locked link: the transaction holding its lock, the sync, the link, the
    Salesforce object the person is (or becomes), both vendors' clients, and the event applied
    (None for the pending-create lookups, which answer no event)."""

    session: AsyncSession
    sync: SyncConfig
    link: ContactLink
    object_type: ObjectType
    sf: SalesforceClient
    gr: GetResponseClient
    event_id: str | None


@dataclass(frozen=True)
class Change:
    """One event being applied to one sync, inside the transaction of its apply step, with the
    vendors' clients of the sync's connections (looked up once per event)."""

    session: AsyncSession
    sync: SyncConfig
    event: ChangeEvent
    sf: SalesforceClient
    gr: GetResponseClient

    def lock(self, link: ContactLink, object_type: ObjectType) -> LockedLink:
        """The context of `link`, whose row lock this transaction holds."""
        return LockedLink(self.session, self.sync, link, object_type, self.sf, self.gr, self.event.event_id)


async def apply_once(
    sessions: async_sessionmaker[AsyncSession],
    consumer: ConsumerRole,
    key: str,
    step: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    """Run `step` in one transaction, unless `consumer` has already applied `key`, and record that
    it has; a failure rolls both back, so the retry runs the whole step again."""
    async with transaction(sessions) as session:
        if await processed_events.already_processed(session, consumer, key):
            return
        await step(session)
        await processed_events.mark_processed(session, consumer, key)
