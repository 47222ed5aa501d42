"""The record of every vendor-API call a simulator received (`GET /_sim/calls`).

Tests use it to count writes per change, to prove that nothing loops once a scenario is quiet,
and to check which client (Salesforce `Sforce-Call-Options: client=...`) made a write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Call:
    seq: int
    method: str
    path: str
    query: str
    status: int
    time: str
    duration_ms: float
    client: str | None


class CallLog:
    """Thread-safe, append-only list of calls; `since` lets a test read only what is new."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = Lock()

    def record(
        self, *, method: str, path: str, query: str, status: int, duration_ms: float, client: str | None
    ) -> None:
        with self._lock:
            self._calls.append(
                Call(
                    seq=len(self._calls) + 1,
                    method=method,
                    path=path,
                    query=query,
                    status=status,
                    time=datetime.now(UTC).isoformat(),
                    duration_ms=round(duration_ms, 3),
                    client=client,
                )
            )

    def list(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(c) for c in self._calls if c.seq > since]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


ClientOf = Callable[[dict[str, str]], str | None]


class CallLogMiddleware:
    """Records every request outside `/_sim/` (the control API is not the vendor's API)."""

    def __init__(self, app: ASGIApp, *, log: CallLog, client_of: ClientOf | None = None) -> None:
        self.app = app
        self.log = log
        self.client_of = client_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            self.log.record(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                client=self.client_of(headers) if self.client_of else None,
            )
