"""Sync jobs (first syncs, resyncs): create, read, and record progress."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


def now() -> datetime:
    return datetime.now(UTC)
