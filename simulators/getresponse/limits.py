"""The account's throttles and the `X-RateLimit-*` headers (api-contracts B10, checklist C11).

Per account (all configurable; the vendor's numbers are the defaults):

- `rate_per_window` calls per time frame of `window_seconds` (30,000 per 10 minutes). The frame
  starts with the first call after the previous one ended, as a fixed window;
- `rate_per_second` calls in any sliding one-second span (80);
- `max_concurrent` requests in progress at once (10): the next one is refused, not queued;
- `POST /contacts/batch` on top: `batch_rate_per_window` per frame (80) and `batch_rate_per_second`.

Every authenticated call counts, including the ones refused with 429 (the stricter reading: a
client that keeps hammering stays locked out until it waits). Refusals are 429 with code 1015 and
`context: {"currentLimit": <the limit hit, int>, "timeToReset": "<N> seconds"}`, and every response
of the vendor API, errors included, carries:

- `X-RateLimit-Limit`: the frame's limit;
- `X-RateLimit-Remaining`: calls left in the frame;
- `X-RateLimit-Reset`: the string "<N> seconds" (not a bare integer).

No `Retry-After` is sent: the contracts cannot confirm the vendor sends one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.errors import GetResponseError
from simulators.getresponse.formats import seconds_until

_QUOTA_MESSAGE = "You have reached your requests limit for this time window, please wait..."


def throttled(current_limit: int, seconds: int) -> GetResponseError:
    return GetResponseError(
        429, 1015, _QUOTA_MESSAGE, {"currentLimit": current_limit, "timeToReset": f"{seconds} seconds"}
    )


@dataclass
class _Frame:
    """A fixed window of `length` seconds that opens with its first call."""

    started: float | None = None
    used: int = 0

    def count(self, at: float, length: float) -> None:
        if self.started is None or at - self.started >= length:
            self.started, self.used = at, 0
        self.used += 1

    def seconds_left(self, at: float, length: float) -> int:
        if self.started is None or at - self.started >= length:
            return seconds_until(at + length, at)
        return seconds_until(self.started + length, at)


class _SlidingSecond:
    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def count(self, at: float) -> int:
        while self._times and at - self._times[0] >= 1.0:
            self._times.popleft()
        self._times.append(at)
        return len(self._times)


class RateLimiter:
    def __init__(
        self, config: Callable[[], GetResponseSimConfig], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._frame = _Frame()
        self._second = _SlidingSecond()
        self._batch_frame = _Frame()
        self._batch_second = _SlidingSecond()
        self.in_flight = 0

    def admit(self, *, batch: bool) -> GetResponseError | None:
        """Count one call; None admits it (and takes a concurrency slot, see `release`)."""
        cfg = self._config()
        at = self._clock()
        self._frame.count(at, cfg.window_seconds)
        per_second = self._second.count(at)
        if self._frame.used > cfg.rate_per_window:
            return throttled(cfg.rate_per_window, self._frame.seconds_left(at, cfg.window_seconds))
        if per_second > cfg.rate_per_second:
            return throttled(cfg.rate_per_second, 1)
        if batch:
            self._batch_frame.count(at, cfg.window_seconds)
            batch_per_second = self._batch_second.count(at)
            if self._batch_frame.used > cfg.batch_rate_per_window:
                seconds = self._batch_frame.seconds_left(at, cfg.window_seconds)
                return throttled(cfg.batch_rate_per_window, seconds)
            if batch_per_second > cfg.batch_rate_per_second:
                return throttled(cfg.batch_rate_per_second, 1)
        if self.in_flight >= cfg.max_concurrent:
            return throttled(cfg.max_concurrent, 1)
        self.in_flight += 1
        return None

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def headers(self) -> list[tuple[bytes, bytes]]:
        cfg = self._config()
        at = self._clock()
        frame_open = self._frame.started is not None and at - self._frame.started < cfg.window_seconds
        used = self._frame.used if frame_open else 0
        return [
            (b"x-ratelimit-limit", str(cfg.rate_per_window).encode()),
            (b"x-ratelimit-remaining", str(max(0, cfg.rate_per_window - used)).encode()),
            (b"x-ratelimit-reset", f"{self._frame.seconds_left(at, cfg.window_seconds)} seconds".encode()),
        ]
