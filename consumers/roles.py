"""The handler of each consumer role: what `sfgr consume <role>` runs on the group `app/bus.py`
declares (topics, group id, options)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import CONSUMER_GROUPS, Bus, ConsumerGroup, ConsumerRole
from app.clients.vendors import Vendors
from app.db.syncs import SyncDirectory
from app.dead_letter_gauge import DeadLetterGauge
from app.outbox import OutboxRelay
from app.retention import RetentionPruner
from app.settings import Settings
from consumers.engine.pending import PendingLookups
from consumers.engine.to_getresponse import SalesforceToGetResponse
from consumers.engine.to_salesforce import GetResponseToSalesforce
from consumers.jobs.worker import JobWorker
from consumers.processing import Processor, RetryPolicy
from consumers.retrier import RetryHandler
from consumers.runner import Record


@dataclass(frozen=True)
class RoleContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus

    def syncs(self) -> SyncDirectory:
        return SyncDirectory(self.sessions, skew=timedelta(milliseconds=self.settings.clock_skew_ms))


class RoleHandler(Protocol):
    async def handle(self, record: Record) -> None: ...

    async def close(self) -> None: ...


class BackgroundLoop(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class RoleRuntime:
    """A role's handler, the background loops that run beside it, and what to close at the end."""

    handler: RoleHandler
    vendors: Vendors
    loops: list[BackgroundLoop] = field(default_factory=list)
    # What the role's retrier calls with each due retry (consumers/retrier.py); None: no retrier.
    retry: RetryHandler | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._tasks = [asyncio.create_task(loop.run()) for loop in self.loops]

    async def handle(self, record: Record) -> None:
        await self.handler.handle(record)

    async def close(self) -> None:
        await self.handler.close()
        for loop in self.loops:
            loop.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        await self.vendors.close()


@dataclass(frozen=True)
class Role:
    """A consumer group of the bus with the handler that applies its records."""

    group: ConsumerGroup
    build_handler: Callable[[RoleContext], Awaitable[RoleRuntime]]


async def _to_getresponse(ctx: RoleContext) -> RoleRuntime:
    syncs, vendors = ctx.syncs(), Vendors(ctx.settings, ctx.sessions)
    apply = SalesforceToGetResponse(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    processor = Processor(
        role=ConsumerRole.SALESFORCE_TO_GETRESPONSE,
        apply=apply.apply,
        bus=ctx.bus,
        sessions=ctx.sessions,
        retry_topic=ctx.bus.topics.retry_to_getresponse,
        policy=RetryPolicy.from_settings(ctx.settings),
    )
    lookups = PendingLookups(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    return RoleRuntime(processor, vendors, [lookups], retry=processor.retry)


async def _to_salesforce(ctx: RoleContext) -> RoleRuntime:
    syncs, vendors = ctx.syncs(), Vendors(ctx.settings, ctx.sessions)
    apply = GetResponseToSalesforce(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    processor = Processor(
        role=ConsumerRole.GETRESPONSE_TO_SALESFORCE,
        apply=apply.apply,
        bus=ctx.bus,
        sessions=ctx.sessions,
        retry_topic=ctx.bus.topics.retry_to_salesforce,
        policy=RetryPolicy.from_settings(ctx.settings),
    )
    return RoleRuntime(processor, vendors, retry=processor.retry)


async def _resync(ctx: RoleContext) -> RoleRuntime:
    vendors = Vendors(ctx.settings, ctx.sessions)
    worker = JobWorker(engine=ctx.engine, sessions=ctx.sessions, syncs=ctx.syncs(), vendors=vendors)
    # Whatever can run jobs also sends their requests: what the poller queues, and what an api
    # left unsent, starts even while no api runs (app/outbox.py).
    relay = OutboxRelay(ctx.settings, sessions=ctx.sessions, bus=ctx.bus)
    # A role that always runs prunes old rows (one pruner at a time among all processes).
    pruner = RetentionPruner(ctx.settings, engine=ctx.engine, sessions=ctx.sessions)
    return RoleRuntime(worker, vendors, [relay, pruner, DeadLetterGauge(ctx.sessions)])


_HANDLERS: dict[ConsumerRole, Callable[[RoleContext], Awaitable[RoleRuntime]]] = {
    ConsumerRole.SALESFORCE_TO_GETRESPONSE: _to_getresponse,
    ConsumerRole.GETRESPONSE_TO_SALESFORCE: _to_salesforce,
    ConsumerRole.RESYNC: _resync,
}

ROLES: dict[str, Role] = {
    role.value: Role(group=CONSUMER_GROUPS[role], build_handler=build) for role, build in _HANDLERS.items()
}
