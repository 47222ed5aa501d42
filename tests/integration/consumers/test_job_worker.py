"""The resync role's worker (consumers/jobs/worker.py) takes a request twice without running its job
twice at once: the outbox relay may send a request again, and a rebalance may hand a partition over
while its job still runs. A request for a finished job is nothing to do; one for a job another
worker holds waits until that worker lets go, then does nothing if the job is finished, and
resumes it if that worker died."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.structs import ConsumerRecord

from app.db import jobs
from app.db.session import transaction
from app.domain.jobs import JobKind, JobRequest, JobState, ResyncScope
from consumers.jobs.worker import JobWorker
from consumers.runner import Record
from tests.integration.consumers.harness import Engine


def _worker(engine: Engine) -> JobWorker:
    return JobWorker(
        engine=engine.database, sessions=engine.sessions, syncs=engine.directory, vendors=engine.vendors,
        claim_poll_s=0.05,
    )


def _request(job_id: uuid.UUID) -> Record:
    value = JobRequest(job_id=str(job_id)).model_dump_json().encode()
    return ConsumerRecord("resync.requests", 0, 0, 0, 0, b"sync", value, None, 4, len(value), [])


async def _job(engine: Engine, state: JobState) -> uuid.UUID:
    """A resync of one person nobody linked: quick to run, and a vendor call or two at most."""
    async with transaction(engine.sessions) as session:
        job = await jobs.create_job(
            session, sync_id=engine.sync.id, kind=JobKind.RESYNC, dry_run=False,
            scope=ResyncScope(emails=["nobody@example.com"]).model_dump(),
        )
        await jobs.update_job(session, job.id, state=state, started_at=jobs.now() if state != JobState.QUEUED else None)
        return job.id


async def _state(engine: Engine, job_id: uuid.UUID) -> tuple[JobState, dict[str, int]]:
    async with engine.sessions() as session:
        job = await jobs.get_job(session, job_id)
    assert job is not None
    return job.state, job.counts


async def test_a_request_for_a_finished_job_is_nothing_to_do(engine: Engine) -> None:
    job_id = await _job(engine, JobState.DONE)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    await _worker(engine).handle(_request(job_id))
    assert await _state(engine, job_id) == (JobState.DONE, {})
    assert (await engine.sf.calls(sf_mark), await engine.gr.calls(gr_mark)) == ([], [])


async def test_a_request_for_a_job_another_worker_runs_waits_and_then_leaves_the_finished_job_alone(
    engine: Engine,
) -> None:
    job_id = await _job(engine, JobState.RUNNING)
    sf_mark, gr_mark = await engine.sf.mark(), await engine.gr.mark()
    async with engine.database.connect() as other_worker:
        assert await jobs.try_claim_job(other_worker, job_id)
        await other_worker.commit()
        second = asyncio.create_task(_worker(engine).handle(_request(job_id)))
        await asyncio.sleep(0.5)  # ten looks at the claim
        assert not second.done()
        async with transaction(engine.sessions) as session:  # the other worker finishes the job
            await jobs.update_job(session, job_id, state=JobState.DONE, counts={"people": 0})
        await jobs.release_job_claim(other_worker, job_id)
        await other_worker.commit()
        await asyncio.wait_for(second, 10)
    assert await _state(engine, job_id) == (JobState.DONE, {"people": 0})
    assert (await engine.sf.calls(sf_mark), await engine.gr.calls(gr_mark)) == ([], [])


async def test_a_request_for_a_job_whose_worker_died_resumes_it(engine: Engine) -> None:
    job_id = await _job(engine, JobState.RUNNING)
    other_worker = await engine.database.connect()
    assert await jobs.try_claim_job(other_worker, job_id)
    await other_worker.commit()
    second = asyncio.create_task(_worker(engine).handle(_request(job_id)))
    await asyncio.sleep(0.5)
    assert not second.done()
    await other_worker.invalidate()  # its process died: Postgres ends the session and its claim
    await other_worker.close()
    await asyncio.wait_for(second, 30)
    state, counts = await _state(engine, job_id)
    assert (state, counts["not_linked"]) == (JobState.DONE, 1)
