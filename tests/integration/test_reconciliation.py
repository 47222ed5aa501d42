"""The active poller enqueues a periodic whole-sync reconcile (real Postgres and Kafka): the job and
its request in the outbox, which a relay of another process (api, resync consumer) sends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.bus import Bus
from app.crypto import SecretBox
from app.db import connections, outbox
from app.db.models import SyncJob
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from app.domain.jobs import JobRequest
from app.outbox import OutboxRelay
from app.settings import Settings
from consumers.poller import Poller
from devstack.defaults import DEMO_MAPPING
from tests.fixtures.topics import messages_on


async def _a_sync(settings: Settings) -> uuid.UUID:
    engine = create_engine(settings)
    box = SecretBox(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            org = f"00D{uuid.uuid4().hex[:15]}"
            sf = await connections.save_connection(
                session, box, kind="salesforce", external_id=org, api_base_url="http://127.0.0.1:9",
                auth_kind="client_credentials", credentials={},
            )
            gr = await connections.save_connection(
                session, box, kind="getresponse", external_id=f"acct-{org}", api_base_url="http://127.0.0.1:9",
                auth_kind="api_key", credentials={"api_key": "k"},
            )
            return await insert_sync(
                session, name="reconcile me", salesforce_connection_id=sf, getresponse_connection_id=gr,
                campaign_id=f"list-{org}", salesforce_objects=["Lead"], create_as="Lead",
                preferred_system="salesforce", mapping=DEMO_MAPPING,
            )
    finally:
        await engine.dispose()


@pytest.fixture
def own_database(settings: Settings, create_database: Callable[..., str], database_template: str) -> Settings:
    """A database of the test's own: the relay below sends every unsent row it finds."""
    return settings.model_copy(update={"database_url": SecretStr(create_database(template=database_template))})


async def test_the_poller_enqueues_a_whole_sync_reconcile_once_the_interval_has_passed(
    own_database: Settings, bus: Bus
) -> None:
    settings = own_database.model_copy(update={"reconcile_interval_s": 0.2})
    sync_id = await _a_sync(settings)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    poller = Poller(settings, engine=engine, sessions=sessions, bus=bus)
    try:
        assert await poller.reconcile_due() == []  # the first interval starts now
        await asyncio.sleep(0.3)
        started = await poller.reconcile_due()
        async with sessions() as session:
            jobs = list(await session.scalars(select(SyncJob).where(SyncJob.sync_id == sync_id)))
        (job,) = jobs
        assert started == [job.id]
        assert (job.kind, job.mode, job.scope["whole_sync"], job.dry_run) == ("resync", "reconcile", True, False)
        await asyncio.sleep(0.3)
        assert await poller.reconcile_due() == []  # one is still queued: left to finish
        async with sessions() as session:
            assert len(list(await session.scalars(select(SyncJob).where(SyncJob.sync_id == sync_id)))) == 1

        async with sessions() as session:
            assert await outbox.unsent_count(session) == 1  # the poller runs no relay
        assert await OutboxRelay(settings, sessions=sessions, bus=bus).relay_once() == 1
        (request,) = await messages_on(settings, bus.topics.resync_requests)
        assert JobRequest.model_validate_json(request.value).job_id == str(job.id)
    finally:
        await poller.vendors.close()
        await engine.dispose()
