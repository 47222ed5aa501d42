"""Sync jobs (first syncs, resyncs): create, read, count, record progress, and the claim a worker
holds on a job while it runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import SyncJob
from app.domain.jobs import JobKind, JobState


async def create_job(
    session: AsyncSession,
    *,
    sync_id: uuid.UUID,
    kind: JobKind,
    dry_run: bool,
    mode: str = "reconcile",
    scope: dict[str, Any] | None = None,
) -> SyncJob:
    job = SyncJob(
        sync_id=sync_id,
        kind=kind.value,
        dry_run=dry_run,
        mode=mode,
        scope=scope or {},
        state=JobState.QUEUED,
        counts={},
        report={},
        errors={},
        cursor={},
    )
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID, *, lock: bool = False) -> SyncJob | None:
    statement = select(SyncJob).where(SyncJob.id == job_id).execution_options(populate_existing=True)
    if lock:
        statement = statement.with_for_update()
    job: SyncJob | None = (await session.scalars(statement)).first()
    return job


async def running_job(session: AsyncSession, sync_id: uuid.UUID, kind: JobKind) -> SyncJob | None:
    statement = select(SyncJob).where(
        SyncJob.sync_id == sync_id,
        SyncJob.kind == kind.value,
        SyncJob.state.in_([JobState.QUEUED, JobState.RUNNING]),
        SyncJob.dry_run.is_(False),
    )
    job: SyncJob | None = (await session.scalars(statement)).first()
    return job


async def jobs_in_progress_count(session: AsyncSession, sync_id: uuid.UUID, kind: JobKind) -> int:
    """How many jobs of `kind` of the sync are queued or running, dry runs included."""
    count = await session.scalar(
        select(func.count())
        .select_from(SyncJob)
        .where(
            SyncJob.sync_id == sync_id,
            SyncJob.kind == kind,
            SyncJob.state.in_((JobState.QUEUED, JobState.RUNNING)),
        )
    )
    return count or 0


async def update_job(
    session: AsyncSession,
    job_id: uuid.UUID,
    *,
    state: JobState | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    counts: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    errors: dict[str, Any] | None = None,
    cursor: dict[str, Any] | None = None,
) -> None:
    """Sets the values given (None: left as it is), without reading the job."""
    given = {
        "state": state,
        "started_at": started_at,
        "finished_at": finished_at,
        "counts": counts,
        "report": report,
        "errors": errors,
        "cursor": cursor,
    }
    values = {name: value for name, value in given.items() if value is not None}
    if values:
        await session.execute(update(SyncJob).where(SyncJob.id == job_id).values(**values))


def now() -> datetime:
    return datetime.now(UTC)


def _claim_key(job_id: uuid.UUID) -> int:
    """The job's advisory-lock key: 64 bits of its id (the poller's fixed key is elsewhere in that
    space; a clash costs a wait, never a wrong result)."""
    return int.from_bytes(job_id.bytes[:8], "big", signed=True)


async def try_claim_job(connection: AsyncConnection, job_id: uuid.UUID) -> bool:
    """Claims the job for the life of `connection` (a session-level advisory lock, which outlives
    the transaction), if no other connection holds it. Commit afterwards: the claim stays."""
    got: bool = (
        await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _claim_key(job_id)})
    ).scalar_one()
    return got


async def release_job_claim(connection: AsyncConnection, job_id: uuid.UUID) -> None:
    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _claim_key(job_id)})


async def jobs_of_sync(session: AsyncSession, sync_id: uuid.UUID, *, limit: int) -> list[SyncJob]:
    """The sync's first syncs, resyncs and reconciles, newest first."""
    statement = (
        select(SyncJob)
        .where(SyncJob.sync_id == sync_id)
        .order_by(SyncJob.created_at.desc(), SyncJob.id)
        .limit(limit)
    )
    return list(await session.scalars(statement))
