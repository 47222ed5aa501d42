"""`AccountLimiter`: one per GetResponse account, shared by all work in the process, so that the
process as a whole stays inside the account's limits (api-contracts B10, C11; design.md "Limits
and backpressure"):

    limiter = account_limiter("acct-key")               # or AccountLimiter(AccountLimits(...))
    async with limiter.slot(Priority.LIVE):              # BACKGROUND for resync and backfill
        reply = await call()
        limiter.observe(reply.headers)                   # X-RateLimit-Remaining / -Reset
    limiter.pause(retry_after)                           # a 429 said wait: every caller waits

What a slot waits for, all configurable in `AccountLimits`:

- `concurrency` calls in flight (10); background work may hold at most
  `concurrency - live_reserved_concurrency` of them, so a live event never queues behind a
  backfill's long calls;
- `per_second` call starts in any one-second span (80). The vendor counts calls in a span, so a
  token bucket that lets a full bucket burst on top of its refill could start up to twice the
  rate within one second; this keeps the start times of the last `per_second` calls instead and
  admits the next one a second (plus `spacing_margin_s` for network jitter) after the oldest;
- `per_window` calls per `window_s` frame (30,000 per 10 minutes), counted locally and corrected
  by every `X-RateLimit-Remaining`/`X-RateLimit-Reset` ("N seconds", C11), which also see the
  calls other processes make on the account; background work leaves the last
  `live_reserved_window` calls of a frame to live work;
- `POST /contacts/batch` on top (`slot(batch=True)`): `batch_per_second` and `batch_per_window`
  (1 per second, 80 per 10 minutes, B10);
- a pause after a 429 (`pause`).

Waiting slots are granted in priority order, then first come first served: background work
waits while any live work is queued.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import IntEnum

from app.clients.getresponse_formats import parse_seconds


class Priority(IntEnum):
    LIVE = 0
    BACKGROUND = 1


@dataclass(frozen=True)
class AccountLimits:
    per_second: int = 80
    per_window: int = 30_000
    window_s: float = 600.0
    concurrency: int = 10
    live_reserved_concurrency: int = 2
    live_reserved_window: int = 1_000
    batch_per_second: int = 1
    batch_per_window: int = 80
    spacing_margin_s: float = 0.05

    def __post_init__(self) -> None:
        if min(self.per_second, self.per_window, self.concurrency, self.batch_per_second) < 1:
            raise ValueError("every limit must allow at least one call")
        if self.batch_per_window < 1 or self.window_s <= 0 or self.spacing_margin_s < 0:
            raise ValueError("batch_per_window >= 1, window_s > 0 and spacing_margin_s >= 0 are required")
        if not 0 <= self.live_reserved_concurrency < self.concurrency:
            raise ValueError("live_reserved_concurrency must leave background work at least one slot")
        if not 0 <= self.live_reserved_window < self.per_window:
            raise ValueError("live_reserved_window must leave background work part of the frame")


class _Frame:
    """A fixed window of `size` calls per `length` seconds; its end is learnt from the vendor."""

    def __init__(self, size: int, length: float) -> None:
        self.size = size
        self.length = length
        self.remaining = size
        self.ends: float | None = None

    def roll(self, now: float) -> None:
        if self.ends is not None and now >= self.ends:
            self.remaining, self.ends = self.size, None

    def take(self, now: float) -> None:
        if self.ends is None:
            self.ends = now + self.length
        self.remaining -= 1

    def wait(self, now: float, need: int) -> float:
        self.roll(now)
        if self.remaining >= need:
            return 0.0
        return (self.ends - now) if self.ends is not None else self.length

    def observe(self, remaining: int, reset_s: float, now: float) -> None:
        ends = now + reset_s
        # The vendor rounds the reset up to whole seconds; a frame ending clearly later than ours
        # is a new one, whose count replaces ours. Within the same frame the lower count wins: ours
        # includes calls still on their way, the vendor's includes other processes' calls.
        if self.ends is None or ends > self.ends + 2.0:
            self.remaining = remaining
        else:
            self.remaining = min(self.remaining, remaining)
        self.ends = ends


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)


class AccountLimiter:
    def __init__(self, limits: AccountLimits | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.limits = limits or AccountLimits()
        self._clock = clock
        self._starts: deque[float] = deque(maxlen=self.limits.per_second)
        self._frame = _Frame(self.limits.per_window, self.limits.window_s)
        self._paused_until = 0.0
        self._in_flight = 0
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._batch_lock = asyncio.Lock()
        self._batch_starts: deque[float] = deque(maxlen=self.limits.batch_per_second)
        self._batch_frame = _Frame(self.limits.batch_per_window, self.limits.window_s)
        self._batch_paused_until = 0.0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def queued(self, priority: Priority | None = None) -> int:
        return sum(
            1 for w in self._waiters if not w.future.done() and (priority is None or w.priority == priority)
        )

    @property
    def paused_for(self) -> float:
        """Seconds until a 429's pause ends (0 when none is in force)."""
        return max(0.0, self._paused_until - self._clock())

    @asynccontextmanager
    async def slot(self, priority: Priority = Priority.LIVE, *, batch: bool = False) -> AsyncIterator[None]:
        if batch:
            # Batch calls queue among themselves first (1 per second), then take a normal slot;
            # holding the lock until then keeps their start times a second apart.
            async with self._batch_lock:
                delay = self._batch_delay(self._clock())
                while delay > 0:
                    await asyncio.sleep(delay)
                    delay = self._batch_delay(self._clock())
                await self._acquire(priority)
                now = self._clock()
                self._batch_starts.append(now)
                self._batch_frame.take(now)
        else:
            await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the vendor's view of the frame from a response's `X-RateLimit-*` headers."""
        raw_remaining = headers.get("X-RateLimit-Remaining")
        reset_s = parse_seconds(headers.get("X-RateLimit-Reset"))
        if raw_remaining is None or not raw_remaining.strip().isdigit() or reset_s is None:
            return
        self._frame.observe(int(raw_remaining), reset_s, self._clock())
        self._wake()

    def pause(self, seconds: float, *, batch: bool = False) -> None:
        """Nobody on this account starts a call (a batch call, with `batch`) for `seconds`."""
        until = self._clock() + max(0.0, seconds)
        if batch:
            self._batch_paused_until = max(self._batch_paused_until, until)
        else:
            self._paused_until = max(self._paused_until, until)

    async def _acquire(self, priority: Priority) -> None:
        if not self._waiters and self._delay(priority, self._clock()) <= 0:
            self._grant()
            return
        waiter = _Waiter(priority, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiters, waiter)
        self._wake()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release()  # granted in the same instant as it was cancelled
            else:
                waiter.future.cancel()
                self._wake()
            raise

    def _delay(self, priority: Priority, now: float) -> float:
        """0 when a call of this priority may start now, else how long until it might (inf: until
        a call in flight ends)."""
        limits = self.limits
        reserved = limits.live_reserved_concurrency if priority is Priority.BACKGROUND else 0
        if self._in_flight >= limits.concurrency - reserved:
            return math.inf
        waits = [0.0, self._paused_until - now]
        if len(self._starts) == limits.per_second:
            waits.append(self._starts[0] + 1.0 + limits.spacing_margin_s - now)
        need = 1 + (limits.live_reserved_window if priority is Priority.BACKGROUND else 0)
        waits.append(self._frame.wait(now, need))
        return max(waits)

    def _batch_delay(self, now: float) -> float:
        waits = [0.0, self._batch_paused_until - now, self._batch_frame.wait(now, 1)]
        if len(self._batch_starts) == self.limits.batch_per_second:
            waits.append(self._batch_starts[0] + 1.0 + self.limits.spacing_margin_s - now)
        return max(waits)

    def _grant(self) -> None:
        now = self._clock()
        self._in_flight += 1
        self._starts.append(now)
        self._frame.take(now)

    def _release(self) -> None:
        self._in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.future.done():
                heapq.heappop(self._waiters)
                continue
            delay = self._delay(Priority(head.priority), self._clock())
            if delay > 0:
                if delay != math.inf:
                    self._wake_in(delay)
                return
            heapq.heappop(self._waiters)
            self._grant()
            head.future.set_result(None)

    def _wake_in(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + delay
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_later(delay, self._on_timer), at

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._wake()


_SHARED: dict[str, AccountLimiter] = {}


def account_limiter(account: str, limits: AccountLimits | None = None) -> AccountLimiter:
    """The process's limiter for `account`, made with `limits` on first use (later `limits` are
    ignored: the account has one set of limits)."""
    limiter = _SHARED.get(account)
    if limiter is None:
        limiter = _SHARED[account] = AccountLimiter(limits)
    return limiter
