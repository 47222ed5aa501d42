"""Topics at start-up, on the real broker: created as the settings say, or missing and named.

Tansu refuses no creation but that of an existing name (it accepts invalid names, impossible
replication factors and unknown configs), so a refused creation is specified in
tests/unit/test_bus_topics.py with aiokafka's response types; here, the already-existing answer it
does give, and everything else the processes do at start-up.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.bus import Bus, Message, PublishFailed, TopicsUnavailable, client_options, created_topics, new_topic
from app.settings import Settings


@asynccontextmanager
async def kafka_admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def provision(settings: Settings, names: list[str]) -> None:
    """Create topics as a cluster's own provisioning would: plain, with the broker's defaults."""
    async with kafka_admin(settings) as admin:
        response = await admin.create_topics([NewTopic(name, 1, 1) for name in names])
        assert [code for _, code, _ in response.topic_errors] == [0] * len(names)


async def test_start_creates_every_topic_with_the_settings_partitions_and_min_insync_replicas(
    settings: Settings,
) -> None:
    # Tansu ignores the replication factor, so 3 can be asked of this one broker.
    settings = settings.model_copy(update={"kafka_replication_factor": 3, "kafka_min_insync_replicas": 2})
    bus = Bus(settings)
    await bus.start()
    await bus.stop()
    names = bus.topics.all()
    async with kafka_admin(settings) as admin:
        described = await admin.describe_topics(names)
        # Every config of each topic: Tansu cannot decode a request that names the configs wanted.
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(names, 3)
    min_insync = {
        resource["resource_name"]: entry["config_value"]
        for response in configs
        for resource in response.to_object()["resources"]
        for entry in resource["config_entries"]
        if entry["config_names"] == "min.insync.replicas"
    }
    assert min_insync == dict.fromkeys(names, "2")


async def test_with_creation_off_a_missing_topic_fails_start_up_naming_it_and_the_setting(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"kafka_create_topics": False})
    bus = Bus(settings)
    await provision(settings, [t for t in bus.topics.all() if t != bus.topics.dead_letters])
    with pytest.raises(TopicsUnavailable) as missing:
        await bus.start()
    await bus.stop()
    assert str(missing.value).startswith(
        f"Kafka topic {bus.topics.dead_letters} missing and SFGR_KAFKA_CREATE_TOPICS is false"
    )
    async with kafka_admin(settings) as admin:
        assert bus.topics.dead_letters not in await admin.list_topics()  # not created behind our back


async def test_with_creation_off_and_the_topics_provisioned_start_up_succeeds_and_publishes(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"kafka_create_topics": False})
    bus = Bus(settings)
    await provision(settings, bus.topics.all())
    await bus.start()
    try:
        await bus.publish([Message(topic=bus.topics.retry_to_getresponse, key="k", value=b"v")])
    finally:
        await bus.stop()


async def test_a_publish_while_topics_are_missing_fails_naming_them_instead_of_timing_out(
    settings: Settings,
) -> None:
    bus = Bus(settings.model_copy(update={"kafka_create_topics": False}))
    try:
        with pytest.raises(PublishFailed, match=f"{bus.topics.salesforce_changes}.* missing"):
            await bus.publish([Message(topic=bus.topics.salesforce_changes, key="k", value=b"v")], within=10)
    finally:
        await bus.stop()


async def test_a_topic_another_process_created_meanwhile_is_not_a_refusal(bus: Bus, settings: Settings) -> None:
    # The bus fixture created the topics; asking again gets the broker's TOPIC_ALREADY_EXISTS.
    async with kafka_admin(settings) as admin:
        response = await admin.create_topics([new_topic(settings, name) for name in bus.topics.all()])
    assert {code for _, code, _ in response.topic_errors} == {36}
    assert created_topics(response, settings) == []


async def test_processes_starting_together_all_start(settings: Settings) -> None:
    buses = [Bus(settings) for _ in range(3)]
    try:
        await asyncio.gather(*(bus.start() for bus in buses))
    finally:
        await asyncio.gather(*(bus.stop() for bus in buses))
    async with kafka_admin(settings) as admin:
        assert set(buses[0].topics.all()) <= set(await admin.list_topics())


@pytest.mark.parametrize("command", [["consume", "resync"], ["poll"]], ids=["consumer", "poller"])
async def test_a_process_with_creation_off_and_topics_missing_stops_with_one_line_naming_them(
    settings: Settings, command: list[str]
) -> None:
    env = {
        **os.environ,
        "SFGR_ENVIRONMENT": "test",
        "SFGR_DATABASE_URL": settings.database_url.get_secret_value(),
        "SFGR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SFGR_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "SFGR_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "SFGR_KAFKA_CREATE_TOPICS": "false",
        "SFGR_LOG_FORMAT": "json",
        "SFGR_METRICS_PORT": "0",  # no metrics server: its start-up line is not what this test reads
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *command,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1, stderr.decode()
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and '"level": "error"' in lines[0] and "Traceback" not in lines[0], lines
    assert f"{settings.kafka_topic_prefix}.resync.requests" in lines[0]
    assert "SFGR_KAFKA_CREATE_TOPICS is false" in lines[0]
