"""The org's rolling 24-hour API allocation (api-contracts A3 "API request limits", C6).

Each authenticated REST call under `/services/data/vXX.X/` counts once; the versions list
`/services/data/` does not. Once the allocation is spent Salesforce answers 403
REQUEST_LIMIT_EXCEEDED, with no Retry-After or reset header: only `Sforce-Limit-Info`, which every
REST response carries. Salesforce computes that header asynchronously; the simulator's is exact.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock

WINDOW_S = 24 * 3600


class Quota:
    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit
        self._calls: deque[float] = deque()
        self._lock = Lock()

    def _prune(self) -> None:
        horizon = time.monotonic() - WINDOW_S
        while self._calls and self._calls[0] < horizon:
            self._calls.popleft()

    def consume(self) -> bool:
        """Counts one call; False (and nothing counted) when the allocation is spent."""
        with self._lock:
            self._prune()
            if len(self._calls) >= self._limit():
                return False
            self._calls.append(time.monotonic())
            return True

    def header(self) -> str:
        with self._lock:
            self._prune()
            return f"api-usage={len(self._calls)}/{self._limit()}"

    def usage(self) -> tuple[int, int]:
        with self._lock:
            self._prune()
            return len(self._calls), self._limit()

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
