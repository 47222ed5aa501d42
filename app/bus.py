"""Kafka: topic names, the consumer groups that read them, the one message factory, the one
producer of a process, and topic creation at start-up.

Messages are keyed by the source record id so that every change to one record stays in order
within its topic (design.md, "Kafka topics"). The consumer-group topology lives here, beside the
topics, so that the control API (lag per direction) and the processes (`consumers/roles.py`,
which attaches a handler to each group) read the same names.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from app.domain.events import ChangeEvent
from app.kafka_oauth import ClientCredentialsTokens
from app.logs import get_logger
from app.settings import Settings
from app.trace_context import traceparent_for

log = get_logger(__name__)


@dataclass(frozen=True)
class Topics:
    salesforce_changes: str
    getresponse_changes: str
    resync_requests: str
    retry_to_getresponse: str
    retry_to_salesforce: str
    dead_letters: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        p = settings.kafka_topic_prefix
        return cls(
            salesforce_changes=f"{p}.salesforce.changes",
            getresponse_changes=f"{p}.getresponse.changes",
            resync_requests=f"{p}.resync.requests",
            retry_to_getresponse=f"{p}.retry.salesforce-to-getresponse",
            retry_to_salesforce=f"{p}.retry.getresponse-to-salesforce",
            dead_letters=f"{p}.dead-letters",
        )

    def all(self) -> list[str]:
        return [
            self.salesforce_changes,
            self.getresponse_changes,
            self.resync_requests,
            self.retry_to_getresponse,
            self.retry_to_salesforce,
            self.dead_letters,
        ]


class ConsumerRole(StrEnum):
    """What `sfgr consume <role>` runs; also the consumer name of processed-event rows."""

    SALESFORCE_TO_GETRESPONSE = "salesforce-to-getresponse"
    GETRESPONSE_TO_SALESFORCE = "getresponse-to-salesforce"
    RESYNC = "resync"


@dataclass(frozen=True)
class ConsumerGroup:
    """One consumer role's place on the bus: the topics it reads, its group's options, and for a
    change role the retry topic its retrier reads in a group of its own."""

    role: ConsumerRole
    description: str
    topics: Callable[[Topics], list[str]]
    options: dict[str, Any] = field(default_factory=dict)
    retry_topic: Callable[[Topics], str] | None = None

    def group_id(self, settings: Settings) -> str:
        return f"{settings.kafka_topic_prefix}.{self.role.value}"

    def retry_group_id(self, settings: Settings) -> str:
        return f"{settings.kafka_topic_prefix}.{self.role.value}.retry"


# Each change role runs two groups: the live one on its changes topic, which never waits, and the
# retrier on its direction's retry topic, which holds each failed change until it is due
# (consumers/processing.py, consumers/retrier.py).
CONSUMER_GROUPS: dict[ConsumerRole, ConsumerGroup] = {
    group.role: group
    for group in (
        ConsumerGroup(
            role=ConsumerRole.SALESFORCE_TO_GETRESPONSE,
            description="apply Salesforce changes to GetResponse lists; look up pending creates",
            topics=lambda t: [t.salesforce_changes],
            retry_topic=lambda t: t.retry_to_getresponse,
        ),
        ConsumerGroup(
            role=ConsumerRole.GETRESPONSE_TO_SALESFORCE,
            description="apply GetResponse changes (webhooks, poller) to Salesforce",
            topics=lambda t: [t.getresponse_changes],
            retry_topic=lambda t: t.retry_to_salesforce,
        ),
        ConsumerGroup(
            role=ConsumerRole.RESYNC,
            description="run first syncs and resyncs (jobs requested through the control API)",
            topics=lambda t: [t.resync_requests],
            # A job holds its request until it is done, which may take many minutes.
            options={"max_poll_interval_ms": 6 * 3600 * 1000},
        ),
    )
}


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security options shared by the producer, consumers and admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "client_id": settings.kafka_client_id,
    }
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        options["sasl_mechanism"] = "OAUTHBEARER"
        options["sasl_oauth_token_provider"] = ClientCredentialsTokens(settings)
    elif settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if "SSL" in settings.kafka_security_protocol:
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            password = settings.kafka_ssl_key_password
            context.load_cert_chain(
                settings.kafka_ssl_certfile,
                settings.kafka_ssl_keyfile,
                password.get_secret_value() if password else None,
            )
        options["ssl_context"] = context
    return options


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


HEADER_EVENT_ID = "event_id"
HEADER_TRACEPARENT = "traceparent"  # W3C Trace Context, so one change can be followed end to end
HEADER_REQUEST_ID = "request_id"


def make_message(
    topic: str,
    key: str,
    value: bytes,
    *,
    event_id: str | None = None,
    traceparent: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Message:
    """The one way a message is made: keyed as given, with the event id, a `traceparent` (the
    caller's span, or a new trace) and the request id in headers of one form, then `headers`."""
    named = {
        HEADER_EVENT_ID: event_id,
        HEADER_TRACEPARENT: traceparent or traceparent_for(None),
        HEADER_REQUEST_ID: request_id,
        **(headers or {}),
    }
    return Message(topic, key, value, tuple((k, v.encode()) for k, v in named.items() if v is not None))


def event_message(
    topic: str,
    event: ChangeEvent,
    *,
    traceparent: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Message:
    """A ChangeEvent keyed by its source record id, so one record's changes stay in order."""
    return make_message(
        topic,
        event.record_id,
        event.to_bytes(),
        event_id=event.event_id,
        traceparent=traceparent,
        request_id=request_id,
        headers=headers,
    )


class PublishFailed(RuntimeError):
    """Kafka did not acknowledge: the caller must not acknowledge its sender either."""


class TopicsUnavailable(RuntimeError):
    """Kafka answers, but the bus's topics are not there: missing while SFGR_KAFKA_CREATE_TOPICS is
    false, or refused by the broker. Retrying alone does not help; the message says what would."""


def _topics_named(names: Sequence[str]) -> str:
    return ("topic " if len(names) == 1 else "topics ") + ", ".join(names)


def new_topic(settings: Settings, name: str) -> NewTopic:
    """How every topic we create is made. Only min.insync.replicas is set: retention and the rest
    stay the cluster's defaults, which its operators own."""
    return NewTopic(
        name,
        settings.kafka_topic_partitions,
        settings.kafka_replication_factor,
        topic_configs={"min.insync.replicas": str(settings.kafka_min_insync_replicas)},
    )


def created_topics(response: Any, settings: Settings) -> list[str]:
    """The topics a CreateTopics `response` says were created; raises TopicsUnavailable naming
    each topic the broker refused, with its reason.

    aiokafka returns the broker's per-topic errors in the response instead of raising them. A topic
    that already exists was created by another process since we listed the topics: that is fine.
    """
    created: list[str] = []
    refused: list[str] = []
    for entry in response.to_object()["topic_errors"]:
        topic, code = entry["topic"], entry["error_code"]
        if code == 0:
            created.append(topic)
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            reason = entry.get("error_message") or error.description
            refused.append(f"{topic} ({error.message}: {reason})")
    if refused:
        raise TopicsUnavailable(
            f"Kafka refused to create {_topics_named(refused)}; asked for "
            f"{settings.kafka_topic_partitions} partitions, replication factor "
            f"{settings.kafka_replication_factor}, min.insync.replicas {settings.kafka_min_insync_replicas}: "
            "fix SFGR_KAFKA_TOPIC_PARTITIONS, SFGR_KAFKA_REPLICATION_FACTOR or "
            "SFGR_KAFKA_MIN_INSYNC_REPLICAS, or create the topics on the cluster and set "
            "SFGR_KAFKA_CREATE_TOPICS=false"
        )
    return created


class Bus:
    """The process's one producer (acks=all; idempotence from settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        # False until the topics are known to exist, and again after a failed publish: Tansu's
        # memory engine (tests, demo) forgets every topic when it restarts, and a broker that was
        # down at start-up never had them created.
        self._topics_ready = False
        self._retiring: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.ensure_topics()
        await self._ensure_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **client_options(self.settings),
                    acks="all",
                    enable_idempotence=self.settings.kafka_enable_idempotence,
                    linger_ms=0,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._retiring:
            await asyncio.wait(self._retiring, timeout=self.settings.kafka_request_timeout_ms / 1000)

    def _retire_producer(self) -> None:
        """Drop the producer after a failed publish, failing what it still holds.

        The failed publish was answered with an error, so its sender delivers again; batches left
        in the old producer would otherwise be retried by aiokafka and reach Kafka as duplicates.
        Publishes still in flight on it fail as well, and their senders deliver again too.
        """
        producer, self._producer = self._producer, None
        if producer is None:
            return
        accumulator = getattr(producer, "_message_accumulator", None)
        if accumulator is not None:
            accumulator.fail_all(KafkaError("publish abandoned; the sender delivers again"))

        async def close() -> None:
            with contextlib.suppress(Exception):
                await producer.stop()

        task = asyncio.create_task(close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def ensure_topics(self) -> None:
        """Make sure every topic exists, creating the missing ones when the settings allow it.

        Raises TopicsUnavailable when a topic is missing and may not be created, or when Kafka
        refuses to create one; KafkaError or OSError when no broker answers.
        """
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in self.topics.all() if name not in existing]
            if missing and not self.settings.kafka_create_topics:
                raise TopicsUnavailable(
                    f"Kafka {_topics_named(missing)} missing and SFGR_KAFKA_CREATE_TOPICS is false: "
                    "create them on the cluster (or set SFGR_KAFKA_CREATE_TOPICS=true)"
                )
            if missing:
                response = await admin.create_topics([new_topic(self.settings, name) for name in missing])
                created = created_topics(response, self.settings)
                if created:
                    log.info(
                        "kafka topics created",
                        topics=created,
                        partitions=self.settings.kafka_topic_partitions,
                        replication_factor=self.settings.kafka_replication_factor,
                        min_insync_replicas=self.settings.kafka_min_insync_replicas,
                    )
        finally:
            await admin.close()
        self._topics_ready = True

    async def publish(self, messages: Iterable[Message], *, within: float | None = None) -> float:
        """Send every message and wait until Kafka acknowledged all of them; returns the seconds taken.

        Raises PublishFailed when any message is not acknowledged within `within` seconds: the
        caller answers its sender with an error so that the sender delivers again.
        """
        started = time.perf_counter()
        timeout = within if within is not None else self.settings.kafka_request_timeout_ms / 1000

        async def send_all() -> None:
            if not self._topics_ready:
                await self.ensure_topics()
            producer = await self._ensure_producer()
            futures = [
                await producer.send(m.topic, m.value, key=m.key.encode(), headers=list(m.headers))
                for m in messages
            ]
            await asyncio.gather(*futures)

        try:
            await asyncio.wait_for(send_all(), timeout)
        except TopicsUnavailable as exc:
            raise PublishFailed(str(exc)) from exc
        except (KafkaError, TimeoutError, OSError) as exc:
            self._topics_ready = False
            self._retire_producer()
            raise PublishFailed(f"Kafka did not acknowledge: {type(exc).__name__}: {exc}") from exc
        return time.perf_counter() - started

    async def ping(self, within: float = 3.0) -> None:
        """Raises when no broker answers a metadata request within `within` seconds."""
        producer = await asyncio.wait_for(self._ensure_producer(), within)
        ok = await asyncio.wait_for(producer.client.force_metadata_update(), within)
        if not ok:
            raise PublishFailed("Kafka metadata request failed")

    async def check_ready(self, within: float = 3.0) -> None:
        """What /readyz asks: a broker answers, and the topics exist (created now if missing and
        allowed). Raises TopicsUnavailable for the topics, anything else when no broker answers."""
        await self.ping(within)
        if not self._topics_ready:
            await asyncio.wait_for(self.ensure_topics(), within)
