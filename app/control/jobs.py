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

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Topics, make_message
from app.db import jobs, outbox, syncs
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


JOB_PHASES = "queued, planning, writing, done, failed or cancelled"


class JobProgress(BaseModel):
    """A job's progress in the same terms for every kind (the raw counts stay in `counts`)."""

    phase: str = Field(description=JOB_PHASES)
    total: int | None = Field(None, description="people the job will go through, once known")
    done: int = 0
    created: int = 0
    updated: int = 0
    conflicts: int = 0
    errors: int = 0


def progress_of(job: SyncJob) -> JobProgress:
    counts: dict[str, Any] = {k: v for k, v in (job.counts or {}).items() if isinstance(v, int)}
    state = str(job.state)
    if state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED):
        phase = state
    elif job.kind == JobKind.FIRST_SYNC and "linked" not in counts:
        phase = "planning"
    else:
        phase = "writing"
    if job.kind == JobKind.FIRST_SYNC:
        planned = [counts.get(k) for k in ("matches", "salesforce_only", "getresponse_only")]
        created = counts.get("created_in_getresponse", 0) + counts.get("created_in_salesforce", 0)
        done = created + sum(counts.get(k, 0) for k in ("linked", "skipped", "failed"))
        return JobProgress(
            phase=phase,
            total=sum(n or 0 for n in planned) if any(n is not None for n in planned) else None,
            done=done,
            created=created,
            updated=counts.get("linked", 0),
            conflicts=counts.get("conflicts", 0),
            errors=counts.get("failed", 0),
        )
    done = sum(counts.get(k, 0) for k in ("changed", "unchanged", "gone"))
    return JobProgress(
        phase=phase,
        total=counts.get("people"),
        done=max(done, int((job.cursor or {}).get("done", 0))),
        updated=counts.get("changed", 0),
        errors=len(job.errors or {}) if state == JobState.FAILED else 0,
    )


def job_view(job: SyncJob) -> dict[str, Any]:
    return {
        "progress": progress_of(job).model_dump(),
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


JOB_EXAMPLE: dict[str, Any] = {
    "job_id": "9f1c2d3e-4b5a-6789-abcd-ef0123456789",
    "sync_id": "0ea56b1a-520e-40c1-9f9c-5384675643ac",
    "kind": "first_sync",
    "state": "done",
    "progress": {
        "phase": "done", "total": 2000, "done": 0, "created": 0, "updated": 0, "conflicts": 97, "errors": 0
    },
    "dry_run": True,
    "counts": {
        "matches": 1000,
        "salesforce_only": 500,
        "getresponse_only": 500,
        "duplicates": 20,
        "conflicts": 97,
    },
    "report": {
        "conflicts": [
            {
                "email": "pat@example.com",
                "field": "company",
                "salesforce": "Acme",
                "getresponse": "ACME Ltd",
                "resolved_to": "Acme",
                "winner": "salesforce",
            }
        ]
    },
}


class Job(BaseModel):
    model_config = {"json_schema_extra": {"examples": [JOB_EXAMPLE]}}

    job_id: str
    sync_id: str
    kind: str
    state: str = Field(description="queued, running, done, failed or cancelled")
    progress: JobProgress
    dry_run: bool
    mode: str
    scope: dict[str, Any]
    counts: dict[str, Any]
    report: dict[str, Any]
    errors: dict[str, Any]
    created_at: str | None
    started_at: str | None
    finished_at: str | None
