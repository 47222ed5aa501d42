"""`Breaker`: circuit breakers per vendor account, shared by all work in the process, so that
while a vendor is down the process stops calling it and probes instead (issue: no-loss delivery).
An account has two: one for its reads and one for its writes, because a vendor may refuse every
write while it still answers reads, and the poller's reads must go on meanwhile:

    breaker = account_breakers("getresponse|acct", "getresponse").for_method("POST")
    breaker.before_call()               # raises CircuitOpen while open (no network call is made)
    ...call...
    breaker.record(answered=True)       # any answer, even a 4xx: the vendor is up
    breaker.record(answered=False)      # a 5xx, a timeout, a refused connection

- Closed: calls go out. It opens when, within the last `window_s` seconds, at least
  `min_failures` calls failed and they were at least `failure_ratio` of the calls. One person's
  failing writes, retried with backoff, stay far below that while others' calls succeed; a vendor
  that is down for everyone reaches it within seconds.
- Open: every call raises `CircuitOpen` (a `Transient`, so callers retry it later) with the time
  until the next probe as `retry_after`.
- After `open_s`, half-open: one call goes out as the probe, the others still get `CircuitOpen`.
  An answer closes the breaker; a failure opens it again for twice as long, up to `max_open_s`.
- Closing calls every `on_close` callback: the retriers let their waiting retries through at once
  rather than each waiting out its own backoff.

A 429 is no failure here: the rate limiter's pause (app/clients/limits.py) handles it.

Hand-written because the libraries at hand (tenacity, aiobreaker, pybreaker) count consecutive
failures only, which one person's failing writes would trip, and none has the close callback the
retriers need.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from app.clients.errors import Transient, Vendor
from app.logs import get_logger

log = get_logger(__name__)


class CircuitOpen(Transient):
    """The vendor account's breaker is open: the call was not made."""

    def __init__(self, message: str, *, retry_after: float, vendor: Vendor) -> None:
        super().__init__(message, vendor=vendor, code="CIRCUIT_OPEN")
        self.retry_after = max(0.0, retry_after)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerPolicy:
    window_s: float = 10.0
    min_failures: int = 10
    failure_ratio: float = 0.5
    open_s: float = 5.0
    max_open_s: float = 30.0

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.min_failures < 1 or not 0 < self.failure_ratio <= 1:
            raise ValueError("window_s > 0, min_failures >= 1 and 0 < failure_ratio <= 1 are required")
        if not 0 < self.open_s <= self.max_open_s:
            raise ValueError("0 < open_s <= max_open_s is required")


PROBE_TIMEOUT_S = 30.0

_CloseCallback = Callable[[], None]
_ON_CLOSE: list[_CloseCallback] = []


def on_close(callback: _CloseCallback) -> Callable[[], None]:
    """Call `callback` whenever any breaker of the process closes; returns the unsubscribe."""
    _ON_CLOSE.append(callback)
    return lambda: _ON_CLOSE.remove(callback) if callback in _ON_CLOSE else None


class Breaker:
    def __init__(
        self,
        name: str,
        vendor: Vendor,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.vendor: Vendor = vendor
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed) within the window
        self._failures = 0
        self.state = BreakerState.CLOSED
        self._open_for = self.policy.open_s
        self._probe_at = 0.0
        self._probing = False
        self._probe_started = 0.0

    @property
    def retry_after(self) -> float:
        """Seconds until a call may go out again (0 while closed)."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        return max(0.0, self._probe_at - self._clock())

    def before_call(self) -> None:
        if self.state is BreakerState.CLOSED:
            return
        now = self._clock()
        if self.state is BreakerState.OPEN and now >= self._probe_at:
            self.state, self._probing = BreakerState.HALF_OPEN, False
        # A probe whose outcome never came back (cancelled, or ended in a bug) makes way for another.
        stale = self._probing and now - self._probe_started > PROBE_TIMEOUT_S
        if self.state is BreakerState.HALF_OPEN and (not self._probing or stale):
            self._probing, self._probe_started = True, now  # this call is the probe
            return
        wait = max(self._probe_at - now, 0.5 if self._probing else 0.0)
        raise CircuitOpen(
            f"{self.vendor} is failing; calls paused, next probe in {wait:.1f} s",
            retry_after=wait,
            vendor=self.vendor,
        )

    def record(self, *, answered: bool) -> None:
        now = self._clock()
        if self.state is not BreakerState.CLOSED:
            if answered:
                self._close()
            elif self._probing:
                self._open(now, longer=True)
            return
        self._calls.append((now, not answered))
        self._failures += not answered
        while self._calls and self._calls[0][0] < now - self.policy.window_s:
            _, failed = self._calls.popleft()
            self._failures -= failed
        if (
            self._failures >= self.policy.min_failures
            and self._failures >= self.policy.failure_ratio * len(self._calls)
        ):
            self._open(now, longer=False)

    def _open(self, now: float, *, longer: bool) -> None:
        self._open_for = min(self._open_for * 2, self.policy.max_open_s) if longer else self.policy.open_s
        self.state, self._probing = BreakerState.OPEN, False
        self._probe_at = now + self._open_for
        self._calls.clear()
        self._failures = 0
        log.warning("vendor circuit opened", breaker=self.name, vendor=self.vendor, probe_in=self._open_for)

    def _close(self) -> None:
        self.state, self._probing = BreakerState.CLOSED, False
        self._open_for = self.policy.open_s
        log.info("vendor circuit closed", breaker=self.name, vendor=self.vendor)
        for callback in list(_ON_CLOSE):
            callback()


@dataclass(frozen=True)
class AccountBreakers:
    reads: Breaker
    writes: Breaker

    def for_method(self, method: str) -> Breaker:
        return self.reads if method.upper() in {"GET", "HEAD"} else self.writes


_SHARED: dict[str, AccountBreakers] = {}


def account_breakers(account: str, vendor: Vendor, policy: BreakerPolicy | None = None) -> AccountBreakers:
    """The process's breakers for `account`, made with `policy` on first use."""
    breakers = _SHARED.get(account)
    if breakers is None:
        breakers = _SHARED[account] = AccountBreakers(
            Breaker(f"{account} reads", vendor, policy), Breaker(f"{account} writes", vendor, policy)
        )
    return breakers
