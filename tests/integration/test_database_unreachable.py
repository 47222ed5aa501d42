"""A Postgres that cannot be reached (stopped, restarting, failing over) is a database error, and a
consumer that meets it delivers the message again, rather than sending it to the retry topic
where, after a few rounds, it would become a dead letter (real Kafka; a port nothing listens on)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from app.bus import Bus, ConsumerRole
from app.clients.vendors import Vendors
from app.db.session import create_engine, ping, session_factory
from app.db.syncs import SyncDirectory
from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.settings import Settings
from consumers.engine.to_getresponse import SalesforceToGetResponse
from consumers.processing import Processor, RetryPolicy
from devstack.ports import free_port
from tests.fixtures.topics import messages_on


@pytest.fixture
def unreachable(settings: Settings) -> Settings:
    url = f"postgresql+asyncpg://sfgr@127.0.0.1:{free_port()}/sfgr"
    return settings.model_copy(update={"database_url": SecretStr(url)})


async def test_a_database_that_cannot_be_reached_is_an_operational_error(unreachable: Settings) -> None:
    engine = create_engine(unreachable)
    try:
        with pytest.raises(OperationalError):
            async with engine.connect() as connection:
                await ping(connection)
    finally:
        await engine.dispose()


async def test_an_event_met_by_an_unreachable_database_is_delivered_again_not_retried(
    unreachable: Settings, bus: Bus
) -> None:
    engine = create_engine(unreachable)
    sessions = session_factory(engine)
    vendors = Vendors(unreachable, sessions)
    direction = SalesforceToGetResponse(
        sessions=sessions, syncs=SyncDirectory(sessions, skew=timedelta(seconds=1)), vendors=vendors
    )
    processor = Processor(role=ConsumerRole.SALESFORCE_TO_GETRESPONSE, apply=direction.apply, bus=bus,
                          sessions=sessions, retry_topic=bus.topics.retry_to_getresponse,
                          policy=RetryPolicy(in_place_base_delay=0.0))
    event = ChangeEvent(
        event_id=f"om:{uuid.uuid4().hex}", source=Source.SALESFORCE, transport=Transport.OUTBOUND_MESSAGE,
        kind=Kind.CHANGED, connection_id=str(uuid.uuid4()), object_type="Lead", record_id="00Q000000000001AAA",
        email="pat@example.com", fields={"Email": "pat@example.com", "Company": "Acme"},
    )
    value = event.to_bytes()
    record = ConsumerRecord(bus.topics.salesforce_changes, 0, 0, 0, 0, event.record_id.encode(), value, None,
                            len(event.record_id), len(value), ())
    try:
        with pytest.raises(OperationalError):  # the runner delivers the message again
            await processor.handle(record)
    finally:
        await vendors.close()
        await engine.dispose()
    assert await messages_on(unreachable, bus.topics.retry_to_getresponse, within=5) == []
    assert await messages_on(unreachable, bus.topics.dead_letters, within=5) == []
