"""Fresh credentials: a consumer's vendor registry (app/clients/vendors.py) notices a connection
that was connected again or disconnected within `connection_recheck_s`, without a restart and
without a database read per event.

Each test runs the engine's directions on a registry of its own, as another consumer process
would, whose clock the test moves: the recheck interval passes when the test says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bus import Bus, ConsumerRole
from app.clients.errors import Transient, Unauthorized
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.control import connections, getresponse_connect
from app.control.getresponse_connect import GetResponseConnect
from app.crypto import SecretBox
from app.db import dead_letters
from app.db.connections import connection_by_id
from app.db.syncs import SyncDirectory
from app.domain.events import ChangeEvent
from consumers.engine.to_getresponse import SalesforceToGetResponse
from consumers.processing import Processor, RetryPolicy
from consumers.runner import Record
from tests.integration.consumers.harness import Engine, Person, phone

RECHECK_S = 5.0
NEW_KEY = "sfgr-sim-api-key-rotated"


class Clock:
    """The registry's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Consumer:
    """The salesforce -> getresponse direction on a registry of its own."""

    clock: Clock
    vendors: Vendors
    to_getresponse: SalesforceToGetResponse


@pytest.fixture
async def consumer(engine: Engine) -> AsyncIterator[Consumer]:
    clock = Clock()
    settings = engine.vendors.settings.model_copy(update={"connection_recheck_s": RECHECK_S})
    vendors = Vendors(settings, engine.sessions, clock=clock)
    try:
        yield Consumer(
            clock,
            vendors,
            SalesforceToGetResponse(sessions=engine.sessions, syncs=engine.directory, vendors=vendors),
        )
    finally:
        await vendors.close()


async def _phone_edited(engine: Engine, person: Person, number: str) -> ChangeEvent:
    await engine.sf.update(person.salesforce_id, Phone=number)
    return engine.events.updated(await engine.sf.record(person.salesforce_id), "Phone")


async def _connect_getresponse_again(engine: Engine, api_key: str) -> None:
    """What `POST /v1/connections/getresponse` does for the account already connected."""
    async with engine.sessions() as session:
        row = await connection_by_id(session, engine.sync.getresponse_connection_id)
        assert row is not None
        await getresponse_connect.connect_getresponse(
            session,
            SecretBox(engine.vendors.settings),
            GetResponseConnect(api_key=api_key, api_base_url=row.api_base_url, account_id=row.external_id),
            public_base="http://sfgr.test",
            hosts=engine.vendors.hosts,
        )


async def _disconnect(engine: Engine, kind: connections.Kind) -> connections.Disconnected:
    """What `DELETE /v1/connections/<kind>` does."""
    async with engine.sessions() as session:
        return await connections.disconnect(session, SecretBox(engine.vendors.settings), kind=kind)


@pytest.fixture
def connection_reads(engine: Engine) -> Iterator[list[str]]:
    """Every statement that reads the connections table from now on, as sent to Postgres."""
    bind = engine.sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM connections" in statement:
            seen.append(statement)

    event.listen(bind.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(bind.sync_engine, "before_cursor_execute", record)


async def test_a_getresponse_key_replaced_by_connecting_again_is_used_once_the_recheck_interval_passed(
    engine: Engine, consumer: Consumer
) -> None:
    person = await engine.linked_lead()
    await consumer.to_getresponse.apply(await _phone_edited(engine, person, "+48 600 100 201"))
    old = await consumer.vendors.getresponse(engine.sync.getresponse_connection_id)

    # The admin makes a new key in GetResponse, deletes the old one, and connects the account again.
    await engine.gr.configure(api_key=NEW_KEY)
    await _connect_getresponse_again(engine, NEW_KEY)

    # Within the interval the consumer has not looked at the connection again: the old key is refused.
    edited = await _phone_edited(engine, person, "+48 600 100 202")
    with pytest.raises(Unauthorized):
        await consumer.to_getresponse.apply(edited)

    consumer.clock.advance(RECHECK_S)
    gr_mark = await engine.gr.mark()
    await consumer.to_getresponse.apply(edited)

    assert phone(await engine.gr.contact(person.contact_id)) == "+48600100202"
    calls = await engine.gr.calls(gr_mark)
    assert calls and all(c["status"] < 400 for c in calls), calls
    new = await consumer.vendors.getresponse(engine.sync.getresponse_connection_id)
    assert new is not old
    assert new.limiter is old.limiter  # the account's budget and pauses carry over
    assert old.retired is not None and not old.retired.revoked
    # Work that still holds the old client is told to try again, which takes the new one.
    gr_mark = await engine.gr.mark()
    with pytest.raises(Transient, match="connected again"):
        await old.get_contact(person.contact_id)
    assert await engine.gr.calls(gr_mark) == []


@pytest.mark.parametrize("kind", ["getresponse", "salesforce"])
async def test_a_disconnected_connections_client_is_retired_and_every_call_raises_unauthorized(
    engine: Engine, consumer: Consumer, kind: connections.Kind
) -> None:
    person = await engine.linked_lead()
    registry, simulator = (
        (consumer.vendors.getresponse, engine.gr) if kind == "getresponse" else (consumer.vendors.salesforce, engine.sf)
    )
    connection_id = (
        engine.sync.getresponse_connection_id if kind == "getresponse" else engine.sync.salesforce_connection_id
    )
    old: GetResponseClient | SalesforceClient = await registry(connection_id)

    disconnected = await _disconnect(engine, kind)
    assert engine.sync.id in disconnected.cancelled_syncs
    consumer.clock.advance(RECHECK_S)
    mark = await simulator.mark()

    with pytest.raises(Unauthorized, match="is not connected"):
        await registry(connection_id)
    assert old.retired is not None and old.retired.revoked
    with pytest.raises(Unauthorized, match="is not connected"):
        if isinstance(old, GetResponseClient):
            await old.get_contact(person.contact_id)
        else:
            await old.get("Lead", person.salesforce_id)
    with pytest.raises(Unauthorized):  # still, while nothing connects it again
        await registry(connection_id)
    assert await simulator.calls(mark) == []  # nothing went out with the revoked credential


async def test_a_getresponse_account_connected_again_after_a_disconnect_gets_a_working_client(
    engine: Engine, consumer: Consumer
) -> None:
    person = await engine.linked_lead()
    connection_id = engine.sync.getresponse_connection_id
    await consumer.vendors.getresponse(connection_id)
    await _disconnect(engine, "getresponse")
    consumer.clock.advance(RECHECK_S)
    with pytest.raises(Unauthorized):
        await consumer.vendors.getresponse(connection_id)

    await engine.gr.configure(api_key=NEW_KEY)
    await _connect_getresponse_again(engine, NEW_KEY)
    consumer.clock.advance(RECHECK_S)

    client = await consumer.vendors.getresponse(connection_id)
    assert (await client.get_contact(person.contact_id))["contactId"] == person.contact_id


async def test_the_registry_reads_a_connection_once_per_interval_and_never_per_event(
    engine: Engine, consumer: Consumer, connection_reads: list[str]
) -> None:
    person = await engine.linked_lead()
    await consumer.to_getresponse.apply(await _phone_edited(engine, person, "+48 600 100 210"))
    assert len(connection_reads) == 2  # first use: each of the two connections, once
    connection_reads.clear()

    for number in range(211, 216):
        consumer.clock.advance(RECHECK_S / 10)
        await consumer.to_getresponse.apply(await _phone_edited(engine, person, f"+48 600 100 {number}"))
    assert connection_reads == []
    assert phone(await engine.gr.contact(person.contact_id)) == "+48600100215"

    consumer.clock.advance(RECHECK_S)
    for number in range(216, 219):
        await consumer.to_getresponse.apply(await _phone_edited(engine, person, f"+48 600 100 {number}"))
    assert len(connection_reads) == 2  # one small read per connection, for three events
    assert not any("inbound_secret" in statement for statement in connection_reads), connection_reads


async def test_an_event_that_meets_a_disconnected_connection_is_dead_lettered_at_once(
    engine: Engine, consumer: Consumer, bus: Bus
) -> None:
    """Disconnecting cancels the syncs that use the connection, but a consumer sees that only when
    it next reads the syncs: until then it applies their events. The credential is gone, so
    retrying cannot help; the event is not dropped either: it is a dead letter with the reason,
    tried once."""
    person = await engine.linked_lead()
    directory = SyncDirectory(engine.sessions, ttl=3600)  # has not read the syncs again yet
    assert await directory.by_id(engine.sync.id) is not None
    direction = SalesforceToGetResponse(sessions=engine.sessions, syncs=directory, vendors=consumer.vendors)
    attempts: list[str] = []

    async def apply(change: ChangeEvent) -> None:
        attempts.append(change.event_id)
        await direction.apply(change)

    processor = Processor(
        role=ConsumerRole.SALESFORCE_TO_GETRESPONSE,
        apply=apply,
        bus=bus,
        sessions=engine.sessions,
        retry_topic=bus.topics.retry_to_getresponse,
        policy=RetryPolicy(in_place_base_delay=0.0),
    )
    await _disconnect(engine, "getresponse")
    consumer.clock.advance(RECHECK_S)
    edited = await _phone_edited(engine, person, "+48 600 100 299")
    gr_mark = await engine.gr.mark()

    await processor.handle(_record(bus.topics.salesforce_changes, edited))

    assert attempts == [edited.event_id]
    async with engine.sessions() as session:
        (letter,) = await dead_letters.newest_dead_letters(session, limit=10)
    assert (letter.event_id, letter.error_class, letter.attempts) == (edited.event_id, "Unauthorized", 1)
    assert "is not connected" in letter.reason
    assert await engine.gr.calls(gr_mark) == []


def _record(topic: str, change: ChangeEvent) -> Record:
    """The change as the runner hands it to the processor, read from `topic`."""
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=change.record_id.encode(),
        value=change.to_bytes(),
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=-1,
        headers=[],
    )
