"""Retention: applied event ids, the decision log and resolved dead letters are deleted once they
are older than their setting, so that those tables stop growing forever.

The api and each resync consumer run a pruner (processes that always run), and one at a time does
a round: it holds a Postgres advisory lock for the round on a connection of its own
(app/db/retention.py), and the others skip theirs. A round deletes `retention_batch_size` rows per
statement, each statement its own short transaction, until a statement finds fewer than that;
so a first round after a long time without one clears a backlog without holding locks for long.
A round that fails (Postgres unreachable) is tried again at the next interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import retention
from app.db.session import transaction
from app.logs import get_logger
from app.settings import Settings

log = get_logger(__name__)

Prune = Callable[..., Awaitable[int]]


@dataclass
class RetentionRound:
    """What one round deleted, per table, and in how many statements."""

    deleted: dict[str, int] = field(default_factory=dict)
    statements: int = 0


class RetentionPruner:
    def __init__(
        self, settings: Settings, *, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self._stopping = asyncio.Event()
        self.rounds = 0  # rounds this pruner did (it held the lock)

    def stop(self) -> None:
        """End `run` after the statement in hand; safe from a signal handler."""
        self._stopping.set()

    async def run(self) -> None:
        """A round at once, then one every `retention_interval_s`, until `stop()`."""
        while not self._stopping.is_set():
            try:
                await self.prune_once()
            except Exception:  # Postgres unreachable, mostly: the next round tries again
                log.exception("retention round failed; trying again at the next interval")
            try:
                await asyncio.wait_for(self._stopping.wait(), self.settings.retention_interval_s)
            except TimeoutError:
                pass

    async def prune_once(self) -> RetentionRound | None:
        """One round; None when another pruner holds the lock (and so does the round)."""
        s = self.settings
        tables: list[tuple[str, Prune, float]] = [
            ("processed_events", retention.prune_processed_events, s.retention_processed_events_s),
            ("decisions", retention.prune_decisions, s.retention_decisions_s),
            ("dead_letters", retention.prune_resolved_dead_letters, s.retention_dead_letters_s),
        ]
        async with retention.retention_lock(self.engine) as held:
            if not held:
                return None
            done = RetentionRound()
            for table, prune, keep_s in tables:
                done.deleted[table] = 0
                while not self._stopping.is_set():
                    async with transaction(self.sessions) as session:
                        deleted = await prune(
                            session, older_than=timedelta(seconds=keep_s), limit=s.retention_batch_size
                        )
                    done.statements += 1
                    done.deleted[table] += deleted
                    if deleted < s.retention_batch_size:
                        break
        self.rounds += 1
        if any(done.deleted.values()):
            log.info("retention: old rows deleted", statements=done.statements, **done.deleted)
        return done
