"""Jobs through the outbox (app/control/jobs.py, app/outbox.py): a job and its request commit
together, and a relay sends the request once Kafka takes it, oldest first, never twice from two
relays (real Postgres and Kafka; a database of each test's own, since a relay sends every unsent
row it finds)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Bus, make_message
from app.control.jobs import start_job
from app.crypto import SecretBox
from app.db import jobs, outbox
from app.db.models import OutboxMessage
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from app.domain.jobs import JobKind, JobRequest, JobState, ResyncScope
from app.outbox import OutboxRelay
from app.settings import Settings
from devstack.broker import TansuBroker
from devstack.defaults import DEMO_MAPPING
from tests.fixtures.connections import save_connections
from tests.fixtures.polling import arrives
from tests.fixtures.topics import messages_on

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def own_database(settings: Settings, create_database: Callable[..., str], database_template: str) -> Settings:
    return settings.model_copy(update={
        "database_url": SecretStr(create_database(template=database_template)), "outbox_poll_interval_s": 0.1})


@pytest.fixture
async def sessions(own_database: Settings) -> AsyncIterator[Sessions]:
    engine = create_engine(own_database)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _a_sync(settings: Settings, sessions: Sessions) -> uuid.UUID:
    async with transaction(sessions) as session:
        org = f"00D{uuid.uuid4().hex[:15]}"
        sf, gr = await save_connections(
            session, SecretBox(settings), org_id=org, account_id=f"acct-{org}", salesforce_auth="client_credentials"
        )
        return await insert_sync(
            session, name="jobs", salesforce_connection_id=sf, getresponse_connection_id=gr,
            campaign_id=f"list-{org}", salesforce_objects=["Lead"], create_as="Lead",
            preferred_system="salesforce", mapping=DEMO_MAPPING,
        )


async def _resync(sessions: Sessions, bus: Bus, sync_id: uuid.UUID, relay: OutboxRelay | None = None) -> uuid.UUID:
    return await start_job(
        sessions, bus.topics, sync_id=sync_id, kind=JobKind.RESYNC, dry_run=False,
        scope=ResyncScope(whole_sync=True), nudge=relay.nudge if relay else None,
    )


@asynccontextmanager
async def running_relay(settings: Settings, sessions: Sessions, bus: Bus) -> AsyncIterator[OutboxRelay]:
    """A relay as a process runs it, from start-up until it stops."""
    relay = OutboxRelay(settings, sessions=sessions, bus=bus)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.stop()
        await task


async def _unsent(sessions: Sessions) -> int:
    async with sessions() as session:
        return await outbox.unsent_count(session)


async def _all_sent(sessions: Sessions) -> bool:
    return await _unsent(sessions) == 0


async def _state(sessions: Sessions, job_id: uuid.UUID) -> JobState | None:
    async with sessions() as session:
        job = await jobs.get_job(session, job_id)
    return job.state if job else None


async def _requested(settings: Settings, bus: Bus) -> list[str]:
    """The job ids of every request on the resync topic so far."""
    found = await messages_on(settings, bus.topics.resync_requests)
    return [JobRequest.model_validate_json(m.value).job_id for m in found]


async def test_a_job_committed_by_a_process_that_died_before_publishing_is_sent_by_the_next_relay(
    own_database: Settings, sessions: Sessions, bus: Bus
) -> None:
    sync_id = await _a_sync(own_database, sessions)
    # The process that made the job committed it and died before any relay ran: nothing reached Kafka.
    job_id = await _resync(sessions, bus, sync_id)
    assert (await _unsent(sessions), await _state(sessions, job_id)) == (1, JobState.QUEUED)
    assert await _requested(own_database, bus) == []

    async with running_relay(own_database, sessions, bus) as relay:  # the next process starts
        await arrives(lambda: _all_sent(sessions), within=10, what="the request sent")
    assert relay.sent == 1
    (message,) = await messages_on(own_database, bus.topics.resync_requests)
    assert JobRequest.model_validate_json(message.value).job_id == str(job_id)
    assert message.key == str(sync_id)
    assert message.headers["job_id"] == str(job_id) and message.headers["traceparent"].startswith("00-")
    assert await _state(sessions, job_id) == JobState.QUEUED  # for the resync consumer to start


async def test_with_kafka_down_the_job_stays_queued_and_its_request_unsent_until_kafka_is_back(
    own_database: Settings, sessions: Sessions, own_broker: TansuBroker
) -> None:
    settings = own_database.model_copy(update={
        "kafka_bootstrap_servers": own_broker.bootstrap, "kafka_request_timeout_ms": 1000})
    bus = Bus(settings)
    await bus.start()
    try:
        sync_id = await _a_sync(settings, sessions)
        async with running_relay(settings, sessions, bus) as relay:
            await asyncio.to_thread(own_broker.stop)
            job_id = await _resync(sessions, bus, sync_id, relay)  # queued all the same: no error

            async def tried_twice() -> bool:
                return relay.failed_passes >= 2

            await arrives(tried_twice, within=20, what="two failed passes")
            assert (await _unsent(sessions), await _state(sessions, job_id)) == (1, JobState.QUEUED)

            await asyncio.to_thread(own_broker.start)
            await arrives(lambda: _all_sent(sessions), within=30, what="the request sent once Kafka is back")
        assert await _requested(settings, bus) == [str(job_id)]
        assert await _state(sessions, job_id) == JobState.QUEUED
    finally:
        await bus.stop()


async def test_a_relay_sends_the_oldest_first_a_batch_at_a_time(
    own_database: Settings, sessions: Sessions, bus: Bus
) -> None:
    settings = own_database.model_copy(update={"outbox_batch_size": 4})
    values = [f"m{n:02}".encode() for n in range(10)]
    async with transaction(sessions) as session:
        for value in values:  # one key: one partition, where Kafka keeps the order they were sent in
            await outbox.enqueue(session, make_message(bus.topics.resync_requests, "one-sync", value))
    relay = OutboxRelay(settings, sessions=sessions, bus=bus)
    assert await relay.relay_once() == 10
    assert await relay.relay_once() == 0
    assert [m.value for m in await messages_on(settings, bus.topics.resync_requests)] == values


async def test_two_relays_never_send_one_row_twice(own_database: Settings, sessions: Sessions, bus: Bus) -> None:
    settings = own_database.model_copy(update={"outbox_batch_size": 5})
    values = [f"job-{n}" for n in range(120)]
    async with transaction(sessions) as session:
        for n, value in enumerate(values):
            await outbox.enqueue(session, make_message(bus.topics.resync_requests, f"sync-{n % 7}", value.encode()))
    # Two processes: each its own engine and producer.
    other_engine = create_engine(settings)
    other_bus = Bus(settings)
    await other_bus.start()
    try:
        async with (
            running_relay(settings, sessions, bus) as first,
            running_relay(settings, session_factory(other_engine), other_bus) as second,
        ):
            await arrives(lambda: _all_sent(sessions), within=30, what="every row sent")
    finally:
        await other_bus.stop()
        await other_engine.dispose()
    assert first.sent > 0 and second.sent > 0, "both relays took part"
    assert first.sent + second.sent == len(values)
    sent = Counter(m.value.decode() for m in await messages_on(settings, bus.topics.resync_requests))
    assert sent == Counter(values)  # each exactly once


async def test_sent_rows_are_pruned_after_the_retention_and_unsent_ones_never(sessions: Sessions, bus: Bus) -> None:
    async with transaction(sessions) as session:
        old_sent, recent_sent, old_unsent = [
            await outbox.enqueue(session, make_message(bus.topics.resync_requests, "k", value))
            for value in (b"old sent", b"recent sent", b"old unsent")
        ]
        await outbox.mark_sent(session, [old_sent, recent_sent])
        long_ago = datetime.now(UTC) - timedelta(days=30)
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == old_sent).values(sent_at=long_ago))
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == old_unsent).values(created_at=long_ago))
    async with transaction(sessions) as session:
        assert await outbox.prune_sent(session, datetime.now(UTC) - timedelta(days=7)) == 1
    async with sessions() as session:
        kept = [await session.get(OutboxMessage, i) is not None for i in (old_sent, recent_sent, old_unsent)]
    assert kept == [False, True, True]
