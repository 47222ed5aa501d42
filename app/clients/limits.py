"""`AccountLimiter`: one per GetResponse account, shared by all work of a process (of its vendor
registry), so that the process stays inside the account's limits (api-contracts B10, C11;
design.md "Limits and backpressure"):

    limiter = account_limiter("acct-key")               # or AccountLimiter(AccountLimits(...))
    async with limiter.slot(Priority.LIVE):              # RETRY, BACKGROUND for resync and backfill
        reply = await call()
        limiter.observe(reply.headers)                   # X-RateLimit-Remaining / -Reset
    limiter.pause(retry_after)                           # a 429 said wait: every caller waits

    with priority(Priority.RETRY):                       # calls that name no priority take this one
        await client.get_contact(contact_id)

The account's limits hold for all processes together: a `SharedBudget`
(`app/clients/shared_limits.py`) leases this limiter a slice of the account's calls per second and
concurrency (`set_share`), and shares its pauses with every other process. A limiter without one
(`account_limiter`, tests) has the whole account to itself.

What a slot waits for, all configurable in `AccountLimits`:

- `concurrency` calls in flight (10), or the leased share of them; without a lease, work other than
  live may hold at most `concurrency - live_reserved_concurrency` of them, so a live event never
  queues behind a backfill's long calls (with a lease the shared budget keeps that reserve for the
  account as a whole);
- `per_second` call starts in any one-second span (80), or the leased share of them. The vendor
  counts calls in a span, so a token bucket that lets a full bucket burst on top of its refill
  could start up to twice the rate within one second; this keeps the start times of the last calls
  instead and admits the next one a second (plus `spacing_margin_s` for network jitter) after the
  oldest that counts;
- `per_window` calls per `window_s` frame (30,000 per 10 minutes), counted locally and corrected
  by every `X-RateLimit-Remaining`/`X-RateLimit-Reset` ("N seconds", C11), which also see the
  calls other processes make on the account; work other than live leaves the last
  `live_reserved_window` calls of a frame to live work;
- `POST /contacts/batch` on top (`slot(batch=True)`): `batch_per_second` and `batch_per_window`
  (1 per second, 80 per 10 minutes, B10);
- a pause after a 429 (`pause`; with a shared budget, every process of the account pauses).

Waiting slots are granted in priority order (live, then retries, then background), then first come
first served: retries wait while any live work is queued, background work while either is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from app import metrics
from app.clients.getresponse_formats import parse_seconds


class Priority(IntEnum):
    LIVE = 0
    RETRY = 1
    BACKGROUND = 2


call_priority: ContextVar[Priority] = ContextVar("call_priority", default=Priority.LIVE)
"""The priority of vendor calls made in this context whose caller names none."""


@contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Calls made inside (and in tasks started inside) take `level` unless they name another."""
    token = call_priority.set(level)
    try:
        yield
    finally:
        call_priority.reset(token)


@dataclass(frozen=True)
class AccountLimits:
    per_second: int = 80
    per_window: int = 30_000
    window_s: float = 600.0
    concurrency: int = 10
    live_reserved_concurrency: int = 2
    live_reserved_per_second: int = 8  # with a shared budget only; at most per_second - 1 of it
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
        if self.live_reserved_per_second < 0:
            raise ValueError("live_reserved_per_second must be >= 0")
        if not 0 <= self.live_reserved_window < self.per_window:
            raise ValueError("live_reserved_window must leave background work part of the frame")


@dataclass(frozen=True)
class Usage:
    """What a limiter did since the previous `usage()`, per priority (indexed by `Priority`), for
    its shared budget to lease it what it needs."""

    starts: tuple[int, ...]
    """call starts in the last second"""
    peak_in_flight: tuple[int, ...]
    """the most calls in flight at once, queued ones counted"""
    starved: frozenset[Priority]
    """priorities of which a call waited for the leased share (not for a pause or the frame)"""


class Coordinator(Protocol):
    """What a limiter tells its shared budget (app/clients/shared_limits.py)."""

    def starved(self) -> None:
        """A call waits for the leased share: more is wanted now."""

    def paused(self, seconds: float, *, batch: bool) -> None:
        """A 429 paused the account here: every other process should pause too."""

    async def claim_batch(self, seconds: float) -> bool:
        """Whether this process may start a batch call now; if so, no other does for `seconds`."""


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
        # (start time, priority) of the latest calls: never more than `per_second` count at once.
        self._starts: deque[tuple[float, Priority]] = deque(maxlen=self.limits.per_second)
        self._frame = _Frame(self.limits.per_window, self.limits.window_s)
        self._paused_until = 0.0
        self._in_flight = 0
        self._in_flight_by = [0] * len(Priority)
        self._peak_by = [0] * len(Priority)
        self._starved: set[Priority] = set()
        self._share_per_second = self.limits.per_second
        self._share_concurrency = self.limits.concurrency
        self._coordinator: Coordinator | None = None
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

    @property
    def batch_wait(self) -> float:
        """Seconds until a `POST /contacts/batch` may start in this process (its own throttle)."""
        return self._batch_delay(self._clock())

    async def claim_batch(self) -> bool:
        """Whether a batch call may start now as far as the other processes of the account go:
        the batch throttle (1 a second) is the account's, so with a shared budget one process at a
        time claims its next second; alone, this limiter's own throttle is enough."""
        if self._coordinator is None:
            return True
        return await self._coordinator.claim_batch(1.0 + self.limits.spacing_margin_s)

    @property
    def share(self) -> tuple[int, int]:
        """(calls per second, concurrent calls) this limiter may use now."""
        return self._share_per_second, self._share_concurrency

    @asynccontextmanager
    async def slot(self, priority: Priority = Priority.LIVE, *, batch: bool = False) -> AsyncIterator[None]:
        asked = time.monotonic()
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
        metrics.RATE_LIMIT_WAIT_SECONDS.observe(time.monotonic() - asked)
        try:
            yield
        finally:
            self._release(priority)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the vendor's view of the frame from a response's `X-RateLimit-*` headers."""
        raw_remaining = headers.get("X-RateLimit-Remaining")
        reset_s = parse_seconds(headers.get("X-RateLimit-Reset"))
        if raw_remaining is None or not raw_remaining.strip().isdigit() or reset_s is None:
            return
        self._frame.observe(int(raw_remaining), reset_s, self._clock())
        self._wake()

    def pause(self, seconds: float, *, batch: bool = False) -> None:
        """Nobody on this account starts a call (a batch call, with `batch`) for `seconds`; with a
        shared budget, in every process."""
        self.follow_pause(seconds, batch=batch)
        if self._coordinator is not None:
            self._coordinator.paused(seconds, batch=batch)

    def follow_pause(self, seconds: float, *, batch: bool = False) -> None:
        """`pause` in this process only: the pause another process shared."""
        until = self._clock() + max(0.0, seconds)
        if batch:
            self._batch_paused_until = max(self._batch_paused_until, until)
        else:
            self._paused_until = max(self._paused_until, until)

    # The shared budget's side.

    def coordinate(self, coordinator: Coordinator | None) -> None:
        """Hands the limiter to a shared budget, which leases it its share (none until the first
        lease); None takes it back: the limiter has the whole account again."""
        self._coordinator = coordinator
        if coordinator is None:
            self.set_share(self.limits.per_second, self.limits.concurrency)
        else:
            self.set_share(0, 0)

    def set_share(self, per_second: int, concurrency: int) -> None:
        """From now on, at most `per_second` starts in any one-second span (counting the starts
        already made) and `concurrency` calls in flight."""
        self._share_per_second = max(0, min(per_second, self.limits.per_second))
        self._share_concurrency = max(0, min(concurrency, self.limits.concurrency))
        self._wake()

    def holding(self) -> tuple[int, int]:
        """(calls started within the last `1 + spacing_margin_s` s, calls in flight): what this
        limiter still holds of the account's limits, whatever its share now."""
        since = self._clock() - 1.0 - self.limits.spacing_margin_s
        return sum(1 for at, _ in self._starts if at > since), self._in_flight

    def usage(self) -> Usage:
        """What was used since the last call, which starts a new count."""
        now = self._clock()
        starts = [0] * len(Priority)
        for at, level in self._starts:
            if at > now - 1.0:
                starts[level] += 1
        queued = [0] * len(Priority)
        for waiter in self._waiters:
            if not waiter.future.done():
                queued[waiter.priority] += 1
        peak = tuple(max(p, f + q) for p, f, q in zip(self._peak_by, self._in_flight_by, queued, strict=True))
        starved = frozenset(self._starved)
        self._peak_by = [f + q for f, q in zip(self._in_flight_by, queued, strict=True)]
        self._starved = {Priority(level) for level, q in enumerate(queued) if q} if starved else set()
        return Usage(tuple(starts), peak, starved)

    # Granting slots.

    async def _acquire(self, priority: Priority) -> None:
        if not self._waiters and self._delay(priority, self._clock())[0] <= 0:
            self._grant(priority)
            return
        waiter = _Waiter(priority, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiters, waiter)
        self._wake()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release(priority)  # granted in the same instant as it was cancelled
            else:
                waiter.future.cancel()
                self._wake()
            raise

    def _delay(self, priority: Priority, now: float) -> tuple[float, bool]:
        """(0 when a call of this priority may start now, else how long until it might (inf: until a
        call in flight ends or the share grows); whether the share is what holds it)."""
        limits = self.limits
        live = priority is Priority.LIVE
        reserved = 0 if live or self._coordinator is not None else limits.live_reserved_concurrency
        if self._in_flight >= self._share_concurrency - reserved:
            return math.inf, True
        held = max(0.0, self._paused_until - now)
        need = 1 + (0 if live else limits.live_reserved_window)
        held = max(held, self._frame.wait(now, need))
        share = self._share_per_second
        if share == 0:
            return math.inf, True
        if len(self._starts) >= share:
            spaced = self._starts[-share][0] + 1.0 + limits.spacing_margin_s - now
            if spaced > held:
                return spaced, True
        return held, False

    def _batch_delay(self, now: float) -> float:
        waits = [0.0, self._batch_paused_until - now, self._batch_frame.wait(now, 1)]
        if len(self._batch_starts) == self.limits.batch_per_second:
            waits.append(self._batch_starts[0] + 1.0 + self.limits.spacing_margin_s - now)
        return max(waits)

    def _grant(self, priority: Priority) -> None:
        now = self._clock()
        self._in_flight += 1
        self._in_flight_by[priority] += 1
        self._peak_by[priority] = max(self._peak_by[priority], self._in_flight_by[priority])
        self._starts.append((now, priority))
        self._frame.take(now)

    def _release(self, priority: Priority) -> None:
        self._in_flight -= 1
        self._in_flight_by[priority] -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            head = self._waiters[0]
            if head.future.done():
                heapq.heappop(self._waiters)
                continue
            delay, by_share = self._delay(Priority(head.priority), self._clock())
            if delay > 0:
                if by_share:
                    self._starve()
                if delay != math.inf:
                    self._wake_in(delay)
                return
            heapq.heappop(self._waiters)
            self._grant(Priority(head.priority))
            head.future.set_result(None)

    def _starve(self) -> None:
        """Everything queued waits for the share: tell the shared budget (once per level)."""
        levels = {Priority(w.priority) for w in self._waiters if not w.future.done()}
        if levels <= self._starved:
            return
        self._starved |= levels
        if self._coordinator is not None:
            self._coordinator.starved()

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


# Per event loop: a limiter's waiters and timers belong to the loop they were made on. A process
# runs one loop; the tests run one per test, and a limiter left by a finished loop (a timer that
# will never fire, a call cancelled in flight) must not hold up the next one.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AccountLimiter]] = (
    weakref.WeakKeyDictionary()
)


def account_limiter(account: str, limits: AccountLimits | None = None) -> AccountLimiter:
    """The process's limiter for `account`, made with `limits` on first use (later `limits` are
    ignored: the account has one set of limits). It has no shared budget: clients the vendor
    registry makes use the registry's limiter, which has one (app/clients/vendors.py)."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # a client made outside a loop: its calls will run on the next one
        loop = None
    if loop is None:
        return AccountLimiter(limits)
    limiters = _SHARED.setdefault(loop, {})
    limiter = limiters.get(account)
    if limiter is None:
        limiter = limiters[account] = AccountLimiter(limits)
    return limiter
