"""What a consumer does when applying an event fails, decided by the error's class alone.

- Transient (5xx, timeouts, connection errors) and rate limits: a few quick in-place retries with
  exponential backoff and jitter, bounded so one message never holds its partition for long; then
  the event goes to its direction's retry topic with a due time and the live partition moves on.
  A vendor account whose circuit is open (app/clients/breaker.py) is not tried in place at all.
- The retrier (consumers/retrier.py) hands each retry back here once it is due (`retry`): one try;
  on another transient failure it goes back on the retry topic with the next delay (exponential
  with jitter up to `SFGR_RETRY_MAX_DELAY_S`, or the vendor's retry-after), for as long as
  `SFGR_RETRY_BUDGET_S` lasts from the first failure. While the circuit is open it is held until
  the next probe without counting as a try.
- Permanent (validation, 4xx, a person without an email), or the budget spent: a dead letter, in
  the table (listable, replayable) and on the dead-letter topic.
- A message that is not a ChangeEvent at all is a dead letter at once: a poison message never
  stops a partition.
- The database being down is none of these: the error goes to the runner (or the retrier), which
  delivers the same message again, because no progress is possible and nothing must be dropped.

A retry is older than anything applied live since it failed; applying it late is safe because the
merge decides by each field's change time against the base (consumers/engine/merge.py), so it
cannot overwrite a later edit.
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
from app.bus import HEADER_TRACEPARENT, Bus, ConsumerRole, event_message, make_message
from app.clients.breaker import CircuitOpen
from app.clients.errors import Permanent, RateLimited, VendorError
from app.clients.limits import Priority, priority
from app.db import dead_letters
from app.db.session import transaction
from app.domain.events import ChangeEvent
from app.domain.sides import DomainError
from app.logs import get_logger
from app.settings import Settings
from app.tracing import consuming
from consumers.runner import Record

log = get_logger(__name__)

Apply = Callable[[ChangeEvent], Awaitable[None]]

HEADER_ROLE = "sfgr-role"
HEADER_ATTEMPT = "sfgr-attempt"  # tries so far, the live one included
HEADER_DUE = "sfgr-due"  # epoch seconds
HEADER_FIRST_FAILED = "sfgr-first-failed"  # epoch seconds; the budget runs from here
HEADER_ERROR = "sfgr-last-error"


@dataclass(frozen=True)
class RetryPolicy:
    in_place_attempts: int = 3
    in_place_base_delay: float = 0.1
    in_place_max_delay: float = 1.0
    base_delay: float = 1.0
    max_delay: float = 600.0
    budget: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_delay=settings.retry_base_delay_s,
            max_delay=max(settings.retry_base_delay_s, settings.retry_max_delay_s),
            budget=settings.retry_budget_s,
        )

    def in_place_delay(self, attempt: int) -> float:
        ceiling = min(self.in_place_max_delay, self.in_place_base_delay * 2.0**attempt)
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not secrecy

    def delay(self, attempt: int) -> float:
        """The wait before try `attempt + 1`: doubling from the base delay up to the max, the
        upper half jittered so that a vendor's recovery is not met by every retry at once."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy


class Retryable(Exception):
    """Gave up in place; carries the last error and how long the vendor asked us to wait."""

    def __init__(self, error: BaseException, wait: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


def _number(headers: dict[str, str], name: str, default: float) -> float:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return default


class Processor:
    """A change role's handler: `handle` for each record of its live topic (the runner's), `retry`
    for each record of its retry topic once it is due (the retrier's)."""

    def __init__(
        self,
        *,
        role: str,
        apply: Apply,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        retry_topic: str,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.role = role
        self.apply = apply
        self.bus = bus
        self.sessions = sessions
        self.retry_topic = retry_topic
        self.policy = policy or RetryPolicy()
        # The metric label: which way the changes this role applies travel.
        to_salesforce = role == ConsumerRole.GETRESPONSE_TO_SALESFORCE
        self.direction = "to_salesforce" if to_salesforce else "to_getresponse"

    async def handle(self, record: Record) -> None:
        with consuming(record.topic, _headers(record), **{"sfgr.role": self.role}):
            await self._handle(record)

    async def _handle(self, record: Record) -> None:
        event = await self._event(record)
        if event is None:
            return
        try:
            await self._apply_in_place(event, self.policy.in_place_attempts, stage="live")
        except Retryable as retry:
            traceparent = _headers(record).get(HEADER_TRACEPARENT)
            await self._to_retry_topic(event, 1, time.time(), retry, traceparent)
        except (Permanent, DomainError) as exc:
            await self._dead_letter(record, event, str(exc), type(exc).__name__, 1)

    async def retry(self, record: Record) -> float | None:
        """Try a due retry once. Returns None when it is done with (applied, back on the retry
        topic, or dead-lettered), or the epoch time to try it again at without counting a try
        (not yet due, or the vendor's circuit is open)."""
        headers = _headers(record)
        due = _number(headers, HEADER_DUE, 0.0)
        if due > time.time():
            return due
        with consuming(record.topic, headers, **{"sfgr.role": self.role}):
            return await self._retry(record, headers)

    async def _retry(self, record: Record, headers: dict[str, str]) -> float | None:
        now = time.time()
        event = await self._event(record)
        if event is None:
            return None
        attempt = int(_number(headers, HEADER_ATTEMPT, 1))
        first_failed = _number(headers, HEADER_FIRST_FAILED, now)
        try:
            with priority(Priority.RETRY):  # the account's budget serves live work first
                await self._apply_in_place(event, 1, stage="retry")
        except Retryable as retry:
            now = time.time()
            budget_end = first_failed + self.policy.budget
            if now >= budget_end:
                await self._dead_letter(
                    record,
                    event,
                    f"gave up after {attempt + 1} tries over {now - first_failed:.0f} s "
                    f"(SFGR_RETRY_BUDGET_S): {retry.error}",
                    type(retry.error).__name__,
                    attempt + 1,
                )
                return None
            if isinstance(retry.error, CircuitOpen):
                return min(now + retry.wait, budget_end)
            traceparent = headers.get(HEADER_TRACEPARENT)
            await self._to_retry_topic(event, attempt + 1, first_failed, retry, traceparent)
        except (Permanent, DomainError) as exc:
            await self._dead_letter(record, event, str(exc), type(exc).__name__, attempt + 1)
        return None

    async def close(self) -> None:
        pass

    async def _event(self, record: Record) -> ChangeEvent | None:
        try:
            return ChangeEvent.from_bytes(record.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, None, f"not a ChangeEvent: {exc}", "MalformedEvent", 1)
            return None

    async def _apply_in_place(self, event: ChangeEvent, attempts: int, *, stage: str) -> None:
        last: BaseException | None = None
        wait = 0.0
        for attempt in range(attempts):
            try:
                with metrics.counting_writes() as writes:
                    await self.apply(event)
                self._count_applied(event, stage, writes)
                return
            except CircuitOpen as exc:
                last, wait = exc, exc.retry_after
                break  # the vendor is down: no call was made, and none should be
            except RateLimited as exc:
                last, wait = exc, exc.retry_after
                if exc.retry_after > self.policy.in_place_max_delay or attempt + 1 == attempts:
                    break  # a long wait belongs on the retry topic, not in this partition
                await asyncio.sleep(exc.retry_after)
            except (OperationalError, DBAPIError):
                raise  # the database itself: let the runner deliver this message again
            except (Permanent, DomainError):
                raise
            except VendorError as exc:  # Transient, or an unclassified vendor answer
                last = exc
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.policy.in_place_delay(attempt))
            except Exception as exc:
                # A bug or an unexpected reply: retried like a transient failure, then dead-lettered
                # with the error once the budget is spent, so that it is visible and replayable.
                log.exception("unexpected error applying an event", role=self.role, event_id=event.event_id)
                last = exc
                if attempt + 1 < attempts:
                    await asyncio.sleep(self.policy.in_place_delay(attempt))
        assert last is not None
        metrics.EVENTS.labels(stage, self.direction, "retried").inc()
        raise Retryable(last, wait)

    def _count_applied(self, event: ChangeEvent, stage: str, writes: metrics.Writes) -> None:
        """Applied with a write: the change has reached the other side, and its propagation time
        is known; without one, the other side already agreed (or nothing was for this sync)."""
        if writes.acknowledged is None:
            metrics.EVENTS.labels(stage, self.direction, "no_op").inc()
            return
        metrics.EVENTS.labels(stage, self.direction, "applied").inc()
        metrics.observe_propagation(
            self.direction,
            str(event.detail.get("via") or event.transport.value),
            event.source_timestamp or event.received_at,
            writes.acknowledged,
        )

    async def _to_retry_topic(
        self, event: ChangeEvent, attempt: int, first_failed: float, retry: Retryable, traceparent: str | None
    ) -> None:
        now = time.time()
        delay = max(retry.wait, self.policy.delay(attempt))
        # The last try falls at the end of the budget rather than past it.
        due = max(now, min(now + delay, first_failed + self.policy.budget))
        retry_headers = {
            HEADER_ROLE: self.role,
            HEADER_ATTEMPT: str(attempt),
            HEADER_DUE: f"{due:.3f}",
            HEADER_FIRST_FAILED: f"{first_failed:.3f}",
            HEADER_ERROR: str(retry.error)[:500],
        }
        message = event_message(self.retry_topic, event, traceparent=traceparent, headers=retry_headers)
        await self.bus.publish([message])
        log.warning(
            "event sent to the retry topic",
            role=self.role,
            event_id=event.event_id,
            attempt=attempt,
            delay=round(due - now, 2),
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
        stage = "retry" if record.topic == self.retry_topic else "live"
        metrics.EVENTS.labels(stage, self.direction, "dead_lettered").inc()
        log.error("event dead-lettered", role=self.role, dead_letter_id=letter_id, reason=reason)
