"""The org's change events, kept for the 72 h retention window on the simulator's clock
(api-contracts A2 "Replay IDs and retention", A5 "Replay").

One log feeds both transports: the CometD relay posts an event as it is logged, and the Pub/Sub
API server reads the log from any retained position. Positions are replay ids: a counter that
grows by irregular steps (never contiguous, A2), sent to Pub/Sub clients as ten opaque bytes (a
prefix of the log plus the counter) and to the CometD relay as the counter alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

RETENTION = timedelta(hours=72)


@dataclass(frozen=True)
class LoggedEvent:
    counter: int
    replay_id: bytes
    committed_at: datetime  # on the simulator's clock
    header: dict[str, Any]  # CometD's header: changedFields as names (`Name.LastName`)
    values: dict[str, Any]  # the record after the change; empty for gaps


@dataclass
class EventLog:
    now: Callable[[], datetime]
    prefix: bytes = field(default_factory=lambda: os.urandom(2))
    _events: list[LoggedEvent] = field(default_factory=list)
    _waiters: set[asyncio.Event] = field(default_factory=set)

    def append(
        self, counter: int, committed_at: datetime, header: dict[str, Any], values: dict[str, Any]
    ) -> None:
        replay_id = self.prefix + counter.to_bytes(8, "big")
        horizon = self.now() - RETENTION
        while self._events and self._events[0].committed_at < horizon:
            self._events.pop(0)  # gone for good, as Salesforce forgets them: unknown from now on
        self._events.append(LoggedEvent(counter, replay_id, committed_at, header, values))
        for waiter in self._waiters:
            waiter.set()

    def clear(self) -> None:
        self._events.clear()
        self.prefix = os.urandom(2)  # replay ids from before a reset are unknown afterwards

    def retained(self) -> list[LoggedEvent]:
        horizon = self.now() - RETENTION
        return [e for e in self._events if e.committed_at >= horizon]

    def latest_replay_id(self) -> bytes:
        """The newest position of the log (empty before the first event)."""
        return self._events[-1].replay_id if self._events else b""

    def position_of(self, replay_id: bytes) -> int | None:
        """The counter of a retained event with this replay id; None when unknown or expired."""
        for event in self.retained():
            if event.replay_id == replay_id:
                return event.counter
        return None

    def after(self, counter: int, entities: frozenset[str], limit: int) -> list[LoggedEvent]:
        found = [e for e in self.retained() if e.counter > counter and e.header["entityName"] in entities]
        return found[:limit]

    def latest_counter(self) -> int:
        return self._events[-1].counter if self._events else 0

    def earliest_counter(self) -> int:
        """Just before the oldest retained event."""
        retained = self.retained()
        return retained[0].counter - 1 if retained else self.latest_counter()

    def waiter(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def wake(self) -> None:
        """Every waiting stream looks again (a fault, expired sessions)."""
        for waiter in self._waiters:
            waiter.set()

    def forget(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)
