"""The GetResponse poller: webhooks report no edit of a contact's standard fields (api-contracts.md
B9), so contacts changed since a stored watermark are read and published like webhook events.

- One active poller however many replicas run: a Postgres advisory lock, held on a dedicated
  connection; a standby takes over when that connection goes.
- Each ask reaches back `poll_overlap_s` before the watermark (changedOn has whole seconds, and
  an asynchronous create can show up with an earlier changedOn); what the overlap reports again
  is not published again (a memory, per sync, of the (contact, changedOn) pairs published that a
  search can still report), and the event id `gr-poll:<contact>:<changedOn>` lets the consumer
  drop any repeat after a restart.
- A change counts as seen, and the sync's watermark moves past it, only once Kafka acknowledged
  its event. The search is sorted by changedOn, so whatever a walk has read is no newer than
  what it has not read yet: after each publish the watermark can move to the newest change read.
  A page that fails publishes what came before it and leaves the rest; a publish that fails
  marks nothing and moves nothing. Either way the next poll asks again from the watermark.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import metrics
from app.bus import Bus, event_message
from app.clients.errors import VendorError
from app.clients.getresponse_formats import parse_datetime
from app.clients.vendors import Vendors
from app.control.jobs import JobRefused, start_job
from app.db import watermarks
from app.db.session import create_engine, ping, session_factory, transaction
from app.db.syncs import SyncConfig, SyncDirectory
from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.domain.jobs import JobKind, ResyncMode, ResyncScope
from app.domain.states import SyncState
from app.logs import get_logger
from app.observability import Health, Heartbeat, observed, run_under
from app.settings import Settings
from consumers.process import announce_ready

log = get_logger(__name__)

PAGE_SIZE = 100  # contacts per page of the changedOn search, and at most per publish

SeenKey = tuple[str, str]  # (contactId, changedOn as GetResponse wrote it)


class Poller:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        page_size: int = PAGE_SIZE,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.bus = bus
        self.page_size = page_size
        self.syncs = SyncDirectory(sessions)
        self.vendors = Vendors(settings, sessions)
        self.overlap = timedelta(seconds=settings.poll_overlap_s)
        # Per sync: the changes published, with their changedOn, while a poll can still report them.
        self._seen: dict[uuid.UUID, dict[SeenKey, datetime]] = {}
        self._reconciled: dict[uuid.UUID, float] = {}
        self._polled_at: dict[uuid.UUID, float] = {}  # epoch seconds of each sync's last whole walk
        self._stopping = asyncio.Event()
        self.active = asyncio.Event()
        self.heartbeat = heartbeat or Heartbeat("poller")

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        run_under(self.heartbeat)
        try:
            while not self._stopping.is_set():
                self.heartbeat.beat()
                try:
                    await self._lead()
                except Exception:
                    log.exception("poller lost its lock or its database; trying again")
                self.active.clear()
                self._forget_polled()  # the active poller shows the watermarks' ages now
                await self._sleep(self.settings.poll_interval_s)
        finally:
            await self.vendors.close()

    async def _lead(self) -> None:
        async with self.engine.connect() as lock_connection:
            got = await watermarks.try_poller_lock(lock_connection)
            await lock_connection.commit()
            if not got:
                return  # another replica polls; stand by
            log.info("poller is the active instance")
            self.active.set()
            try:
                while not self._stopping.is_set():
                    self.heartbeat.beat()
                    await ping(lock_connection)  # the lock lives as long as this
                    await self.poll_all()
                    await self.reconcile_due()
                    await self._sleep(self.settings.poll_interval_s)
            finally:
                await watermarks.release_poller_lock(lock_connection)
                await lock_connection.commit()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def poll_all(self) -> int:
        published = 0
        polled: set[uuid.UUID] = set()
        for sync in await self.syncs.all():
            if sync.live:
                polled.add(sync.id)
                try:
                    published += await self.poll_sync(sync)
                except Exception:
                    log.exception("polling a sync failed; the next poll asks again", sync_id=str(sync.id))
        for sync_id in self._seen.keys() - polled:
            del self._seen[sync_id]
        for sync_id in self._polled_at.keys() - polled:
            del self._polled_at[sync_id]
            metrics.POLLER_WATERMARK_AGE.remove(str(sync_id))
        return published

    async def poll_sync(self, sync: SyncConfig) -> int:
        """Publishes the changes of the sync's list since its watermark (less the overlap) that were
        not published yet; returns how many were. A failed search page is logged, after what came
        before it is published; a failed publish raises `PublishFailed`."""
        async with transaction(self.sessions) as session:
            watermark = await watermarks.poller_watermark(session, sync.id)
            if watermark is None:  # the sync's first poll: its changes are followed from now on
                watermark = datetime.now(UTC)
                await watermarks.save_watermark(session, sync.id, watermark)
        gr = await self.vendors.getresponse(sync.getresponse_connection_id)
        walk = _Walk(sync, newest=watermark, seen=self._seen.setdefault(sync.id, {}))
        published = 0
        whole = True
        try:
            pages = gr.changed_since(sync.campaign_id, watermark - self.overlap, per_page=self.page_size)
            async for contact in pages:
                walk.read(contact)
                if len(walk.unpublished) >= self.page_size:
                    published += await self._publish(walk)
        except VendorError as exc:
            whole = False
            log.warning(
                "a page of the changedOn search failed; what came before it is published, the next "
                "poll asks again for the rest",
                sync_id=str(sync.id),
                error=str(exc),
            )
        published += await self._publish(walk)
        if whole:
            self._up_to_date(sync.id)
        return published

    def _forget_polled(self) -> None:
        for sync_id in list(self._polled_at):
            del self._polled_at[sync_id]
            metrics.POLLER_WATERMARK_AGE.remove(str(sync_id))

    def _up_to_date(self, sync_id: uuid.UUID) -> None:
        """The sync's watermark is as new as GetResponse's changes: its age gauge starts from 0."""
        first = sync_id not in self._polled_at
        self._polled_at[sync_id] = time.time()
        if first:
            polled_at = self._polled_at
            metrics.POLLER_WATERMARK_AGE.labels(str(sync_id)).set_function(
                lambda: time.time() - polled_at.get(sync_id, time.time())
            )

    async def _publish(self, walk: _Walk) -> int:
        """Puts the walk's unpublished changes on Kafka; then, and only then, they count as seen and
        the watermark moves to the newest change the walk read."""
        events = list(walk.unpublished.values())
        if events:
            await self.bus.publish([event_message(self.bus.topics.getresponse_changes, e) for e in events])
            walk.mark_published()
            metrics.count_events("poller", Source.GETRESPONSE.value, "published", len(events))
        await self._save_watermark(walk.sync.id, walk.newest)
        # A search asks from the watermark less the overlap, in whole seconds: a change older than
        # that is never reported again, so it need not be remembered.
        walk.forget_before((walk.newest - self.overlap).replace(microsecond=0))
        return len(events)

    async def reconcile_due(self) -> list[uuid.UUID]:
        """Enqueue a whole-sync reconcile for each live sync whose interval has passed.

        The resync job reads both sides of every link and writes only what differs, so this is the
        safety net under the safety net. The first one comes one interval after this poller became
        active; a job already queued or running for the sync is left to finish.
        """
        interval = self.settings.reconcile_interval_s
        if interval <= 0:
            return []
        started: list[uuid.UUID] = []
        now = time.monotonic()
        for sync in await self.syncs.all():
            if not sync.live or sync.state is SyncState.FIRST_SYNC:
                continue
            last = self._reconciled.setdefault(sync.id, now)
            if now - last < interval:
                continue
            self._reconciled[sync.id] = now
            try:
                # No relay runs here: those of the api and the resync consumers send the request
                # within SFGR_OUTBOX_POLL_INTERVAL_S.
                job_id = await start_job(
                    self.sessions,
                    self.bus.topics,
                    sync_id=sync.id,
                    kind=JobKind.RESYNC,
                    dry_run=False,
                    mode=ResyncMode.RECONCILE,
                    scope=ResyncScope(whole_sync=True),
                )
            except JobRefused as refused:
                log.info("reconciliation not started", sync_id=str(sync.id), reason=refused.message)
                continue
            log.info("reconciliation enqueued", sync_id=str(sync.id), job_id=str(job_id))
            started.append(job_id)
        return started

    async def _save_watermark(self, sync_id: uuid.UUID, changed_on: datetime) -> None:
        async with transaction(self.sessions) as session:
            await watermarks.save_watermark(session, sync_id, changed_on)


@dataclass
class _Walk:
    """One walk over a sync's changedOn search: the changes read and not yet published, those
    published before (shared with the next walks), and the newest changedOn read, where the
    watermark may move once nothing read is left unpublished."""

    sync: SyncConfig
    newest: datetime
    seen: dict[SeenKey, datetime]
    unpublished: dict[SeenKey, ChangeEvent] = field(default_factory=dict)

    def read(self, contact: dict[str, object]) -> None:
        changed_raw = str(contact.get("changedOn") or "")
        if not changed_raw:
            return
        changed = parse_datetime(changed_raw)
        key = (str(contact["contactId"]), changed_raw)
        if key not in self.seen and key not in self.unpublished:
            self.unpublished[key] = _event(self.sync, contact, changed_raw, changed)
        self.newest = max(self.newest, changed)

    def mark_published(self) -> None:
        for key, event in self.unpublished.items():
            self.seen[key] = event.source_timestamp or self.newest
        self.unpublished.clear()

    def forget_before(self, horizon: datetime) -> None:
        for key in [key for key, changed in self.seen.items() if changed < horizon]:
            del self.seen[key]


def _event(sync: SyncConfig, contact: dict[str, object], changed_raw: str, changed: datetime) -> ChangeEvent:
    contact_id = str(contact["contactId"])
    return ChangeEvent(
        event_id=f"gr-poll:{contact_id}:{changed_raw}",
        source=Source.GETRESPONSE,
        transport=Transport.POLLER,
        kind=Kind.REREAD,
        connection_id=str(sync.getresponse_connection_id),
        sync_id=str(sync.id),
        object_type="contact",
        record_id=contact_id,
        campaign_id=sync.campaign_id,
        email=str(contact.get("email") or "") or None,
        # The list element's standard fields, as a webhook carries them: a poll that shows only
        # our own write needs no read (consumers/engine/echoes.py).
        fields={key: value for key in ("email", "name") if isinstance(value := contact.get(key), str)},
        source_timestamp=changed,
        origin="poller",
    )


async def run_poller(settings: Settings) -> None:
    async with observed(settings, "poller") as health:
        await _run_poller(settings, health)


async def _run_poller(settings: Settings, health: Health) -> None:
    engine = create_engine(settings)
    bus = Bus(settings)
    await bus.start()
    poller = Poller(
        settings, engine=engine, sessions=session_factory(engine), bus=bus, heartbeat=health.heartbeat("poll")
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, poller.stop)
    announce = asyncio.create_task(announce_ready(settings, poller.active))
    try:
        await poller.run()
    finally:
        announce.cancel()
        await bus.stop()
        await engine.dispose()
