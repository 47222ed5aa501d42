"""The at-least-once consumer loop every consumer process runs.

- The handler is called once per message; the offset is committed only after it returns.
- A handler that raises leaves the offset uncommitted: the runner seeks back to that message and
  calls the handler again after a pause, so the message is delivered again (and again after a
  crash, because nothing past it was committed). Retry budgets, retry topics and dead letters
  are the handler's policy (consumers/processing.py); this loop only guarantees delivery.
- Partitions are processed concurrently, each strictly in order.
- `stop()` (SIGTERM) lets in-flight messages finish, commits, and leaves the group; a rebalance
  commits what was handled before the partitions go.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import OffsetAndMetadata

from app import metrics
from app.bus import client_options
from app.logs import get_logger
from app.observability import Heartbeat, run_under
from app.settings import Settings

log = get_logger(__name__)

# aiokafka ships no type information; its ConsumerRecord is Any to mypy.
Record: TypeAlias = ConsumerRecord
Handler = Callable[[Record], Awaitable[None]]


def group_consumer(settings: Settings, group_id: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer in `group_id` that commits only what its owner says is done, and reads a
    partition the group never committed from its start."""
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        **options,
    )


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.runner.commit(only=set(revoked))
        self.runner.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", group=self.runner.group_id, partitions=len(assigned))


class ConsumerRunner:
    def __init__(
        self,
        settings: Settings,
        *,
        topics: list[str],
        group_id: str,
        handler: Handler,
        retry_pause: float = 0.5,
        max_batch: int = 100,
        consumer_options: dict[str, Any] | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.handler = handler
        self.retry_pause = retry_pause
        self.max_batch = max_batch
        self._options = consumer_options or {}
        self.heartbeat = heartbeat or Heartbeat(group_id)
        self._lag_shown_at = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}  # as far as this process knows
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()
        self.handled = 0

    def stop(self) -> None:
        """Ask the loop to finish in-flight work, commit and leave; safe from a signal handler."""
        self._stopping.set()

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        if self._consumer is None:
            return
        offsets = {
            tp: OffsetAndMetadata(offset, "")
            for tp, offset in self._uncommitted.items()
            if only is None or tp in only
        }
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced meanwhile (after a long broker outage, say): the partitions'
            # owners read again from the last committed offsets, and the engine drops what it
            # already applied. Nothing is lost by going on, and the process need not die.
            log.warning("commit refused after a rebalance; the messages will be read again",
                        group=self.group_id, error=str(exc))
        for tp, offset in offsets.items():
            self._uncommitted.pop(tp, None)
            self._committed[tp] = offset.offset

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Partitions gone to another consumer: their lag is that consumer's to show."""
        for tp in partitions:
            self._committed.pop(tp, None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.group_id, tp.topic, str(tp.partition))

    def _show_lag(self, consumer: AIOKafkaConsumer) -> None:
        """`sfgr_consumer_lag`, at most once a second: the end offset the last fetch saw, less the
        committed offset (or the first offset fetched since the partition was assigned)."""
        now = time.monotonic()
        if now - self._lag_shown_at < 1.0:
            return
        self._lag_shown_at = now
        for tp in consumer.assignment():
            end, position = consumer.highwater(tp), self._committed.get(tp)
            if end is None or position is None:
                continue
            lag = max(0, end - position)
            metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(lag)

    async def run(self) -> None:
        consumer = group_consumer(self.settings, self.group_id, **self._options)
        consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        await consumer.start()
        self._consumer = consumer
        run_under(self.heartbeat)
        log.info("consumer started", group=self.group_id, topics=self.topics)
        try:
            while not self._stopping.is_set():
                self.heartbeat.beat()
                batch = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                if consumer.assignment():
                    self.started.set()
                if batch:
                    await asyncio.gather(
                        *(self._handle_partition(tp, records) for tp, records in batch.items())
                    )
                    await self.commit()
                self._show_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await self.commit()
            await consumer.stop()  # leaves the group
            self._consumer = None
            log.info("consumer stopped", group=self.group_id, handled=self.handled)

    async def _handle_partition(self, tp: TopicPartition, records: list[Record]) -> None:
        assert self._consumer is not None
        # The first fetch after an assignment starts at the group's committed offset.
        self._committed.setdefault(tp, records[0].offset)
        for record in records:
            try:
                await self.handler(record)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "handler failed; the message will be delivered again",
                    group=self.group_id,
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=record.offset,
                )
                self._consumer.seek(tp, record.offset)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.retry_pause)
                return
            self._uncommitted[tp] = record.offset + 1
            self.handled += 1
