"""The audit log (`audit_log`): appended to, and read newest first, filtered, in pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEntry


async def add_entry(
    session: AsyncSession,
    *,
    actor_kind: str,
    actor_id: str | None,
    actor_name: str,
    action: str,
    target_kind: str,
    target_id: str | None,
    change: dict[str, Any],
) -> None:
    session.add(
        AuditEntry(
            actor_kind=actor_kind,
            actor_id=actor_id,
            actor_name=actor_name[:200],
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            change=change,
        )
    )
    await session.flush()


async def newest_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
) -> list[AuditEntry]:
    """Up to `limit` entries matching every filter given, newest first, older than `before_id`."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if target_kind is not None:
        statement = statement.where(AuditEntry.target_kind == target_kind)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    return list(await session.scalars(statement))
