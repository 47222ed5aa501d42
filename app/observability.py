"""What every worker process shows its operators: `/metrics` for Prometheus and `/healthz` for a
liveness probe, on `SFGR_METRICS_PORT` (the api serves both on its own port, app/api/ops.py).

A process names each of its loops once (`health.heartbeat("consumer")`) and beats it every time
the loop turns; `/healthz` answers 503, naming the loop, once one has not turned for
`SFGR_HEALTH_STALL_S`. Work that legitimately holds a loop for long (a first sync runs inside the
resync consumer's handler) calls `beat()` as it progresses: it beats the heartbeat of the loop it
runs in, found through a context variable, so job code needs no handle on it.

One line starts it:

    async with observed(settings, "poller") as health:
        beat = health.heartbeat("poll")

Hand-written (a few lines of aiohttp) because prometheus_client's own server runs in a thread and
has no health route: served from the event loop instead, a loop blocked outright fails the probe
too (it times out), where a thread would go on answering.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.logs import get_logger
from app.settings import Settings

log = get_logger(__name__)


@dataclass
class Heartbeat:
    name: str
    last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last


_current: ContextVar[Heartbeat | None] = ContextVar("sfgr_heartbeat", default=None)


def beat() -> None:
    """Beat the heartbeat of the loop this code runs in (no-op outside one)."""
    current = _current.get()
    if current is not None:
        current.beat()


def run_under(heartbeat: Heartbeat) -> None:
    """Make `heartbeat` the one `beat()` beats in this task (and the tasks it starts from now)."""
    _current.set(heartbeat)


@dataclass
class Health:
    stall_s: float
    heartbeats: dict[str, Heartbeat] = field(default_factory=dict)

    def heartbeat(self, name: str) -> Heartbeat:
        return self.heartbeats.setdefault(name, Heartbeat(name))

    def report(self) -> tuple[bool, dict[str, object]]:
        ages = {name: round(hb.age(), 3) for name, hb in self.heartbeats.items()}
        stalled = sorted(name for name, age in ages.items() if age > self.stall_s)
        body: dict[str, object] = {
            "status": "stalled" if stalled else "ok",
            "heartbeat_age_s": ages,
            "stall_s": self.stall_s,
        }
        if stalled:
            body["stalled"] = stalled
        return not stalled, body


# One per process: every loop of the process beats into it, and its `/healthz` reports them all.
_health: Health | None = None


def process_health(settings: Settings) -> Health:
    global _health
    if _health is None:
        _health = Health(settings.health_stall_s)
    return _health


def _app(health: Health, process: str) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def healthz(_: web.Request) -> web.Response:
        healthy, body = health.report()
        return web.json_response({"process": process, **body}, status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


@asynccontextmanager
async def observed(settings: Settings, process: str) -> AsyncIterator[Health]:
    """Serve `/metrics` and `/healthz` for this process while within (not at all with port 0)."""
    health = process_health(settings)
    if not settings.metrics_port:
        yield health
        return
    runner = web.AppRunner(_app(health, process), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.metrics_host, settings.metrics_port)
    await site.start()
    log.info("metrics served", process=process, port=settings.metrics_port)
    try:
        yield health
    finally:
        await runner.cleanup()
