"""`sfgr subscribe`: Change Data Capture from every connected Salesforce org over the Pub/Sub API
(api-contracts A5), one stream per channel (consumers/subscriber/stream.py).

- One active subscriber per org, however many replicas run: a Postgres advisory lock per org, held
  on a dedicated connection; a standby takes over when that connection goes.
- The channels: `salesforce_pubsub_channels`, plus `/data/CampaignMemberChangeEvent` for an org
  with a live sync grouped by a Campaign. Connections and syncs are looked at again every
  `connection_recheck_s`: a new org is followed, a disconnected one dropped, a changed channel
  list resubscribed.
- `/healthz` on `subscriber_health_port` answers 503 once an active subscriber heard nothing from
  the Pub/Sub API (no event, no keepalive) for `salesforce_pubsub_silence_s`; a standby is healthy.
  `/metrics` beside it: events by outcome, errors by code, expired replay ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from dataclasses import dataclass

import grpc
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import Bus
from app.clients.salesforce import SalesforceClient
from app.clients.vendors import Vendors
from app.db import pubsub_replay
from app.db.connections import connected
from app.db.session import create_engine, ping, session_factory
from app.db.syncs import SyncDirectory
from app.logs import get_logger
from app.settings import Settings
from consumers.process import announce_ready
from consumers.subscriber.stream import ChannelStream, OrgContext

log = get_logger(__name__)

CAMPAIGN_MEMBER_CHANNEL = "/data/CampaignMemberChangeEvent"
LOCK_PING_S = 2.0


@dataclass(frozen=True)
class OrgPlan:
    connection_id: uuid.UUID
    org_id: str
    channels: tuple[str, ...]


class Subscriber:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.bus = bus
        self.vendors = Vendors(settings, sessions)
        self.syncs = SyncDirectory(sessions)
        self.active = asyncio.Event()  # some org's stream is ours (the ready file)
        self._stopping = asyncio.Event()
        self._orgs: dict[uuid.UUID, tuple[OrgPlan, asyncio.Task[None]]] = {}
        self._leading: set[uuid.UUID] = set()
        self._heard_at = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    def heard(self) -> None:
        self._heard_at = time.monotonic()

    @property
    def silent_for(self) -> float | None:
        """Seconds since the Pub/Sub API last answered an active stream; None on a standby."""
        return time.monotonic() - self._heard_at if self._leading else None

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self.follow_connections()
                except Exception:
                    log.exception("subscriber could not read its connections; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.connection_recheck_s)
        finally:
            for _, task in self._orgs.values():
                task.cancel()
            await asyncio.gather(*(task for _, task in self._orgs.values()), return_exceptions=True)
            await self.vendors.close()

    async def plans(self) -> dict[uuid.UUID, OrgPlan]:
        async with self.sessions() as session:
            orgs = await connected(session, "salesforce")
        self.syncs.invalidate()
        syncs = await self.syncs.all()
        found = {}
        for org in orgs:
            channels = list(self.settings.salesforce_pubsub_channels)
            mine = [s for s in syncs if s.live and s.salesforce_connection_id == org.id]
            if any(s.salesforce_campaign_id for s in mine):
                channels.append(CAMPAIGN_MEMBER_CHANNEL)
            found[org.id] = OrgPlan(org.id, org.external_id, tuple(dict.fromkeys(channels)))
        return found

    async def follow_connections(self) -> None:
        wanted = await self.plans()
        for connection_id, (plan, task) in list(self._orgs.items()):
            if wanted.get(connection_id) != plan or task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                del self._orgs[connection_id]
        for connection_id, plan in wanted.items():
            if connection_id not in self._orgs:
                self._orgs[connection_id] = (plan, asyncio.create_task(self._lead(plan)))

    async def _lead(self, plan: OrgPlan) -> None:
        """Stand by until this org's lock is ours, then stream its channels while it stays ours."""
        while not self._stopping.is_set():
            try:
                await self._lead_once(plan)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscriber lost its lock or its database; trying again",
                              connection_id=str(plan.connection_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.connection_recheck_s)

    async def _lead_once(self, plan: OrgPlan) -> None:
        async with self.engine.connect() as lock_connection:
            got = await pubsub_replay.try_subscriber_lock(lock_connection, plan.connection_id)
            await lock_connection.commit()
            if not got:
                return  # another replica subscribes for this org; stand by
            log.info("subscriber is the active instance", connection_id=str(plan.connection_id),
                     channels=list(plan.channels))
            self._leading.add(plan.connection_id)
            self.heard()
            self.active.set()
            channel = self._grpc_channel()
            org = OrgContext(
                settings=self.settings,
                connection_id=plan.connection_id,
                org_id=plan.org_id,
                salesforce=lambda: self._salesforce(plan.connection_id),
                channel=channel,
                sessions=self.sessions,
                bus=self.bus,
                heard=self.heard,
            )
            streams = [
                asyncio.create_task(ChannelStream(org, name, stopping=self._stopping).run())
                for name in plan.channels
            ]
            try:
                while not self._stopping.is_set() and not all(s.done() for s in streams):
                    await ping(lock_connection)  # the lock lives as long as this connection
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), LOCK_PING_S)
            finally:
                for stream in streams:
                    stream.cancel()
                await asyncio.gather(*streams, return_exceptions=True)
                await channel.close()
                self._leading.discard(plan.connection_id)
                with contextlib.suppress(Exception):
                    await pubsub_replay.release_subscriber_lock(lock_connection, plan.connection_id)
                    await lock_connection.commit()

    async def _salesforce(self, connection_id: uuid.UUID) -> SalesforceClient:
        return await self.vendors.salesforce(connection_id)

    def _grpc_channel(self) -> grpc.aio.Channel:
        address = self.settings.salesforce_pubsub_address
        if self.settings.salesforce_pubsub_tls:
            return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials())
        return grpc.aio.insecure_channel(address)


async def _serve_health(subscriber: Subscriber, port: int) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        silent = subscriber.silent_for
        limit = subscriber.settings.salesforce_pubsub_silence_s
        if silent is not None and silent > limit:
            reason = f"no event or keepalive from the Pub/Sub API for {silent:.0f} s"
            return web.json_response({"status": "unhealthy", "reason": reason}, status=503)
        return web.json_response({"status": "ok", "active": silent is not None})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, subscriber.settings.api_host, port).start()
    return runner


async def run_subscriber(settings: Settings) -> None:
    engine = create_engine(settings)
    bus = Bus(settings)
    await bus.start()
    subscriber = Subscriber(settings, engine=engine, sessions=session_factory(engine), bus=bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, subscriber.stop)
    port = settings.subscriber_health_port
    health = await _serve_health(subscriber, port) if port else None
    announce = asyncio.create_task(announce_ready(settings, subscriber.active))
    try:
        await subscriber.run()
    finally:
        announce.cancel()
        if health is not None:
            await health.cleanup()
        await bus.stop()
        await engine.dispose()
