"""Query locators: the server-side cursors behind `nextRecordsUrl` (api-contracts A3 "SOQL").

A query's result is fixed when it runs; later pages come from that snapshot, through
`/services/data/vXX.X/query/01g...-<offset>`. A locator unused for 15 minutes expires, and only the
newest 1,000 are kept; an unknown or expired one is 400 INVALID_QUERY_LOCATOR.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from simulators.salesforce import ids

IDLE_EXPIRY_S = 15 * 60
MAX_CURSORS = 1000


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    batch_size: int
    last_used: float


class QueryCursors:
    def __init__(self, id_factory: ids.IdFactory) -> None:
        self._ids = id_factory
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = Lock()

    def open(self, records: list[dict[str, Any]], batch_size: int) -> str:
        locator = self._ids.new(ids.QUERY_LOCATOR_PREFIX)
        with self._lock:
            self._cursors[locator] = Cursor(records, batch_size, time.monotonic())
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return locator

    def get(self, locator: str) -> Cursor | None:
        with self._lock:
            cursor = self._cursors.get(locator)
            if cursor is None:
                return None
            now = time.monotonic()
            if now - cursor.last_used > IDLE_EXPIRY_S:
                del self._cursors[locator]
                return None
            cursor.last_used = now
            return cursor

    def clear(self) -> None:
        with self._lock:
            self._cursors.clear()
