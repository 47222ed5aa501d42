"""Outbound deliveries (Salesforce Outbound Messages and CDC relay posts, GetResponse webhooks).

One engine for both simulators, because the vendors differ only in policy, not in mechanics:

- a delivery is rendered anew for every attempt (`render(attempt)`), so Salesforce can send the
  record's *latest* state on a retry and GetResponse a fresh `X-Request-ID` with the same
  `X-Webhook-ID`;
- `acknowledged(status, body)` says whether the receiver accepted it (a SOAP `Ack` true, a 2xx
  with `{"status":"OK"}`, ...); anything else is retried after `retry_delay(attempt)` seconds until
  `max_attempts` or `max_age_s` runs out, and then dropped, as the vendors drop them;
- first attempts leave in submission order, one at a time by default; retries are scheduled on
  their own and so can overtake newer deliveries, which is how the real services reorder;
- `Faults` adds duplicates (a second copy after a positive ack), reordering (holding one back)
  and a fixed delay.

Every attempt is recorded for `GET /_sim/deliveries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import aiohttp

from simulators.common.faults import Faults

Render = Callable[[int], tuple[str, bytes, dict[str, str]]]  # attempt -> (url, body, headers)
Acknowledged = Callable[[int, bytes], bool]
RetryDelay = Callable[[int], float]


@dataclass
class Delivery:
    kind: str
    key: str
    render: Render
    acknowledged: Acknowledged
    retry_delay: RetryDelay
    max_attempts: int | None = None
    max_age_s: float | None = None
    timeout_s: float = 60.0
    # Which failures are worth another attempt, from the status (None: no HTTP answer at all).
    # None here retries every failure; GetResponse, for one, gives up on a 4xx other than 429.
    retryable: Callable[[int | None], bool] | None = None
    follow_redirects: bool = True
    id: int = 0
    created: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    kind: str
    key: str
    attempt: int
    url: str
    status: int | None
    acknowledged: bool
    error: str | None
    time: str
    duration_ms: float
    duplicate: bool
    body: str


class Deliverer:
    def __init__(self, faults: Callable[[], Faults], *, concurrency: int = 1) -> None:
        self._faults = faults
        self._concurrency = concurrency
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._ids = count(1)
        self._attempts: list[Attempt] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]

    async def stop(self) -> None:
        for task in [*self._workers, *self._tasks]:
            task.cancel()
        for task in [*self._workers, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session:
            await self._session.close()

    def submit(self, delivery: Delivery) -> int:
        delivery.id = next(self._ids)
        self._queue.put_nowait(delivery)
        return delivery.id

    def attempts(self, since: int = 0, *, with_body: bool = False) -> list[dict[str, Any]]:
        rows = [asdict(a) for a in self._attempts[since:]]
        if not with_body:
            for row in rows:
                row.pop("body")
        for i, row in enumerate(rows, start=since + 1):
            row["seq"] = i
        return rows

    def clear(self) -> None:
        self._attempts.clear()
        while not self._queue.empty():
            self._queue.get_nowait()
        for task in self._tasks:
            task.cancel()

    @property
    def idle(self) -> bool:
        """Nothing queued, in flight or waiting for a retry."""
        return self._queue.empty() and self._in_flight == 0 and not self._tasks

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            self._in_flight += 1
            try:
                faults = self._faults()
                if faults.delivery_reorder_rate and random.random() < faults.delivery_reorder_rate:
                    self._later(faults.delivery_reorder_delay_ms / 1000, delivery, 1)
                    continue
                await self._attempt(delivery, 1)
            finally:
                self._in_flight -= 1

    def _later(self, delay: float, delivery: Delivery, attempt: int, *, duplicate: bool = False) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await self._attempt(delivery, attempt, duplicate=duplicate)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, delivery: Delivery, attempt: int, *, duplicate: bool = False) -> None:
        assert self._session is not None
        faults = self._faults()
        if faults.delivery_delay_ms:
            await asyncio.sleep(faults.delivery_delay_ms / 1000)
        url, body, headers = delivery.render(attempt)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        acknowledged = False
        try:
            timeout = aiohttp.ClientTimeout(total=delivery.timeout_s)
            async with self._session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=delivery.follow_redirects
            ) as response:
                status = response.status
                reply = await response.read()
                acknowledged = delivery.acknowledged(status, reply)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._attempts.append(
            Attempt(
                delivery_id=delivery.id,
                kind=delivery.kind,
                key=delivery.key,
                attempt=attempt,
                url=url,
                status=status,
                acknowledged=acknowledged,
                error=error,
                time=datetime.now(UTC).isoformat(),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                duplicate=duplicate,
                body=body.decode("utf-8", "replace"),
            )
        )
        if acknowledged:
            duplicate_rate = faults.delivery_duplicate_rate
            if not duplicate and duplicate_rate and random.random() < duplicate_rate:
                self._later(random.uniform(0.0, 0.2), delivery, attempt, duplicate=True)
            return
        if duplicate:
            return
        if delivery.retryable is not None and not delivery.retryable(status):
            return
        if delivery.max_attempts is not None and attempt >= delivery.max_attempts:
            return
        delay = delivery.retry_delay(attempt)
        age_at_retry = time.monotonic() + delay - delivery.created
        if delivery.max_age_s is not None and age_at_retry > delivery.max_age_s:
            return
        self._later(delay, delivery, attempt + 1)
