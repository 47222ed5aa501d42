"""The outbox relay: publishes the messages committed transactions left in the `outbox` table.

A job row and the request that starts it are written in one transaction (app/control/jobs.py), so
a crash can no longer keep the one without the other. The relay sends unsent rows oldest first, a
batch per Kafka round trip, and marks them sent only after Kafka acknowledged them. A batch stays
locked (FOR UPDATE SKIP LOCKED) from its claim until it is marked, so relays running side by side
(each api replica and each resync consumer runs one) never send one row together.

A relay that dies after Kafka's acknowledgement but before its mark committed leaves the batch to
be sent again: a message that goes through the outbox must be harmless twice. A job request is
(consumers/jobs/worker.py): a job that is finished, or that another worker is running, is left as
it is.

With Kafka down nothing is marked and the relay tries again on a backoff capped at MAX_BACKOFF_S;
`nudge()` (a commit in this process) tries at once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Bus, PublishFailed
from app.db import outbox
from app.db.session import transaction
from app.logs import get_logger
from app.metrics import OUTBOX_FAILURES, OUTBOX_SENT
from app.settings import Settings

log = get_logger(__name__)

MAX_BACKOFF_S = 15.0
PRUNE_EVERY_S = 3600.0


class OutboxRelay:
    def __init__(self, settings: Settings, *, sessions: async_sessionmaker[AsyncSession], bus: Bus) -> None:
        self.settings = settings
        self.sessions = sessions
        self.bus = bus
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._pruned_at: float | None = None
        self.sent = 0  # messages sent by this relay
        self.failed_passes = 0  # passes that ended in an error (Kafka or Postgres unreachable)

    def nudge(self) -> None:
        """Look at the outbox now: a transaction that wrote to it has just committed."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in hand and end `run`; safe from a signal handler."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay at once (what an earlier process left unsent), then on every nudge and every
        `outbox_poll_interval_s`, until `stop()`."""
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a nudge during it brings another pass
            try:
                sent = await self.relay_once()
                await self._prune_when_due()
            except PublishFailed as exc:
                failures += 1
                self.failed_passes += 1
                OUTBOX_FAILURES.labels("kafka").inc()
                log.warning("outbox relay: Kafka did not acknowledge; messages stay unsent", error=str(exc))
            except Exception as exc:  # Postgres unreachable, mostly: nothing to do but try again
                failures += 1
                self.failed_passes += 1
                OUTBOX_FAILURES.labels(type(exc).__name__).inc()
                log.exception("outbox relay failed; trying again")
            else:
                if failures:
                    log.info("outbox relay works again", sent=sent, failed_passes=failures)
                failures = 0
            await self._pause(self._delay(failures))

    async def relay_once(self) -> int:
        """Sends every unsent row, oldest first; returns how many were sent. Raises PublishFailed
        when Kafka does not acknowledge a batch: that batch stays unsent (and unlocked)."""
        sent = 0
        batch_size = self.settings.outbox_batch_size
        while not self._stopping.is_set():
            async with transaction(self.sessions) as session:
                rows = await outbox.claim_unsent(session, batch_size)
                if not rows:
                    break
                await self.bus.publish([outbox.as_message(row) for row in rows])
                await outbox.mark_sent(session, [row.id for row in rows])
            sent += len(rows)
            self.sent += len(rows)
            OUTBOX_SENT.inc(len(rows))
            if len(rows) < batch_size:
                break
        return sent

    def _delay(self, failures: int) -> float:
        poll = self.settings.outbox_poll_interval_s
        if not failures:
            return poll
        return min(poll * 2.0**failures, max(MAX_BACKOFF_S, poll))

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _prune_when_due(self) -> None:
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        horizon = datetime.now(UTC) - timedelta(seconds=self.settings.outbox_retention_s)
        async with transaction(self.sessions) as session:
            pruned = await outbox.prune_sent(session, horizon)
        if pruned:
            log.info("outbox: sent messages pruned", pruned=pruned, sent_before=horizon.isoformat())
