"""The audit entry of each control-plane change that both the API (app/api/) and the admin UI
(app/ui/pages/) can make: one function per change, called by the route and by the page alike, so
the two never record the same change under different actions, targets or bodies.

Each is called after its change succeeded (app/control/audit.py: a refused change leaves no entry).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.control.audit import Actor, record
from app.control.connections import ConnectionRead, Disconnected
from app.control.dead_letter_bulk import BulkResult, DeadLetterFilter
from app.control.dead_letters import DeadLetterRead
from app.control.pausing import SyncResumed
from app.control.syncs import SyncCreate
from app.domain.jobs import ResyncMode, ResyncScope


async def connected(
    session: AsyncSession, actor: Actor, connection: ConnectionRead, asked: dict[str, Any]
) -> None:
    """`asked`: the connect request as sent (its secrets are redacted by `record`)."""
    await record(
        session, actor, action=f"connection.connect.{connection.kind}", target_kind="connection",
        target_id=connection.id, change={**asked, "external_id": connection.external_id},
    )


async def disconnected(session: AsyncSession, actor: Actor, done: Disconnected, *, force: bool) -> None:
    await record(
        session, actor, action=f"connection.disconnect.{done.connection.kind}",
        target_kind="connection", target_id=done.connection.id,
        change={"force": force, "token_revoked": done.token_revoked,
                "cancelled_syncs": [str(s) for s in done.cancelled_syncs]},
    )


async def sync_created(session: AsyncSession, actor: Actor, sync_id: uuid.UUID, body: SyncCreate) -> None:
    await record(session, actor, action="sync.create", target_kind="sync", target_id=sync_id,
                 change=body.model_dump(mode="json"))


async def sync_cancelled(session: AsyncSession, actor: Actor, sync_id: uuid.UUID) -> None:
    await record(session, actor, action="sync.cancel", target_kind="sync", target_id=sync_id)


async def sync_paused(session: AsyncSession, actor: Actor, sync_id: uuid.UUID) -> None:
    await record(session, actor, action="sync.pause", target_kind="sync", target_id=sync_id)


async def sync_resumed(session: AsyncSession, actor: Actor, resumed: SyncResumed) -> None:
    await record(session, actor, action="sync.resume", target_kind="sync", target_id=resumed.id,
                 change={"changes_resent": resumed.changes_resent})


async def first_sync_started(
    session: AsyncSession, actor: Actor, sync_id: uuid.UUID, job_id: uuid.UUID, *, dry_run: bool
) -> None:
    await record(session, actor, action="job.first_sync", target_kind="sync", target_id=sync_id,
                 change={"job_id": str(job_id), "dry_run": dry_run})


async def resync_started(
    session: AsyncSession,
    actor: Actor,
    sync_id: uuid.UUID,
    job_id: uuid.UUID,
    *,
    scope: ResyncScope,
    mode: ResyncMode,
    dry_run: bool,
) -> None:
    change = {"job_id": str(job_id), "scope": scope.model_dump(mode="json"), "mode": mode.value,
              "dry_run": dry_run}
    await record(session, actor, action="job.resync", target_kind="sync", target_id=sync_id, change=change)


async def dead_letter_replayed(session: AsyncSession, actor: Actor, letter: DeadLetterRead) -> None:
    await record(session, actor, action="dead_letter.replay", target_kind="dead_letter",
                 target_id=letter.id, change={"event_id": letter.event_id, "topic": letter.topic})


async def dead_letter_discarded(session: AsyncSession, actor: Actor, letter: DeadLetterRead) -> None:
    await record(session, actor, action="dead_letter.discard", target_kind="dead_letter",
                 target_id=letter.id, change={"event_id": letter.event_id})


async def dead_letters_replayed(
    session: AsyncSession, actor: Actor, wanted: DeadLetterFilter, result: BulkResult
) -> None:
    await _bulk(session, actor, "dead_letter.replay_matching", wanted, result)


async def dead_letters_discarded(
    session: AsyncSession, actor: Actor, wanted: DeadLetterFilter, result: BulkResult
) -> None:
    await _bulk(session, actor, "dead_letter.discard_matching", wanted, result)


async def _bulk(
    session: AsyncSession, actor: Actor, action: str, wanted: DeadLetterFilter, result: BulkResult
) -> None:
    change = {"filter": wanted.model_dump(mode="json", exclude_none=True), "ids": result.ids}
    await record(session, actor, action=action, target_kind="dead_letter", target_id=None, change=change)
