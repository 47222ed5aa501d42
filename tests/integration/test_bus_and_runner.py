"""Produce through app/bus.py, consume through the consumer runner, on a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable

import pytest

from app.bus import Bus, Message, PublishFailed
from app.settings import Settings
from consumers.runner import ConsumerRunner, Record
from devstack.broker import TansuBroker


async def _eventually(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _runner(settings: Settings, topic: str, handler: Callable[[Record], Awaitable[None]],
            group: str) -> ConsumerRunner:
    return ConsumerRunner(settings, topics=[topic], group_id=group, handler=handler, retry_pause=0.05)


async def _publish(bus: Bus, topic: str, *pairs: tuple[str, str]) -> None:
    await bus.publish([Message(topic=topic, key=k, value=v.encode()) for k, v in pairs])


async def test_published_messages_reach_the_handler_in_order_per_key(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.salesforce_changes
    pairs = [(f"k{i % 3}", f"v{i}") for i in range(30)]
    await _publish(bus, topic, *pairs)
    seen: list[tuple[str, str]] = []

    async def handler(record: Record) -> None:
        seen.append((record.key.decode(), record.value.decode()))

    runner = _runner(settings, topic, handler, "g-order")
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: len(seen) == 30)
    runner.stop()
    await task
    for key in ("k0", "k1", "k2"):
        assert [v for k, v in seen if k == key] == [v for k, v in pairs if k == key]


async def test_failed_handler_leaves_offset_uncommitted_and_message_is_delivered_again(
    bus: Bus, settings: Settings
) -> None:
    topic = bus.topics.getresponse_changes
    await _publish(bus, topic, ("a", "first"), ("a", "poison-once"), ("a", "third"))
    calls: list[str] = []

    async def handler(record: Record) -> None:
        value = record.value.decode()
        calls.append(value)
        if value == "poison-once" and calls.count(value) == 1:
            raise RuntimeError("transient failure")

    runner = _runner(settings, topic, handler, "g-retry")
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: "third" in calls)
    runner.stop()
    await task
    assert calls == ["first", "poison-once", "poison-once", "third"]


async def test_restarted_consumer_resumes_after_the_last_committed_offset(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.resync_requests
    await _publish(bus, topic, ("k", "1"), ("k", "2"))
    first: list[str] = []
    failing = True

    async def handler(record: Record) -> None:
        first.append(record.value.decode())
        if record.value == b"2" and failing:
            raise RuntimeError("the process dies before finishing this one")

    runner = _runner(settings, topic, handler, "g-resume")
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: first.count("2") >= 1)
    runner.stop()
    await task

    await _publish(bus, topic, ("k", "3"))
    second: list[str] = []

    async def healthy(record: Record) -> None:
        second.append(record.value.decode())

    runner = _runner(settings, topic, healthy, "g-resume")
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: second[-1:] == ["3"])
    runner.stop()
    await task
    assert second == ["2", "3"]  # "1" was committed, "2" was not


async def test_the_runner_and_the_bus_carry_on_across_a_broker_restart_without_a_restart_of_their_own(
    settings: Settings, persistent_broker: TansuBroker
) -> None:
    settings = settings.model_copy(update={
        "kafka_bootstrap_servers": persistent_broker.bootstrap, "kafka_request_timeout_ms": 3000})
    bus = Bus(settings)
    await bus.start()
    topic = bus.topics.salesforce_changes
    entered, release = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def handler(record: Record) -> None:
        if record.value == b"held":
            entered.set()
            await release.wait()
        seen.append(record.value.decode())

    try:
        await _publish(bus, topic, ("k", "1"), ("k", "held"))
        runner = _runner(settings, topic, handler, "g-broker-restart")
        task = asyncio.create_task(runner.run())
        await asyncio.wait_for(entered.wait(), 20)

        await asyncio.to_thread(persistent_broker.stop)
        release.set()  # finished while the broker is down: its commit waits for the broker
        with pytest.raises(PublishFailed):
            await _publish(bus, topic, ("k", "never acknowledged"))
        await asyncio.to_thread(persistent_broker.start)

        await _publish(bus, topic, ("k", "2"))
        await _eventually(lambda: seen[-1:] == ["2"])
        assert not task.done()
        runner.stop()
        await task
        assert seen == ["1", "held", "2"]

        # The committed offsets outlived the broker: the group's next runner gets only what is new.
        await _publish(bus, topic, ("k", "3"))
        again: list[str] = []

        async def record_all(record: Record) -> None:
            again.append(record.value.decode())

        runner = _runner(settings, topic, record_all, "g-broker-restart")
        task = asyncio.create_task(runner.run())
        await _eventually(lambda: again == ["3"])
        runner.stop()
        await task
    finally:
        await bus.stop()


async def test_stop_finishes_the_message_in_flight_and_commits_it(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.salesforce_changes
    await _publish(bus, topic, ("k", "slow"))
    entered = asyncio.Event()
    finished: list[str] = []

    async def slow(record: Record) -> None:
        entered.set()
        await asyncio.sleep(0.5)
        finished.append(record.value.decode())

    runner = _runner(settings, topic, slow, "g-stop")
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(entered.wait(), 20)
    runner.stop()
    await asyncio.wait_for(task, 20)
    assert finished == ["slow"]

    again: list[str] = []

    async def record_all(record: Record) -> None:
        again.append(record.value.decode())

    await _publish(bus, topic, ("k", "next"))
    runner = _runner(settings, topic, record_all, "g-stop")
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: again == ["next"])
    runner.stop()
    await task


async def test_publish_to_an_unreachable_broker_fails_instead_of_pretending(settings: Settings) -> None:
    from devstack.ports import free_port

    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    bus = Bus(unreachable)
    with pytest.raises(PublishFailed, match="Kafka did not acknowledge"):
        await bus.publish([Message(topic="nowhere", key="k", value=b"v")], within=2.0)
    with contextlib.suppress(Exception):
        await bus.stop()


CONSUMER_SCRIPT = """
import asyncio, signal, sys
from app.logs import configure_logging
from app.settings import Settings
from consumers.runner import ConsumerRunner

async def main():
    configure_logging("WARNING")
    settings = Settings()
    async def handler(record):
        print(record.value.decode(), flush=True)
        await asyncio.sleep(0.3)
        print("done " + record.value.decode(), flush=True)
    runner = ConsumerRunner(settings, topics=[sys.argv[1]], group_id=sys.argv[2], handler=handler)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, runner.stop)
    await runner.run()
    print("left the group", flush=True)

asyncio.run(main())
"""


async def test_sigterm_finishes_in_flight_work_commits_and_leaves(bus: Bus, settings: Settings) -> None:
    topic = bus.topics.dead_letters
    group = f"g-{uuid.uuid4().hex[:6]}"
    env = {
        "SFGR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SFGR_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "SFGR_KAFKA_SESSION_TIMEOUT_MS": "1500",
        "SFGR_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CONSUMER_SCRIPT, topic, group,
        stdout=asyncio.subprocess.PIPE, env={**__import__("os").environ, **env},
    )
    assert process.stdout is not None
    try:
        await _publish(bus, topic, ("k", "m1"))
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.strip() == b"m1"
        process.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode().split("\n")
        assert await process.wait() == 0
        assert "done m1" in rest and "left the group" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    seen: list[str] = []

    async def handler(record: Record) -> None:
        seen.append(record.value.decode())

    await _publish(bus, topic, ("k", "m2"))
    runner = _runner(settings, topic, handler, group)
    task = asyncio.create_task(runner.run())
    await _eventually(lambda: seen == ["m2"])
    runner.stop()
    await task
