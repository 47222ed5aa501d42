"""The decision log: why each value of a person is what it is, one row per field written or
skipped, added in the transaction that holds the link's lock; and read back, newest first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ContactLink, Decision
from app.domain.resolver import Decision as ResolverDecision
from app.domain.states import NoteRule


async def decisions_of_link(
    session: AsyncSession, link_id: int, *, limit: int, before_id: int | None = None
) -> list[Decision]:
    """Up to `limit` decisions about the link, newest first, older than `before_id` if given."""
    statement = select(Decision).where(Decision.link_id == link_id).order_by(Decision.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(Decision.id < before_id)
    return list(await session.scalars(statement))


async def decisions_of_sync(
    session: AsyncSession, sync_id: uuid.UUID, *, limit: int, before_id: int | None = None
) -> list[tuple[Decision, str]]:
    """Up to `limit` decisions of the sync, newest first, older than `before_id` if given, each
    with the email of the person it is about."""
    statement = (
        select(Decision, ContactLink.email_normalized)
        .join(ContactLink, ContactLink.id == Decision.link_id)
        .where(Decision.sync_id == sync_id)
        .order_by(Decision.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(Decision.id < before_id)
    return [(decision, email) for decision, email in (await session.execute(statement)).all()]


async def decision_log(session: AsyncSession, link_id: int) -> list[Decision]:
    """Every decision about the link, oldest first."""
    return list(
        await session.scalars(select(Decision).where(Decision.link_id == link_id).order_by(Decision.id))
    )


def _boxed(value: Any) -> dict[str, Any]:
    return {"value": value}


def log_decisions(
    session: AsyncSession,
    link: ContactLink,
    decisions: Sequence[ResolverDecision],
    *,
    event_id: str | None,
) -> None:
    for d in decisions:
        session.add(
            Decision(
                link_id=link.id,
                sync_id=link.sync_id,
                event_id=event_id,
                field=d.field,
                old_value=_boxed(d.old),
                new_value=_boxed(d.new),
                winner=d.winner.value if d.winner else None,
                rule=d.rule.value,
                write_to=",".join(s.value for s in d.write_to) or None,
                reason=d.reason,
            )
        )


def log_note(
    session: AsyncSession,
    link: ContactLink,
    *,
    field: str,
    rule: NoteRule,
    reason: str,
    event_id: str | None,
    old: Any = None,
    new: Any = None,
    winner: str | None = None,
    write_to: str | None = None,
) -> None:
    """A decision that is not a field merge: a create, a delete, a marker set, a skipped person."""
    session.add(
        Decision(
            link_id=link.id,
            sync_id=link.sync_id,
            event_id=event_id,
            field=field,
            old_value=_boxed(old),
            new_value=_boxed(new),
            winner=winner,
            rule=rule.value,
            write_to=write_to,
            reason=reason,
        )
    )
