"""`SharedBudget`: one GetResponse call budget per account across every process that calls it
(consumers of both directions, retriers, the poller, jobs, and replicas of each), kept in Postgres
(design.md "Limits and backpressure"; api-contracts B10, C11: 80 calls/s, 10 concurrent).

    budget = SharedBudget(limiter, sessions, account)      # the vendor registry makes one per account
    budget.start()                                          # the limiter now waits for its lease
    ...
    await budget.stop()                                     # what it held returns to the others

Each process's `AccountLimiter` keeps doing the work of a slot (priorities, the frame, pauses);
its budget leases it a *share* of the account's calls per second and concurrency, renewed every
0.25 s while the process works and every second while it idles, and gone 3 s (`lease_s`) after the
last renewal, so a dead process's share returns by itself. Every renewal is one transaction
under the lock of the account's `rate_budgets` row (app/db/rate_budgets.py):

- each process says what it wants per priority: a priority of which a call waited for the share
  wants the account's whole rate, one that did not wants what it used in the last second with a
  quarter more; and one more concurrent call than its peak, its queued calls counted;
- from everyone's wants, `allocate` computes every share the same way: live wants first, then
  retries, then background, each level split max-min fairly, and retries and background never
  take the last `live_reserved_per_second` calls per second or `live_reserved_concurrency`
  concurrent calls, so a live edit in an idle process gets a share at once even while another
  process runs a backfill at full speed. Half of what nobody wants (at least one call for each,
  while one stays free) is spread over the processes whose wants are met (the idle ones) as small
  standing shares, so an idle process starts its first live call without asking; the rest stays
  free for whoever asks first;
- a process takes its share only out of what the others do not hold (`free`), and gives back at
  once: it lowers its own limit before it tells the others. What it holds for the others is never
  less than what it may still be using: a per-second share counts the calls it started in the
  last second (the vendor counts every one-second span, so calls started under a larger share
  still count), a concurrency share the calls still in flight. Shares therefore never sum to
  more than the account's limits in any one-second span, whatever the order of renewals;
- a process that cannot renew stops starting calls `1 + spacing_margin_s` seconds (plus a
  margin) before its lease expires, so that once it expires nothing it started still counts;
- a 429 in any process pauses the account in the row (`paused_until`); every process reads it at
  its next renewal and waits too.

Why by hand: the limiter libraries for Python we know (aiolimiter, limits with its Redis and
Memcached storages, pyrate-limiter with its Postgres bucket, asyncio-throttle) count calls
against a rate, each call a round trip to the shared store, and none of them shares a
*concurrency* limit with leases that return when their holder dies, nor orders waiting work by
priority across processes. A round trip per call would add a Postgres transaction to every
vendor call (80 a second per account); a lease is one per process and quarter second, and the
limiter's own sliding window, priorities and frame keep working inside the share.

The cost: a process whose share is too small for a burst waits for its next renewal (or for the
one its first waiting call asks for, a few milliseconds when the account has room), and a share
another process gives up reaches it only once the calls that process started have left the
one-second span. Postgres being unreachable stops a process's GetResponse calls 1.85 s after its
last renewal (no call could be accounted for), as it stops the rest of its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.limits import AccountLimiter, Priority, Usage
from app.db.rate_budgets import Lease, claim_batch_slot, lock_budget, put_lease, share_pause
from app.db.session import transaction
from app.logs import get_logger

log = get_logger(__name__)

LEASE_S = 3.0
BUSY_RENEW_S = 0.25
IDLE_RENEW_S = 1.0
MIN_RENEW_GAP_S = 0.05
LAPSE_MARGIN_S = 0.1
HEADROOM = 1.25


def allocate(total: int, reserve: int, wants: Mapping[uuid.UUID, Sequence[int]]) -> dict[uuid.UUID, int]:
    """Every holder's share of `total`: wants (indexed by `Priority`) served level by level, max-min
    fairly within a level; levels below live never past `total - reserve`; half of the rest (but
    enough for one call each while one stays free) spread as standing shares over the holders
    whose wants are met. The same wants give the same shares in every process."""
    shares = dict.fromkeys(wants, 0)
    order = sorted(wants)
    used = 0
    for level in Priority:
        ceiling = total if level is Priority.LIVE else total - reserve
        asked = {h: wants[h][level] for h in order if level < len(wants[h]) and wants[h][level] > 0}
        for holder, given in _max_min(ceiling - used, asked).items():
            shares[holder] += given
            used += given
    # Standing shares, for a first live call without asking: only for holders that got all they
    # wanted (an unmet want is background or retry work, which must not eat the live reserve).
    # Half of a small total (10 concurrent calls) is less than one each for an account's usual
    # five or six processes: one left with none would wait a renewal (~0.25 s) for its first call.
    content = [h for h in order if shares[h] >= sum(wants[h])]
    room = total - used
    spare = max(room // 2, min(len(content), room - 1))
    if spare > 0 and content:
        each = max(1, spare // len(content))
        for holder in content:
            given = min(max(0, each - shares[holder]), spare)
            shares[holder] += given
            spare -= given
    return shares


def _max_min(room: int, asked: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    given = dict.fromkeys(asked, 0)
    hungry = [h for h in asked if asked[h] > 0]
    while room > 0 and hungry:
        each = max(1, room // len(hungry))
        for holder in list(hungry):
            step = min(each, asked[holder] - given[holder], room)
            given[holder] += step
            room -= step
            if given[holder] >= asked[holder]:
                hungry.remove(holder)
            if room == 0:
                break
    return given


def per_second_wants(usage: Usage, total: int) -> tuple[int, ...]:
    return tuple(
        total if Priority(level) in usage.starved else (math.ceil(used * HEADROOM) + 1 if used else 0)
        for level, used in enumerate(usage.starts)
    )


def concurrency_wants(usage: Usage, total: int) -> tuple[int, ...]:
    """One more than the level's peak, its queued calls counted, so a starved level asks for what
    it needs: asking for the whole account would take every idle process's standing share away,
    and their next live call would starve in turn."""
    return tuple(
        min(total, peak + 1) if peak or Priority(level) in usage.starved else 0
        for level, peak in enumerate(usage.peak_in_flight)
    )


class SharedBudget:
    def __init__(
        self,
        limiter: AccountLimiter,
        sessions: async_sessionmaker[AsyncSession],
        account: str,
        *,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Stopping starts `1 + spacing_margin_s + LAPSE_MARGIN_S` before expiry, and an idle
        # process renews every IDLE_RENEW_S: a shorter lease would lapse between renewals.
        if lease_s < IDLE_RENEW_S + 1.0 + limiter.limits.spacing_margin_s + LAPSE_MARGIN_S + 0.5:
            raise ValueError("lease_s is too short for an idle process to renew in time")
        self.limiter = limiter
        self.sessions = sessions
        self.account = account
        self.lease_s = lease_s
        self.holder = uuid.uuid4()
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._clock = clock
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._pauses: set[asyncio.Task[None]] = set()
        self._lapse: asyncio.TimerHandle | None = None
        self._batch_claimed_until = 0.0
        limits = limiter.limits
        self._rate_reserve = min(limits.live_reserved_per_second, limits.per_second - 1)
        self._concurrency_reserve = limits.live_reserved_concurrency

    def start(self) -> None:
        """From now on the limiter starts calls within the leased share only (none before the
        first lease, which its first call asks for)."""
        if self._task is not None:
            return
        self._stopping = False
        self.limiter.coordinate(self)
        self._task = asyncio.create_task(self._run(), name=f"shared budget {self.account}")

    async def stop(self) -> None:
        """Stops renewing and leaves the others what this process no longer uses; the limiter has
        the whole account to itself again (only clients outside any registry use it so)."""
        if self._task is None:
            return
        task, self._task = self._task, None
        self._stopping = True
        task.cancel()
        # Bounded, because the request that made this budget waits for it: should the cancellation
        # be lost, the loop still ends at `_stopping` once the renewal in hand is done.
        await asyncio.wait({task}, timeout=self.lease_s)
        if not task.done():
            log.warning("a rate budget's renewals did not stop in time", account=self.account)
        if self._pauses:
            await asyncio.gather(*self._pauses, return_exceptions=True)
        if self._lapse is not None:
            self._lapse.cancel()
        self.limiter.set_share(0, 0)
        trailing, in_flight = self.limiter.holding()
        nothing = (0,) * len(Priority)
        try:
            async with transaction(self.sessions) as session:
                await lock_budget(session, self.account)
                last = Lease(self.holder, trailing, in_flight, nothing, nothing)
                ttl = 1.0 + self.limiter.limits.spacing_margin_s
                await put_lease(session, self.account, last, process=self.process, ttl_s=ttl)
        except Exception as exc:  # the lease expires by itself anyway
            log.warning("giving back a rate budget lease failed", account=self.account, error=str(exc))
        self.limiter.coordinate(None)

    # What the limiter tells the budget (app.clients.limits.Coordinator).

    def starved(self) -> None:
        self._poke.set()

    def paused(self, seconds: float, *, batch: bool) -> None:
        task = asyncio.create_task(self._share_pause(seconds, batch))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    # Renewing.

    async def renew(self) -> bool:
        """One renewal of the lease; True when the process is busy (it renews sooner)."""
        limiter, limits = self.limiter, self.limiter.limits
        usage = limiter.usage()
        rate_wants = per_second_wants(usage, limits.per_second)
        slot_wants = concurrency_wants(usage, limits.concurrency)
        sent = self._clock()
        async with transaction(self.sessions) as session:
            state = await lock_budget(session, self.account)
            others = [lease for lease in state.leases if lease.holder != self.holder]
            rate = self._share(
                limits.per_second,
                self._rate_reserve,
                {lease.holder: lease.per_second_wants for lease in others},
                rate_wants,
                sum(lease.per_second for lease in others),
            )
            slots = self._share(
                limits.concurrency,
                self._concurrency_reserve,
                {lease.holder: lease.concurrency_wants for lease in others},
                slot_wants,
                sum(lease.concurrency for lease in others),
            )
            current_rate, current_slots = limiter.share
            # Shrink before the others can count on it; grow only once they know (after commit).
            limiter.set_share(min(rate, current_rate), min(slots, current_slots))
            trailing, in_flight = limiter.holding()
            lease = Lease(self.holder, max(rate, trailing), max(slots, in_flight), rate_wants, slot_wants)
            await put_lease(session, self.account, lease, process=self.process, ttl_s=self.lease_s)
        limiter.set_share(rate, slots)
        self._lapse_at(sent + self.lease_s - 1.0 - limits.spacing_margin_s - LAPSE_MARGIN_S)
        if state.paused_s > 0:
            limiter.follow_pause(state.paused_s)
        if state.batch_paused_s > 0 and not self._claimed_batch_second(state.batch_paused_s):
            limiter.follow_pause(state.batch_paused_s, batch=True)
        return bool(usage.starved or any(usage.starts) or any(usage.peak_in_flight))

    def _share(
        self,
        total: int,
        reserve: int,
        wants: dict[uuid.UUID, tuple[int, ...]],
        mine: tuple[int, ...],
        held_by_others: int,
    ) -> int:
        target = allocate(total, reserve, {**wants, self.holder: mine})[self.holder]
        return max(0, min(target, total - held_by_others))

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            started = self._clock()
            self._poke.clear()
            try:
                busy = await self.renew()
                failures = 0
            except Exception as exc:  # Postgres away: the lease lapses, calls wait
                failures += 1
                busy = True
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "renewing a rate budget lease failed",
                        account=self.account,
                        failures=failures,
                        error=str(exc),
                    )
            interval = BUSY_RENEW_S if busy else IDLE_RENEW_S
            if failures:
                interval = min(IDLE_RENEW_S, MIN_RENEW_GAP_S * 2**failures)
            await asyncio.sleep(max(0.0, started + MIN_RENEW_GAP_S - self._clock()))
            await self._poked_within(max(0.0, started + interval - self._clock()))

    async def _poked_within(self, seconds: float) -> None:
        """Until a waiting call asks for more (`starved`), or `seconds` pass.

        Not `asyncio.wait_for`: on Python 3.11 it waits in a task of its own and, when that task
        ends in the instant its caller is cancelled (a call asks for more just as the request that
        made it ends and stops this budget), returns as if nothing happened: the cancellation is
        lost and the loop renews forever, with `stop()` waiting for it.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._poke.wait()

    def _lapse_at(self, at: float) -> None:
        if self._lapse is not None:
            self._lapse.cancel()
        loop = asyncio.get_running_loop()
        self._lapse = loop.call_later(max(0.0, at - self._clock()), self._lapsed)

    def _lapsed(self) -> None:
        self._lapse = None
        if self.limiter.share != (0, 0):
            log.warning("rate budget lease lapsed; no GetResponse call starts until it is renewed",
                        account=self.account)
        self.limiter.set_share(0, 0)

    async def claim_batch(self, seconds: float) -> bool:
        try:
            async with transaction(self.sessions) as session:
                claimed = await claim_batch_slot(session, self.account, seconds)
        except Exception as exc:  # no claim, no batch: the creates wait or go one by one
            log.warning("claiming a batch slot failed", account=self.account, error=str(exc))
            return False
        if claimed:
            self._batch_claimed_until = self._clock() + seconds
        return claimed

    def _claimed_batch_second(self, paused_s: float) -> bool:
        """Whether the account's batch pause is this process's own claim (claim_batch), which its
        own batch call is about to use rather than wait out; a 429's pause lasts longer."""
        return self._clock() + paused_s <= self._batch_claimed_until + 0.1

    async def _share_pause(self, seconds: float, batch: bool) -> None:
        try:
            async with transaction(self.sessions) as session:
                await share_pause(session, self.account, seconds, batch=batch)
        except Exception as exc:  # the others meet the 429 themselves, and pause
            log.warning("sharing a pause failed", account=self.account, error=str(exc))
