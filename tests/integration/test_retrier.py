"""The retrier on a real Kafka-protocol broker: each retry waits for its due time without holding
back a sooner one, offsets are committed only up to what is done, and a retrier stopped (or
killed) with retries in hand leaves them for the next one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from app.bus import Bus, Message
from app.clients.breaker import Breaker, BreakerPolicy
from app.settings import Settings
from consumers.processing import HEADER_DUE
from consumers.retrier import Retrier
from consumers.runner import Record


async def _eventually(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _retry(topic: str, key: str, value: str, due_in: float) -> Message:
    return Message(topic, key, value.encode(), ((HEADER_DUE, f"{time.time() + due_in:.3f}".encode()),))


def _retrier(settings: Settings, topic: str, handler: Callable[[Record], Awaitable[float | None]],
             group: str) -> Retrier:
    return Retrier(settings, topic=topic, group_id=group, handler=handler, retry_pause=0.05)


async def test_a_retry_due_later_never_holds_back_one_due_sooner_behind_it(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.retry_to_getresponse
    # One key, so one partition: the late one is first in line.
    await bus.publish([_retry(topic, "k", "late", 3.0), _retry(topic, "k", "soon", 0.2)])
    seen: dict[str, float] = {}
    started = time.time()

    async def handler(record: Record) -> float | None:
        seen[record.value.decode()] = time.time() - started
        return None

    retrier = _retrier(settings, topic, handler, "g-due")
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: len(seen) == 2)
    retrier.stop()
    await task
    assert list(seen) == ["soon", "late"]
    assert seen["soon"] < 2.0 <= seen["late"], seen


async def test_a_retrier_stopped_with_a_retry_in_hand_leaves_it_for_the_next_and_commits_the_rest(
    bus: Bus, settings: Settings
) -> None:
    topic = bus.topics.retry_to_salesforce
    await bus.publish([_retry(topic, "k", "held", 60.0), _retry(topic, "k", "done", 0.0)])
    first: list[str] = []

    async def handler(record: Record) -> float | None:
        first.append(record.value.decode())
        return None

    retrier = _retrier(settings, topic, handler, "g-held")
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: first == ["done"] and retrier.held == 1)
    retrier.stop()
    await task

    second: list[str] = []

    async def now(record: Record) -> float | None:
        second.append(record.value.decode())
        return None

    # The next retrier reads again from the held one: it comes back, and so does the one after it
    # (applied once by the engine, which drops an event it already processed).
    retrier = _retrier(settings, topic, lambda r: now(r), "g-held")
    retrier._clock = lambda: time.time() + 60
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: sorted(second) == ["done", "held"])
    retrier.stop()
    await task


async def test_a_handler_that_asks_for_later_is_held_and_tried_again_without_a_new_message(
    bus: Bus, settings: Settings
) -> None:
    topic = bus.topics.retry_to_getresponse
    await bus.publish([_retry(topic, "k", "circuit-open", 0.0)])
    tries: list[float] = []

    async def handler(record: Record) -> float | None:
        tries.append(time.time())
        return time.time() + 0.3 if len(tries) < 3 else None

    retrier = _retrier(settings, topic, handler, "g-again")
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: len(tries) == 3 and retrier.held == 0)
    retrier.stop()
    await task
    assert tries[2] - tries[0] >= 0.55


async def test_a_database_failure_in_the_handler_holds_the_retry_and_tries_it_again(
    bus: Bus, settings: Settings
) -> None:
    topic = bus.topics.retry_to_getresponse
    await bus.publish([_retry(topic, "k", "db-down", 0.0)])
    tries: list[str] = []

    async def handler(record: Record) -> float | None:
        tries.append(record.value.decode())
        if len(tries) < 3:
            raise ConnectionError("the database is restarting")
        return None

    retrier = _retrier(settings, topic, handler, "g-db")
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: len(tries) == 3 and retrier.held == 0)
    retrier.stop()
    await task


async def test_a_closing_circuit_makes_every_held_retry_due_at_once(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.retry_to_salesforce
    await bus.publish([_retry(topic, f"k{i}", f"v{i}", 60.0) for i in range(5)])
    seen: list[str] = []

    async def handler(record: Record) -> float | None:
        seen.append(record.value.decode())
        return None

    retrier = _retrier(settings, topic, handler, "g-wake")
    task = asyncio.create_task(retrier.run())
    await _eventually(lambda: retrier.held == 5)
    breaker = Breaker("salesforce|wake", "salesforce", BreakerPolicy(min_failures=1, open_s=0.01))
    breaker.record(answered=False)
    await asyncio.sleep(0.02)
    breaker.before_call()
    breaker.record(answered=True)  # the probe was answered: the vendor is back
    await _eventually(lambda: len(seen) == 5, within=5)
    retrier.stop()
    await task
