"""Starting first syncs and resyncs: a job row, then a request on the resync topic.

The row is committed before the request is published, so a worker never sees a request for a job
it cannot read; if Kafka then refuses the request, the job is marked failed and the caller is
told to try again (nothing half-started is left queued forever).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Bus, PublishFailed, make_message
from app.db import jobs, syncs
from app.db.models import SyncJob
from app.db.session import transaction
from app.domain.jobs import JobKind, JobRequest, JobState, ResyncMode, ResyncScope
from app.domain.states import SyncState


class JobRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def start_job(
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    *,
    sync_id: uuid.UUID,
    kind: JobKind,
    dry_run: bool,
    mode: ResyncMode = ResyncMode.RECONCILE,
    scope: ResyncScope | None = None,
) -> uuid.UUID:
    async with transaction(sessions) as session:
        sync = await syncs.sync_by_id(session, sync_id)
        if sync is None:
            raise JobRefused(404, f"no sync {sync_id}")
        if sync.state is SyncState.CANCELLED:
            raise JobRefused(409, f"sync {sync_id} is cancelled")
        if not dry_run and await jobs.running_job(session, sync_id, kind) is not None:
            raise JobRefused(
                409, f"a {kind.value.replace('_', ' ')} of sync {sync_id} is already queued or running"
            )
        job = await jobs.create_job(
            session,
            sync_id=sync_id,
            kind=kind,
            dry_run=dry_run,
            mode=mode.value,
            scope=scope.model_dump() if scope else None,
        )
        job_id = job.id
    request = JobRequest(job_id=str(job_id)).model_dump_json().encode()
    try:
        await bus.publish(
            [make_message(bus.topics.resync_requests, str(sync_id), request, headers={"job_id": str(job_id)})]
        )
    except PublishFailed as exc:
        async with transaction(sessions) as session:
            failed = await jobs.get_job(session, job_id)
            if failed is not None:
                failed.state = JobState.FAILED
                failed.errors = {"reason": f"could not be queued: {exc}"}
        raise JobRefused(503, "the job could not be queued (Kafka did not acknowledge); try again") from exc
    return job_id


def job_view(job: SyncJob) -> dict[str, Any]:
    return {
        "job_id": str(job.id),
        "sync_id": str(job.sync_id),
        "kind": job.kind,
        "state": job.state,
        "dry_run": job.dry_run,
        "mode": job.mode,
        "scope": job.scope,
        "counts": job.counts,
        "report": job.report,
        "errors": job.errors,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
