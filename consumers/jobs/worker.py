"""The `resync` role: runs first syncs and resyncs, one job per request on the resync topic.

The request stays uncommitted while its job runs, so a worker that dies mid-job hands it to the
next one, which resumes (first syncs re-plan and skip who is linked; resyncs skip the people their
cursor says are done). Transient vendor failures leave the job running and are retried the same
way; anything permanent fails the job with its reason.

A request may come twice (the outbox relay sends a request again when it died before marking it
sent; a rebalance hands a partition over while its job still runs). A request for a finished job
is nothing to do. A worker runs a job only while it holds the job's claim (a Postgres advisory
lock on a connection of its own), so a second request for a job another worker runs waits until
that worker lets go: then the job is finished (nothing to do) or that worker died (resume it).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import ConsumerRole
from app.clients.errors import Permanent, Transient
from app.clients.limits import Priority, priority
from app.clients.vendors import Vendors
from app.db import jobs
from app.db.models import SyncJob
from app.db.session import transaction
from app.db.syncs import SyncConfig, SyncDirectory, set_sync_state
from app.domain.jobs import JobKind, JobRequest, JobState, ResyncMode, ResyncScope
from app.domain.sides import DomainError
from app.domain.states import SyncState
from app.logs import get_logger
from app.observability import beat
from consumers.jobs.first_sync import FirstSync, Plan, report
from consumers.jobs.resync import Resync
from consumers.runner import Record

log = get_logger(__name__)

ROLE = ConsumerRole.RESYNC
FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class JobWorker:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        syncs: SyncDirectory,
        vendors: Vendors,
        claim_poll_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.syncs = syncs
        self.vendors = vendors
        self.claim_poll_s = claim_poll_s
        self.first_sync = FirstSync(sessions=sessions, vendors=vendors)
        self.resync = Resync(sessions=sessions, vendors=vendors)

    async def handle(self, record: Record) -> None:
        try:
            request = JobRequest.model_validate_json(record.value)
            job_id = uuid.UUID(request.job_id)
        except (ValidationError, ValueError):
            log.error("not a job request; dropped", offset=record.offset, value=record.value[:200])
            return
        if await self._finished(job_id):
            return
        async with self.engine.connect() as claim:
            await self._claim(claim, job_id)
            try:
                await self._run(job_id)
            finally:
                await self._release(claim, job_id)

    async def _finished(self, job_id: uuid.UUID) -> bool:
        """True for a job that is gone or finished: its request is nothing to do."""
        async with self.sessions() as session:
            job = await jobs.get_job(session, job_id)
        return job is None or job.state in FINISHED

    async def _claim(self, connection: AsyncConnection, job_id: uuid.UUID) -> None:
        """Takes the job's claim, waiting while another worker holds it; asks again every
        `claim_poll_s` rather than block in a statement, so no transaction stays open meanwhile."""
        waiting = False
        while True:
            claimed = await jobs.try_claim_job(connection, job_id)
            await connection.commit()
            if claimed:
                return
            if not waiting:
                log.info("another worker runs this job; waiting until it lets go", job_id=str(job_id))
                waiting = True
            beat()
            await asyncio.sleep(self.claim_poll_s)

    async def _release(self, connection: AsyncConnection, job_id: uuid.UUID) -> None:
        try:
            await jobs.release_job_claim(connection, job_id)
            await connection.commit()
        except Exception:
            # The claim must not go back to the pool with its connection: close the connection.
            log.exception("releasing a job's claim failed; closing its connection", job_id=str(job_id))
            await connection.invalidate()

    async def _run(self, job_id: uuid.UUID) -> None:
        async with self.sessions() as session:
            job = await jobs.get_job(session, job_id)
        if job is None or job.state in FINISHED:
            return  # finished by the worker whose claim this one waited for
        self.syncs.invalidate()
        sync = await self.syncs.by_id(job.sync_id)
        if sync is None:
            await self._finish(job_id, JobState.FAILED, errors={"reason": "the sync no longer exists"})
            return
        await self._save(job_id, state=JobState.RUNNING, started_at=job.started_at or jobs.now())
        try:
            # A job's vendor calls are backfill: they wait while live work or retries are queued.
            with priority(Priority.BACKGROUND):
                if job.kind == JobKind.FIRST_SYNC:
                    await self._first_sync(job, sync)
                else:
                    await self._resync(job, sync)
        except Transient:
            raise  # the runner delivers the request again and the job resumes
        except (Permanent, DomainError, ValueError) as exc:
            log.error("job failed", job_id=str(job_id), error=str(exc))
            await self._finish(job_id, JobState.FAILED, errors={"reason": str(exc)})
            if job.kind == JobKind.FIRST_SYNC and not job.dry_run:
                await self._sync_state(sync, SyncState.FAILING)

    async def close(self) -> None:
        await self.vendors.close()

    async def _first_sync(self, job: SyncJob, sync: SyncConfig) -> None:
        if job.dry_run:
            plan = await self.first_sync.plan(sync)
            summary = report(plan, sync)
            await self._save(job.id, report=summary, counts=summary["counts"])
            await self._finish(job.id, JobState.DONE)
            return
        # The run writes while it still reads (FirstSync.plan_and_run): the report comes once
        # everyone is read, the counts of what is done from the first chunk on. Live changes
        # flow from then on, as they did when nothing was written before everyone was read:
        # sooner, the poller's first search would hand the live path the people the job is busy
        # with (it reaches back SFGR_POLL_OVERLAP_S), and both would read them.
        planned_counts: dict[str, int] = {}

        async def planned(plan: Plan) -> None:
            await self._sync_state(sync, SyncState.FIRST_SYNC)
            summary = report(plan, sync)
            planned_counts.update(summary["counts"])
            await self._save(job.id, report=summary)

        async def progress(counts: dict[str, int]) -> None:
            await self._save(job.id, counts={**planned_counts, **counts})

        counts = await self.first_sync.plan_and_run(sync, job.id, progress, planned)
        await self._save(job.id, counts={**planned_counts, **counts})
        await self._sync_state(sync, SyncState.ACTIVE)
        await self._finish(job.id, JobState.DONE)

    async def _resync(self, job: SyncJob, sync: SyncConfig) -> None:
        scope = ResyncScope.model_validate(job.scope)

        async def checkpoint(done: int, counts: dict[str, int], changes: list[dict[str, Any]]) -> None:
            await self._save(job.id, cursor={"done": done}, counts=counts, report={"changes": changes})

        counts, changes, missing = await self.resync.run(
            sync,
            mode=ResyncMode(job.mode),
            scope=scope,
            dry_run=job.dry_run,
            done=int(job.cursor.get("done", 0)),
            checkpoint=checkpoint,
            event_id=f"job:{job.id}",
        )
        counts["not_linked"] = len(missing)
        await self._save(job.id, counts=counts, report={"changes": changes, "not_linked": missing[:1000]})
        await self._finish(job.id, JobState.DONE)

    async def _save(self, job_id: uuid.UUID, **values: Any) -> None:
        beat()  # a job holds the consumer's loop for long: its progress keeps /healthz healthy
        async with transaction(self.sessions) as session:
            await jobs.update_job(session, job_id, **values)

    async def _finish(
        self, job_id: uuid.UUID, state: JobState, *, errors: dict[str, Any] | None = None
    ) -> None:
        values: dict[str, Any] = {"state": state, "finished_at": jobs.now()}
        if errors is not None:
            values["errors"] = errors
        await self._save(job_id, **values)

    async def _sync_state(self, sync: SyncConfig, state: SyncState) -> None:
        async with transaction(self.sessions) as session:
            # A sync cancelled meanwhile stays cancelled.
            await set_sync_state(session, sync.id, state)
        self.syncs.invalidate()
