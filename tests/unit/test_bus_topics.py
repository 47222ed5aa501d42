"""How the bus reads a CreateTopics answer, and the topics it asks for.

aiokafka returns the broker's per-topic errors inside the response rather than raising them. Tansu,
the broker of the integration tests, refuses nothing but an existing name (it accepts invalid names,
impossible replication factors and unknown configs), so a refusal is specified here with aiokafka's
own response types carrying what Apache Kafka answers.
"""

from __future__ import annotations

import pytest
from aiokafka.protocol.admin import CreateTopicsResponse_v0, CreateTopicsResponse_v3

from app.bus import TopicsUnavailable, created_topics, new_topic
from app.settings import Settings

PRODUCTION_LIKE = Settings(kafka_replication_factor=3, kafka_topic_partitions=6)


def test_created_topics_are_returned() -> None:
    response = CreateTopicsResponse_v3(0, [("sfgr.retry", 0, None), ("sfgr.dead-letters", 0, None)])
    assert created_topics(response, PRODUCTION_LIKE) == ["sfgr.retry", "sfgr.dead-letters"]


def test_a_topic_another_process_created_meanwhile_is_not_an_error() -> None:
    response = CreateTopicsResponse_v3(
        0, [("sfgr.retry", 36, "Topic 'sfgr.retry' already exists."), ("sfgr.dead-letters", 0, None)]
    )
    assert created_topics(response, PRODUCTION_LIKE) == ["sfgr.dead-letters"]


def test_a_refused_topic_is_an_error_naming_the_topic_and_the_brokers_reason() -> None:
    response = CreateTopicsResponse_v3(
        0,
        [
            ("sfgr.retry", 38, "Replication factor: 3 larger than available brokers: 1."),
            ("sfgr.dead-letters", 0, None),
        ],
    )
    with pytest.raises(TopicsUnavailable) as refused:
        created_topics(response, PRODUCTION_LIKE)
    message = str(refused.value)
    assert (
        "Kafka refused to create topic sfgr.retry "
        "(INVALID_REPLICATION_FACTOR: Replication factor: 3 larger than available brokers: 1.)"
    ) in message
    assert "sfgr.dead-letters" not in message
    assert "replication factor 3" in message and "SFGR_KAFKA_CREATE_TOPICS=false" in message


def test_every_refused_topic_is_named_at_once() -> None:
    response = CreateTopicsResponse_v3(
        0,
        [
            ("sfgr.retry", 29, "Authorization failed."),
            ("sfgr.dead-letters", 44, "Topic replication factor must be 3"),
        ],
    )
    with pytest.raises(TopicsUnavailable) as refused:
        created_topics(response, PRODUCTION_LIKE)
    assert "topics sfgr.retry (TOPIC_AUTHORIZATION_FAILED: Authorization failed.), " in str(refused.value)
    assert "sfgr.dead-letters (POLICY_VIOLATION: Topic replication factor must be 3)" in str(refused.value)


def test_a_refusal_without_a_message_gives_the_error_codes_description() -> None:
    response = CreateTopicsResponse_v0([("sfgr.retry", 37)])
    with pytest.raises(TopicsUnavailable, match=r"sfgr\.retry \(INVALID_PARTITIONS: Number of partitions is invalid\.\)"):
        created_topics(response, PRODUCTION_LIKE)


def test_topics_are_asked_for_with_the_settings_partitions_replication_and_min_insync_replicas() -> None:
    topic = new_topic(PRODUCTION_LIKE, "sfgr.retry")
    assert (topic.name, topic.num_partitions, topic.replication_factor) == ("sfgr.retry", 6, 3)
    # Only min.insync.replicas: retention and the rest stay the cluster's defaults.
    assert topic.topic_configs == {"min.insync.replicas": "2"}
