"""What a consumer does when applying an event fails, decided by the error's class alone.

- Transient (5xx, timeouts, connection errors) and rate limits: a few quick in-place retries with
  exponential backoff and jitter, bounded so one message never holds its partition for long; then
  the event goes to the retry topic with a due time and the partition moves on.
- Permanent (validation, 4xx, a person without an email) or too many attempts: a dead letter, in
  the table (listable, replayable) and on the dead-letter topic.
- A message that is not a ChangeEvent at all is a dead letter at once: a poison message never
  stops a partition.
- The database being down is none of these: the error goes to the runner, which delivers the
  same message again, because no progress is possible and nothing must be dropped meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.bus import HEADER_TRACEPARENT, Bus, event_message, make_message
from app.clients.errors import Permanent, RateLimited, Transient, VendorError
from app.db import dead_letters
from app.db.session import transaction
from app.domain.events import ChangeEvent
from app.domain.sides import DomainError
from app.logs import get_logger
from consumers.runner import Record

log = get_logger(__name__)

Apply = Callable[[ChangeEvent], Awaitable[None]]

HEADER_ROLE = "sfgr-role"
HEADER_ATTEMPT = "sfgr-attempt"
HEADER_DUE = "sfgr-due"  # epoch seconds
HEADER_ERROR = "sfgr-last-error"


@dataclass(frozen=True)
class RetryPolicy:
    in_place_attempts: int = 3
    in_place_base_delay: float = 0.1
    in_place_max_delay: float = 1.0
    topic_attempts: int = 6  # retry-topic rounds before a dead letter
    topic_base_delay: float = 1.0
    topic_max_delay: float = 60.0

    def in_place_delay(self, attempt: int) -> float:
        ceiling = min(self.in_place_max_delay, self.in_place_base_delay * 2.0**attempt)
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not secrecy

    def topic_delay(self, attempt: int) -> float:
        ceiling = min(self.topic_max_delay, self.topic_base_delay * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy


class Retryable(Exception):
    """Gave up in place; carries the last error and how long the vendor asked us to wait."""

    def __init__(self, error: BaseException, wait: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


class Processor:
    """The handler a role's runner calls for each record of its topic and of the retry topic."""

    def __init__(
        self,
        *,
        role: str,
        apply: Apply,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.role = role
        self.apply = apply
        self.bus = bus
        self.sessions = sessions
        self.policy = policy or RetryPolicy()
        self.stopping = asyncio.Event()

    async def handle(self, record: Record) -> None:
        headers = _headers(record)
        is_retry = record.topic == self.bus.topics.retry
        if is_retry and headers.get(HEADER_ROLE) != self.role:
            return  # another role's retry
        try:
            event = ChangeEvent.from_bytes(record.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, None, f"not a ChangeEvent: {exc}", "MalformedEvent", 1)
            return
        attempt = int(headers.get(HEADER_ATTEMPT, "0")) if is_retry else 0
        if is_retry:
            await self._wait_until(float(headers.get(HEADER_DUE, "0")))
        try:
            await self._apply_in_place(event)
        except Retryable as retry:
            if attempt + 1 >= self.policy.topic_attempts:
                await self._dead_letter(
                    record,
                    event,
                    f"gave up after {attempt + 1} rounds of retries: {retry.error}",
                    type(retry.error).__name__,
                    attempt + 1,
                )
                return
            await self._to_retry_topic(event, attempt + 1, retry, headers.get(HEADER_TRACEPARENT))
        except (Permanent, DomainError) as exc:
            await self._dead_letter(record, event, str(exc), type(exc).__name__, attempt + 1)

    async def close(self) -> None:
        self.stopping.set()

    async def _apply_in_place(self, event: ChangeEvent) -> None:
        last: BaseException | None = None
        wait = 0.0
        for attempt in range(self.policy.in_place_attempts):
            try:
                await self.apply(event)
                metrics.EVENTS_APPLIED.labels(self.role).inc()
                return
            except RateLimited as exc:
                last, wait = exc, exc.retry_after
                if exc.retry_after > self.policy.in_place_max_delay:
                    break  # a long wait belongs on the retry topic, not in this partition
                await asyncio.sleep(exc.retry_after)
            except (OperationalError, DBAPIError):
                raise  # the database itself: let the runner deliver this message again
            except Transient as exc:
                last = exc
                await asyncio.sleep(self.policy.in_place_delay(attempt))
            except (Permanent, DomainError):
                raise
            except VendorError as exc:
                last = exc
                await asyncio.sleep(self.policy.in_place_delay(attempt))
            except Exception as exc:
                # A bug or an unexpected reply: retried a bounded number of times, then dead-lettered
                # with the error, so that it is visible and replayable once fixed.
                log.exception("unexpected error applying an event", role=self.role, event_id=event.event_id)
                last = exc
                await asyncio.sleep(self.policy.in_place_delay(attempt))
        assert last is not None
        metrics.EVENTS_RETRIED.labels(self.role, type(last).__name__).inc()
        raise Retryable(last, wait)

    async def _wait_until(self, due: float) -> None:
        while (left := due - time.time()) > 0:
            if self.stopping.is_set():
                raise RuntimeError("stopping before a retry was due; it will be delivered again")
            await asyncio.sleep(min(left, 0.5))

    async def _to_retry_topic(
        self, event: ChangeEvent, attempt: int, retry: Retryable, traceparent: str | None
    ) -> None:
        delay = max(retry.wait, self.policy.topic_delay(attempt))
        retry_headers = {
            HEADER_ROLE: self.role,
            HEADER_ATTEMPT: str(attempt),
            HEADER_DUE: f"{time.time() + delay:.3f}",
            HEADER_ERROR: str(retry.error)[:500],
        }
        message = event_message(self.bus.topics.retry, event, traceparent=traceparent, headers=retry_headers)
        await self.bus.publish([message])
        log.warning(
            "event sent to the retry topic",
            role=self.role,
            event_id=event.event_id,
            attempt=attempt,
            delay=round(delay, 2),
            error=str(retry.error),
        )

    async def _dead_letter(
        self, record: Record, event: ChangeEvent | None, reason: str, error_class: str, attempts: int
    ) -> None:
        body = (
            json.loads(event.model_dump_json()) if event else {"raw": record.value.decode("utf-8", "replace")}
        )
        sync_id = uuid.UUID(event.sync_id) if event and event.sync_id else None
        async with transaction(self.sessions) as session:
            letter = await dead_letters.add(
                session,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key.decode() if record.key else None,
                event_id=event.event_id if event else None,
                event=body,
                reason=reason,
                error_class=error_class,
                attempts=attempts,
                sync_id=sync_id,
            )
            letter_id = letter.id
        await self.bus.publish(
            [
                make_message(
                    self.bus.topics.dead_letters,
                    event.record_id if event else "malformed",
                    json.dumps(
                        {"dead_letter_id": letter_id, "role": self.role, "reason": reason, "event": body}
                    ).encode(),
                    event_id=event.event_id if event else None,
                )
            ]
        )
        metrics.DEAD_LETTERS.labels(self.role, error_class).inc()
        log.error("event dead-lettered", role=self.role, dead_letter_id=letter_id, reason=reason)
