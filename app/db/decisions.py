"""The decision log: why each value of a person is what it is, one row per field written or
skipped (rows are written with the link they explain: `log_decisions` and `log_note` in links.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Decision


async def decisions_of_link(
    session: AsyncSession, link_id: int, *, limit: int, before_id: int | None = None
) -> list[Decision]:
    """Up to `limit` decisions about the link, newest first, older than `before_id` if given."""
    statement = select(Decision).where(Decision.link_id == link_id).order_by(Decision.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(Decision.id < before_id)
    return list(await session.scalars(statement))


async def decision_log(session: AsyncSession, link_id: int) -> list[Decision]:
    """Every decision about the link, oldest first."""
    return list(
        await session.scalars(select(Decision).where(Decision.link_id == link_id).order_by(Decision.id))
    )
