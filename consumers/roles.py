"""The consumer processes `sfgr consume <role>` can run: which topics, which group, which handler.

Each role also consumes the shared retry topic and takes only the messages addressed to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Bus, Topics
from app.db.syncs import SyncDirectory
from app.settings import Settings
from consumers.jobs.worker import ROLE as RESYNC
from consumers.jobs.worker import JobWorker
from consumers.pending import PendingLookups
from consumers.processing import Processor
from consumers.runner import Record
from consumers.to_getresponse import ROLE as TO_GETRESPONSE
from consumers.to_getresponse import SalesforceToGetResponse
from consumers.to_salesforce import ROLE as TO_SALESFORCE
from consumers.to_salesforce import GetResponseToSalesforce
from consumers.vendors import Vendors


@dataclass(frozen=True)
class RoleContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus

    def syncs(self) -> SyncDirectory:
        return SyncDirectory(self.sessions, skew=timedelta(milliseconds=self.settings.clock_skew_ms))


class RoleHandler(Protocol):
    async def handle(self, record: Record) -> None: ...

    async def close(self) -> None: ...


@dataclass
class RoleRuntime:
    """A role's handler, the background loops that run beside it, and what to close at the end."""

    processor: Processor
    vendors: Vendors
    loops: list[PendingLookups] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._tasks = [asyncio.create_task(loop.run()) for loop in self.loops]

    async def handle(self, record: Record) -> None:
        await self.processor.handle(record)

    async def close(self) -> None:
        await self.processor.close()
        for loop in self.loops:
            loop.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        await self.vendors.close()


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    topics: Callable[[Topics], list[str]]
    build_handler: Callable[[RoleContext], Awaitable[RoleHandler]]
    consumer_options: dict[str, Any] = field(default_factory=dict)

    def group_id(self, settings: Settings) -> str:
        return f"{settings.kafka_topic_prefix}.{self.name}"


async def _to_getresponse(ctx: RoleContext) -> RoleHandler:
    syncs, vendors = ctx.syncs(), Vendors(ctx.settings, ctx.sessions)
    apply = SalesforceToGetResponse(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    processor = Processor(role=TO_GETRESPONSE, apply=apply.apply, bus=ctx.bus, sessions=ctx.sessions)
    lookups = PendingLookups(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    return RoleRuntime(processor, vendors, [lookups])


async def _to_salesforce(ctx: RoleContext) -> RoleHandler:
    syncs, vendors = ctx.syncs(), Vendors(ctx.settings, ctx.sessions)
    apply = GetResponseToSalesforce(sessions=ctx.sessions, syncs=syncs, vendors=vendors)
    processor = Processor(role=TO_SALESFORCE, apply=apply.apply, bus=ctx.bus, sessions=ctx.sessions)
    return RoleRuntime(processor, vendors)


async def _resync(ctx: RoleContext) -> RoleHandler:
    return JobWorker(sessions=ctx.sessions, syncs=ctx.syncs(), vendors=Vendors(ctx.settings, ctx.sessions))


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            name=TO_GETRESPONSE,
            description="apply Salesforce changes to GetResponse lists; look up pending creates",
            topics=lambda t: [t.salesforce_changes, t.retry],
            build_handler=_to_getresponse,
        ),
        Role(
            name=TO_SALESFORCE,
            description="apply GetResponse changes (webhooks, poller) to Salesforce",
            topics=lambda t: [t.getresponse_changes, t.retry],
            build_handler=_to_salesforce,
        ),
        Role(
            name=RESYNC,
            description="run first syncs and resyncs (jobs requested through the control API)",
            topics=lambda t: [t.resync_requests],
            build_handler=_resync,
            # A job holds its request until it is done, which may take many minutes.
            consumer_options={"max_poll_interval_ms": 6 * 3600 * 1000},
        ),
    )
}
