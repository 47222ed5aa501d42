"""One simulated org: configuration, records, sessions, quota, faults, logs and deliveries.

The FastAPI routers reach it through `SimDep`; nothing else is global, so several simulators can
run side by side in one test process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from simulators.common.calls import CallLog
from simulators.common.deliveries import Deliverer
from simulators.common.faults import Faults
from simulators.salesforce import ids, timefmt
from simulators.salesforce.cdc import ChangeEvents
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.cursors import QueryCursors
from simulators.salesforce.event_log import EventLog
from simulators.salesforce.outbound import OutboundMessages
from simulators.salesforce.pubsub_faults import PubSubFaults
from simulators.salesforce.quota import Quota
from simulators.salesforce.sessions import Sessions
from simulators.salesforce.store import Commit, Store


class Simulator:
    def __init__(self, config: SalesforceSimConfig) -> None:
        self.config = config
        self.clock = timefmt.Clock()
        self.ids = ids.IdFactory()
        self.faults = Faults()
        self.calls = CallLog()
        self.sessions = Sessions(config.org_id)
        self.quota = Quota(lambda: self.config.api_quota)
        self.cursors = QueryCursors(self.ids)
        self.store = Store(
            self.ids,
            self.clock,
            users=lambda: {self.config.user_id, self.config.ui_user_id},
            duplicate_rule=lambda: self.config.duplicate_rule_on_email,
        )
        self.deliverer = Deliverer(lambda: self.faults)
        self.outbound = OutboundMessages(
            config=lambda: self.config,
            store=self.store,
            deliverer=self.deliverer,
            id_factory=self.ids,
            public_url=lambda: self.public_url,
            schedule=self._schedule,
        )
        self.event_log = EventLog(self.clock.now)
        self.cdc = ChangeEvents(config=lambda: self.config, deliverer=self.deliverer, log=self.event_log)
        self.pubsub_faults = PubSubFaults()
        self.store.subscribe(self._on_commit)
        self.observed_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    @property
    def public_url(self) -> str:
        """Where the org says it lives (Outbound Message URLs): the configured instance URL, else
        the last URL a request reached the simulator on."""
        return (self.config.instance_url or self.observed_url or "http://127.0.0.1").rstrip("/")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await self.deliverer.start()

    async def stop(self) -> None:
        await self.deliverer.stop()

    def reset(self) -> None:
        """Forget records, calls, deliveries, faults, quota use and query cursors, and return the
        clock to real time; keep the configuration and the OAuth sessions."""
        self.store.clear()
        self.clock.reset()
        self.calls.clear()
        self.outbound.clear()
        self.deliverer.clear()
        self.faults = Faults()
        self.quota.clear()
        self.cursors.clear()
        self.event_log.clear()
        self.pubsub_faults.clear()

    def update_config(self, patch: dict[str, Any]) -> SalesforceSimConfig:
        self.config = self.config.merged(patch)
        self.sessions.org_id = self.config.org_id
        return self.config

    @property
    def idle(self) -> bool:
        return not self.outbound.pending and self.deliverer.idle

    def _on_commit(self, commit: Commit) -> None:
        def deliver() -> None:
            self.outbound.on_commit(commit)
            self.cdc.on_commit(commit)

        self._in_loop(deliver)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        assert self._loop is not None, "the simulator's lifespan has not started"
        self._loop.call_later(delay, callback)

    def _in_loop(self, callback: Callable[[], object]) -> None:
        """Deliveries live on the server's event loop; a commit made from another thread (a sync
        route, a test) is handed over to it."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            callback()
        else:
            self._loop.call_soon_threadsafe(callback)


async def _simulator(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


SimDep = Annotated[Simulator, Depends(_simulator)]
