"""Starting first syncs and resyncs: a job row and the request that starts it, in one transaction.

The request goes to the outbox (app/db/outbox.py) beside the job row, and the relay (app/outbox.py)
publishes it to the resync topic once the transaction committed: a worker never sees a request for
a job it cannot read, and a job is never left queued without its request, whatever crashes or
whenever Kafka is down (the job then stays queued and starts once Kafka is back). The caller's
`nudge` wakes its process's relay right after the commit, so a job starts at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Topics, make_message
from app.db import jobs, outbox, syncs
from app.db.models import SyncJob
from app.db.session import transaction
from app.domain.jobs import JobKind, JobRequest, ResyncMode, ResyncScope
from app.domain.states import SyncState


class JobRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def start_job(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    *,
    sync_id: uuid.UUID,
    kind: JobKind,
    dry_run: bool,
    mode: ResyncMode = ResyncMode.RECONCILE,
    scope: ResyncScope | None = None,
    nudge: Callable[[], None] | None = None,
) -> uuid.UUID:
    """Queues a job and its request; `nudge` is called once both are committed. Refused (404, 409)
    for an unknown or cancelled sync, and for a real (not dry) run while one of its kind of the
    sync is queued or running."""
    async with transaction(sessions) as session:
        # Locked, so that two starts at once cannot both find no job running.
        sync = await syncs.sync_by_id(session, sync_id, lock=True)
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
        await outbox.enqueue(
            session,
            make_message(topics.resync_requests, str(sync_id), request, headers={"job_id": str(job_id)}),
        )
    if nudge is not None:
        nudge()
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
