"""The retrier: a consumer of one direction's retry topic, in a group of its own, that holds each
retry until it is due without holding anything else back.

- Records are fetched as they come and held in memory, ordered by their due time
  (`sfgr-due`); a held record never blocks the fetch loop, other partitions, or a record behind it
  that is due sooner. Live changes have their own consumer group (consumers/runner.py), so nothing
  here ever delays them.
- Due records go to the handler (`Processor.retry`), up to `concurrency` at once. The handler
  returns None when it is done with the record, or a time to hold it until (the vendor's circuit
  is open, or the record is not yet due); an exception (the database is down) holds it for
  `retry_pause` seconds.
- Offsets are committed up to the oldest record still held or in flight, so a crash or a
  rebalance delivers again what was not done, and nothing else. What is delivered twice is applied
  once: the engine drops an event it already processed.
- A partition with `max_held` records waiting is paused until half of them are done.
- When a vendor account's circuit closes (app/clients/breaker.py), every held record is due at
  once: the vendor answers again, and the rate limiter paces what follows.
- `stop()` lets in-flight retries finish, commits, and leaves the group.

Hand-written because aiokafka has no delayed delivery, and pausing a partition until its first
record is due would hold every later record of that partition behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from app.clients.breaker import on_close
from app.logs import get_logger
from app.observability import Heartbeat, run_under
from app.settings import Settings
from consumers.processing import HEADER_DUE
from consumers.runner import Record, group_consumer

log = get_logger(__name__)

RetryHandler = Callable[[Record], Awaitable[float | None]]


def due_of(record: Record) -> float:
    for key, value in record.headers or ():
        if key == HEADER_DUE:
            with contextlib.suppress(ValueError):
                return float(value.decode())
    return 0.0


@dataclass(order=True)
class _Held:
    due: float
    seq: int
    tp: TopicPartition = field(compare=False)
    record: Record = field(compare=False)
    generation: int = field(compare=False)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, retrier: Retrier) -> None:
        self.retrier = retrier

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.retrier.release(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", group=self.retrier.group_id, partitions=len(assigned))


class Retrier:
    def __init__(
        self,
        settings: Settings,
        *,
        topic: str,
        group_id: str,
        handler: RetryHandler,
        concurrency: int = 8,
        retry_pause: float = 0.5,
        clock: Callable[[], float] = time.time,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.handler = handler
        self.concurrency = concurrency
        self.retry_pause = retry_pause
        self.max_held = settings.retry_max_held
        self._clock = clock
        self.heartbeat = heartbeat or Heartbeat(group_id)
        self._consumer: AIOKafkaConsumer | None = None
        self._heap: list[_Held] = []
        self._seq = itertools.count()
        self._outstanding: dict[TopicPartition, set[int]] = {}  # held or in flight
        self._next: dict[TopicPartition, int] = {}  # the offset after the last one fetched
        self._committed: dict[TopicPartition, int] = {}
        self._generation: dict[TopicPartition, int] = {}  # bumped when a partition goes
        self._paused: set[TopicPartition] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake_all = False
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()
        self.handled = 0

    @property
    def held(self) -> int:
        return sum(len(offsets) for offsets in self._outstanding.values())

    def stop(self) -> None:
        """Ask the loop to finish in-flight retries, commit and leave; safe from a signal handler."""
        self._stopping.set()

    def wake_all(self) -> None:
        """Make every held record due now (a vendor answers again)."""
        self._wake_all = True

    async def run(self) -> None:
        consumer = group_consumer(self.settings, self.group_id)
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer
        unsubscribe = on_close(self.wake_all)
        run_under(self.heartbeat)
        log.info("retrier started", group=self.group_id, topic=self.topic)
        try:
            while not self._stopping.is_set():
                self.heartbeat.beat()
                batch = await consumer.getmany(timeout_ms=self._fetch_wait_ms(), max_records=500)
                if consumer.assignment():
                    self.started.set()
                for tp, records in batch.items():
                    for record in records:
                        self._hold(tp, record, due_of(record))
                        self._next[tp] = record.offset + 1
                self._dispatch()
                self._flow_control()
                await self._commit()
        finally:
            unsubscribe()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._commit()
            await consumer.stop()  # leaves the group
            self._consumer = None
            log.info("retrier stopped", group=self.group_id, handled=self.handled, held=self.held)

    async def release(self, partitions: set[TopicPartition]) -> None:
        """A rebalance takes `partitions`: commit what is done, and forget what is held (the new
        owner reads it again from the committed offset)."""
        with contextlib.suppress(KafkaError):
            await self._commit(only=partitions)
        for tp in partitions:
            self._generation[tp] = self._generation.get(tp, 0) + 1
            self._outstanding.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
            self._paused.discard(tp)

    def _hold(self, tp: TopicPartition, record: Record, due: float) -> None:
        self._outstanding.setdefault(tp, set()).add(record.offset)
        heapq.heappush(self._heap, _Held(due, next(self._seq), tp, record, self._generation.get(tp, 0)))

    def _fetch_wait_ms(self) -> int:
        if len(self._in_flight) >= self.concurrency:
            return 20  # a slot frees soon: look again before a whole fetch wait passes
        if self._wake_all or not self._heap:
            return 200
        until_due = self._heap[0].due - self._clock()
        return int(min(200.0, max(0.0, until_due) * 1000))

    def _dispatch(self) -> None:
        now = self._clock()
        if self._wake_all:
            self._wake_all = False
            for held in self._heap:
                held.due = min(held.due, now)
            heapq.heapify(self._heap)
        while self._heap and len(self._in_flight) < self.concurrency and self._heap[0].due <= now:
            held = heapq.heappop(self._heap)
            if held.generation != self._generation.get(held.tp, 0):
                continue  # its partition went to another consumer
            task = asyncio.create_task(self._try(held))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _try(self, held: _Held) -> None:
        try:
            again = await self.handler(held.record)
        except Exception:
            log.exception(
                "retry failed; it will be tried again",
                group=self.group_id,
                partition=held.tp.partition,
                offset=held.record.offset,
            )
            again = self._clock() + self.retry_pause
        if held.generation != self._generation.get(held.tp, 0):
            return
        if again is None:
            self._outstanding.get(held.tp, set()).discard(held.record.offset)
            self.handled += 1
        else:
            heapq.heappush(self._heap, _Held(again, next(self._seq), held.tp, held.record, held.generation))

    def _flow_control(self) -> None:
        assert self._consumer is not None
        for tp, offsets in self._outstanding.items():
            if tp not in self._paused and len(offsets) >= self.max_held:
                self._consumer.pause(tp)
                self._paused.add(tp)
                log.warning("retrier partition paused: too many retries waiting", partition=tp.partition)
            elif tp in self._paused and len(offsets) <= self.max_held // 2:
                self._consumer.resume(tp)
                self._paused.discard(tp)

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if self._consumer is None:
            return
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, after in self._next.items():
            if only is not None and tp not in only:
                continue
            waiting = self._outstanding.get(tp)
            position = min(waiting) if waiting else after
            if position != self._committed.get(tp):
                offsets[tp] = OffsetAndMetadata(position, "")
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance under way, or the broker away: the same offsets are committed next round.
            log.warning("retrier commit failed", group=self.group_id, error=str(exc))
            return
        for tp, offset in offsets.items():
            self._committed[tp] = offset.offset
