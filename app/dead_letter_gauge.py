"""`sfgr_dead_letters{status}`: the dead-letter table counted every few seconds by one process
(the resync consumers, which always run), so that an alert sees them grow whoever made them."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.db import dead_letters
from app.logs import get_logger

log = get_logger(__name__)

INTERVAL_S = 15.0


class DeadLetterGauge:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval_s: float = INTERVAL_S) -> None:
        self.sessions = sessions
        self.interval_s = interval_s
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def sample(self) -> None:
        async with self.sessions() as session:
            counts = await dead_letters.count_by_status(session)
        for status, count in counts.items():
            metrics.DEAD_LETTERS_STORED.labels(status).set(count)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sample()
            except Exception as exc:  # the database away: the gauge keeps its last values
                log.warning("counting dead letters failed", error=str(exc))
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except TimeoutError:
                pass
