"""Contact links: find and lock the one row that ties a person together within a sync (and read
links, unlocked, for the control API).

Every change to a person runs inside one transaction that holds the link's row lock, so the two
directions (and replicas) never interleave their read-merge-write on the same person.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ContactLink
from app.domain.states import LinkState


async def lock_by_salesforce_id(
    session: AsyncSession, sync_id: uuid.UUID, salesforce_id: str
) -> ContactLink | None:
    return await _lock(session, ContactLink.sync_id == sync_id, ContactLink.salesforce_id == salesforce_id)


async def lock_by_getresponse_id(
    session: AsyncSession, sync_id: uuid.UUID, contact_id: str
) -> ContactLink | None:
    return await _lock(
        session, ContactLink.sync_id == sync_id, ContactLink.getresponse_contact_id == contact_id
    )


async def lock_by_email(session: AsyncSession, sync_id: uuid.UUID, email: str) -> ContactLink | None:
    return await _lock(session, ContactLink.sync_id == sync_id, ContactLink.email_normalized == email)


async def lock_by_id(session: AsyncSession, link_id: int) -> ContactLink | None:
    return await _lock(session, ContactLink.id == link_id)


async def _lock(session: AsyncSession, *where: Any) -> ContactLink | None:
    statement = select(ContactLink).where(*where).with_for_update().execution_options(populate_existing=True)
    link: ContactLink | None = (await session.scalars(statement)).first()
    return link


async def claim_email(session: AsyncSession, sync_id: uuid.UUID, email: str) -> ContactLink:
    """The link for this email, created empty if there is none, and locked.

    Two processes meeting the same new person race on the unique (sync, email) key; the loser
    waits for the winner's transaction and then sees its row.
    """
    await session.execute(
        insert(ContactLink)
        .values(
            sync_id=sync_id,
            email_normalized=email,
            state=LinkState.PENDING,
            base={},
            pending_changes={},
            lookup_attempts=0,
            removed_from_list=False,
            version=0,
        )
        .on_conflict_do_nothing(constraint="uq_links_sync_email")
    )
    link = await lock_by_email(session, sync_id, email)
    assert link is not None
    return link


async def claim_emails(
    session: AsyncSession, sync_id: uuid.UUID, emails: Sequence[str]
) -> dict[str, ContactLink]:
    """`claim_email` for many people in two statements (a job's chunk), by email. The rows are
    locked in email order, so two claims of overlapping people never wait on each other in a
    circle."""
    if not emails:
        return {}
    ordered = sorted(set(emails))
    await session.execute(
        insert(ContactLink)
        .values(
            [
                {
                    "sync_id": sync_id,
                    "email_normalized": email,
                    "state": LinkState.PENDING,
                    "base": {},
                    "pending_changes": {},
                    "lookup_attempts": 0,
                    "removed_from_list": False,
                    "version": 0,
                }
                for email in ordered
            ]
        )
        .on_conflict_do_nothing(constraint="uq_links_sync_email")
    )
    statement = (
        select(ContactLink)
        .where(ContactLink.sync_id == sync_id, ContactLink.email_normalized.in_(ordered))
        .order_by(ContactLink.email_normalized)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    claimed = {link.email_normalized: link for link in await session.scalars(statement)}
    assert len(claimed) == len(ordered)
    return claimed


async def link_by_id(session: AsyncSession, link_id: int) -> ContactLink | None:
    """The link, unlocked: for reading only."""
    return await session.get(ContactLink, link_id)


async def links_matching(
    session: AsyncSession, *, limit: int, email: str | None = None, sync_id: uuid.UUID | None = None
) -> list[ContactLink]:
    """Up to `limit` links with this (normalised) email and/or of this sync, oldest first."""
    statement = select(ContactLink).order_by(ContactLink.id).limit(limit)
    if email is not None:
        statement = statement.where(ContactLink.email_normalized == email)
    if sync_id is not None:
        statement = statement.where(ContactLink.sync_id == sync_id)
    return list(await session.scalars(statement))


async def link_counts_by_state(session: AsyncSession, sync_id: uuid.UUID) -> dict[LinkState, int]:
    """How many of the sync's links are in each state (a state without links is left out)."""
    counted = await session.execute(
        select(ContactLink.state, func.count())
        .where(ContactLink.sync_id == sync_id)
        .group_by(ContactLink.state)
    )
    return {state: count for state, count in counted}


async def email_taken(session: AsyncSession, sync_id: uuid.UUID, email: str) -> bool:
    """Whether a link of the sync has this (normalised) email."""
    found = await session.scalar(
        select(ContactLink.id).where(ContactLink.sync_id == sync_id, ContactLink.email_normalized == email)
    )
    return found is not None


async def ids_in_scope(
    session: AsyncSession,
    sync_id: uuid.UUID,
    *,
    whole_sync: bool,
    emails: Sequence[str] = (),
    salesforce_ids: Sequence[str] = (),
    getresponse_contact_ids: Sequence[str] = (),
) -> list[int]:
    """Ids of the sync's links a resync covers, in a stable order (resuming counts on it): every
    linked person, or those with any of the given (normalised) emails and ids."""
    statement = select(ContactLink.id).where(ContactLink.sync_id == sync_id)
    if whole_sync:
        statement = statement.where(ContactLink.state == LinkState.LINKED)
    else:
        statement = statement.where(
            ContactLink.email_normalized.in_(emails)
            | ContactLink.salesforce_id.in_(salesforce_ids)
            | ContactLink.getresponse_contact_id.in_(getresponse_contact_ids)
        )
    return list(await session.scalars(statement.order_by(ContactLink.id)))


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> list[ContactLink]:
    return list(await session.scalars(select(ContactLink).where(ContactLink.id.in_(ids))))


async def linked_emails(session: AsyncSession, sync_id: uuid.UUID) -> set[str]:
    """The emails of the sync's people who are linked, or on their way: everyone but the links
    claimed and never used (a first sync skips the others)."""
    statement = select(ContactLink.email_normalized).where(
        ContactLink.sync_id == sync_id,
        (ContactLink.salesforce_id.is_not(None))
        | (ContactLink.getresponse_contact_id.is_not(None))
        | (ContactLink.state != LinkState.PENDING),
    )
    return set(await session.scalars(statement))


async def due_lookups(session: AsyncSession, now: datetime, limit: int = 50) -> Sequence[ContactLink]:
    """Pending links whose GetResponse id is due to be looked up; rows other workers hold are skipped."""
    statement = (
        select(ContactLink)
        .where(
            ContactLink.state.in_((LinkState.PENDING, LinkState.REMOVING)),
            ContactLink.next_lookup_at <= now,
        )
        .order_by(ContactLink.next_lookup_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(statement)).all()


async def pending_with_emails(
    session: AsyncSession, sync_id: uuid.UUID, emails: Sequence[str]
) -> Sequence[ContactLink]:
    """The sync's links waiting for a create's id (to link or to remove) with any of these emails,
    locked; rows other workers hold are skipped."""
    if not emails:
        return []
    statement = (
        select(ContactLink)
        .where(
            ContactLink.sync_id == sync_id,
            ContactLink.state.in_((LinkState.PENDING, LinkState.REMOVING)),
            ContactLink.pending_since.is_not(None),
            ContactLink.getresponse_contact_id.is_(None),
            ContactLink.email_normalized.in_(emails),
        )
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(statement)).all()


async def create_on_its_way(
    session: AsyncSession, sync_id: uuid.UUID, *, since: datetime, other_than: int
) -> bool:
    """Whether another link of the sync waits for its create, sent (or queued) at or after `since`."""
    found = await session.scalar(
        select(ContactLink.id)
        .where(
            ContactLink.sync_id == sync_id,
            ContactLink.state == LinkState.PENDING,
            ContactLink.next_lookup_at.is_not(None),
            ContactLink.pending_since >= since,
            ContactLink.id != other_than,
        )
        .limit(1)
    )
    return found is not None


async def queued_creates(
    session: AsyncSession, sync_id: uuid.UUID, *, exclude: Sequence[int] = (), limit: int = 1000
) -> Sequence[ContactLink]:
    """The sync's pending links whose create is queued for a batch and not sent yet, locked;
    rows other workers hold are skipped."""
    statement = (
        select(ContactLink)
        .where(
            ContactLink.sync_id == sync_id,
            ContactLink.state == LinkState.PENDING,
            ContactLink.next_lookup_at.is_not(None),
            ContactLink.pending_changes.has_key("create"),
            ContactLink.id.not_in(exclude),
        )
        .order_by(ContactLink.next_lookup_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(statement)).all()


def note_salesforce_time(link: ContactLink, at: datetime | None) -> None:
    """The Salesforce side is known as of `at`, if that is later than what the link holds."""
    if at is not None and (link.salesforce_modified_at is None or at > link.salesforce_modified_at):
        link.salesforce_modified_at = at


def touch(link: ContactLink) -> None:
    link.version += 1
    link.updated_at = func.now()
