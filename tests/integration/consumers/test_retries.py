"""What the processor does with a change that fails: off the live path at once, onto its
direction's retry topic, tried again when due for as long as the budget lasts, and never able to
overwrite a later edit when it finally applies."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from aiokafka import AIOKafkaConsumer

from app.bus import Bus, ConsumerRole, client_options
from app.clients.breaker import BreakerState
from app.db import dead_letters
from app.domain.events import ChangeEvent
from consumers.processing import HEADER_ATTEMPT, HEADER_DUE, HEADER_FIRST_FAILED, Processor, RetryPolicy
from consumers.runner import Record
from tests.integration.consumers.harness import Engine, Person, company

POLICY = RetryPolicy(in_place_attempts=3, in_place_base_delay=0.01, base_delay=0.2, max_delay=0.4, budget=3.0)


def _processor(engine: Engine, bus: Bus, policy: RetryPolicy = POLICY) -> Processor:
    return Processor(
        role=ConsumerRole.SALESFORCE_TO_GETRESPONSE,
        apply=engine.to_getresponse.apply,
        bus=bus,
        sessions=engine.sessions,
        retry_topic=bus.topics.retry_to_getresponse,
        policy=policy,
    )


class RetryTopic:
    """The direction's retry topic as its retrier reads it."""

    def __init__(self, bus: Bus) -> None:
        self.consumer = AIOKafkaConsumer(
            bus.topics.retry_to_getresponse, **client_options(bus.settings), auto_offset_reset="earliest"
        )

    async def __aenter__(self) -> RetryTopic:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def next(self) -> Record:
        return await asyncio.wait_for(self.consumer.getone(), 20)


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def _company_edited(engine: Engine, person: Person, value: str) -> ChangeEvent:
    await engine.sf.update(person.salesforce_id, Company=value)
    return engine.events.updated(await engine.sf.record(person.salesforce_id), "Company")


def _live(change: ChangeEvent, bus: Bus) -> Record:
    from tests.integration.consumers.test_vendor_credentials import _record

    return _record(bus.topics.salesforce_changes, change)


async def _fail_writes_of(engine: Engine, person: Person) -> None:
    await engine.gr.faults(
        error_rate=1.0, error_statuses=[503], methods=["POST"], path_prefix=f"/v3/contacts/{person.contact_id}"
    )


async def test_a_retried_change_older_than_a_live_one_never_overwrites_it(engine: Engine, bus: Bus) -> None:
    person = await engine.linked_lead()
    processor = _processor(engine, bus)
    older = await _company_edited(engine, person, "Older Ltd")
    await _fail_writes_of(engine, person)
    async with RetryTopic(bus) as retry_topic:
        await processor.handle(_live(older, bus))  # fails in place, goes to the retry topic
        retry = await retry_topic.next()
    await engine.gr.faults()
    await asyncio.sleep(1.1)  # the next edit is a later second
    newer = await _company_edited(engine, person, "Newer Ltd")
    await processor.handle(_live(newer, bus))
    assert company(await engine.gr.contact(person.contact_id)) == "Newer Ltd"

    gr_mark = await engine.gr.mark()
    assert await processor.retry(retry) is None  # the retrier hands it back once it is due

    assert company(await engine.gr.contact(person.contact_id)) == "Newer Ltd"
    assert await engine.gr.writes(gr_mark) == []
    link = await engine.link(person.email)
    assert link is not None and link.base["company"]["value"] == "Newer Ltd"


async def test_a_change_that_keeps_failing_is_retried_with_growing_delays_until_the_budget_ends(
    engine: Engine, bus: Bus
) -> None:
    person = await engine.linked_lead()
    processor = _processor(engine, bus)
    edited = await _company_edited(engine, person, "Never Ltd")
    await _fail_writes_of(engine, person)
    started = time.time()
    async with RetryTopic(bus) as retry_topic:
        await processor.handle(_live(edited, bus))
        assert time.time() - started < 1.0  # a few quick tries in place, then off the live path
        rounds: list[dict[str, str]] = []
        record = await retry_topic.next()
        while True:
            headers = _headers(record)
            rounds.append(headers)
            again: float | None = float(headers[HEADER_DUE])
            while again is not None:  # as the retrier does: held until due, or until the probe
                await asyncio.sleep(max(0.0, again - time.time()))
                again = await processor.retry(record)
            async with engine.sessions() as session:
                if await dead_letters.newest_dead_letters(session, limit=1):
                    break
            record = await retry_topic.next()

    assert [int(r[HEADER_ATTEMPT]) for r in rounds] == list(range(1, len(rounds) + 1))
    assert len(rounds) >= 6  # more tries than a count of tries would have allowed: time decides
    assert {r[HEADER_FIRST_FAILED] for r in rounds} == {rounds[0][HEADER_FIRST_FAILED]}
    async with engine.sessions() as session:
        (letter,) = await dead_letters.newest_dead_letters(session, limit=5)
    assert letter.event_id == edited.event_id and letter.error_class in {"Transient", "CircuitOpen"}
    assert "SFGR_RETRY_BUDGET_S" in letter.reason
    assert 3.0 <= time.time() - started < 6.0


async def test_a_change_retried_after_the_vendor_recovers_arrives_and_makes_no_dead_letter(
    engine: Engine, bus: Bus
) -> None:
    person = await engine.linked_lead()
    processor = _processor(engine, bus, RetryPolicy(in_place_base_delay=0.01, base_delay=0.1, budget=60))
    edited = await _company_edited(engine, person, "Recovered Ltd")
    await _fail_writes_of(engine, person)
    async with RetryTopic(bus) as retry_topic:
        await processor.handle(_live(edited, bus))
        first = await retry_topic.next()
        assert await processor.retry(first) is None or True
        second = await retry_topic.next()
        await engine.gr.faults()
        await asyncio.sleep(max(0.0, float(_headers(second)[HEADER_DUE]) - time.time()))
        assert await processor.retry(second) is None
    assert company(await engine.gr.contact(person.contact_id)) == "Recovered Ltd"
    async with engine.sessions() as session:
        assert await dead_letters.newest_dead_letters(session, limit=5) == []


async def test_while_the_account_s_write_circuit_is_open_retries_write_nothing_and_wait_for_the_probe(
    engine: Engine, bus: Bus
) -> None:
    people = [await engine.linked_lead() for _ in range(3)]
    client = await engine.vendors.getresponse(engine.sync.getresponse_connection_id)
    assert client.breakers is not None
    breaker = client.breakers.writes
    breaker.policy = dataclasses.replace(breaker.policy, open_s=30, max_open_s=30)  # no probe in this test
    while breaker.state is not BreakerState.OPEN:
        breaker.record(answered=False)  # the account has been failing for everyone
    processor = _processor(engine, bus, RetryPolicy(in_place_base_delay=0.01, base_delay=0.2, budget=60))
    gr_mark = await engine.gr.mark()
    async with RetryTopic(bus) as retry_topic:
        for i, person in enumerate(people):
            await processor.handle(_live(await _company_edited(engine, person, f"Open {i}"), bus))
        retries = [await retry_topic.next() for _ in people]
    assert await engine.gr.writes(gr_mark) == []  # not even the live tries went out
    for record in retries:
        # Due at the probe, not after the base delay of a failed try.
        assert float(_headers(record)[HEADER_DUE]) - time.time() == pytest.approx(breaker.retry_after, abs=0.5)
        due_now = [(k, b"0" if k == HEADER_DUE else v) for k, v in record.headers]
        again = await processor.retry(dataclasses.replace(record, headers=due_now))  # held, not tried
        assert again is not None and again > time.time()
    assert await engine.gr.writes(gr_mark) == []
