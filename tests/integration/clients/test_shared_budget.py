"""One GetResponse account's budget shared by limiters that stand for separate processes, each with
its own engine and `SharedBudget`, against real Postgres (design.md "Limits and backpressure"):
together they never start more calls in a second, nor hold more at once, than the account allows;
a share nobody renews returns; live work in one goes before background work in another; a 429's
pause in one holds the other."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import create_async_engine

from app.clients.limits import AccountLimiter, AccountLimits, Priority
from app.clients.shared_limits import MIN_RENEW_GAP_S, SharedBudget
from app.db.rate_budgets import Lease, lock_budget, put_lease
from app.db.session import session_factory, transaction

LIMITS = AccountLimits(
    per_second=10,
    concurrency=3,
    live_reserved_concurrency=1,
    live_reserved_per_second=2,
    per_window=100_000,
    live_reserved_window=0,
    spacing_margin_s=0.02,
)


@dataclass
class Account:
    """Every call start and how many calls were in flight at once, over all processes."""

    key: str = field(default_factory=lambda: f"test|{uuid.uuid4().hex}")
    starts: list[tuple[float, str, Priority]] = field(default_factory=list)
    active: int = 0
    peak: int = 0

    async def call(self, limiter: AccountLimiter, who: str, priority: Priority, hold_s: float = 0.03) -> None:
        async with limiter.slot(priority):
            self.starts.append((time.monotonic(), who, priority))
            self.active += 1
            self.peak = max(self.peak, self.active)
            await asyncio.sleep(hold_s)
            self.active -= 1

    def busiest_second(self) -> int:
        times = sorted(at for at, _, _ in self.starts)
        return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


@asynccontextmanager
async def process(database_url: str, account: Account) -> AsyncIterator[AccountLimiter]:
    """What one process holds for the account: its own engine, limiter and shared budget."""
    engine = create_async_engine(database_url, pool_size=2)
    limiter = AccountLimiter(LIMITS)
    budget = SharedBudget(limiter, session_factory(engine), account.key)
    budget.start()
    try:
        yield limiter
    finally:
        await budget.stop()
        await engine.dispose()


async def until(condition: Callable[[], bool], within: float = 3.0) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > within:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def test_two_processes_together_stay_within_the_accounts_rate_and_concurrency(database_url: str) -> None:
    account = Account()
    async with process(database_url, account) as a, process(database_url, account) as b:
        calls = [account.call(a, "a", Priority.LIVE) for _ in range(25)]
        calls += [account.call(b, "b", Priority.LIVE) for _ in range(25)]
        began = time.monotonic()
        await asyncio.gather(*calls)
        took = time.monotonic() - began
    assert account.busiest_second() <= LIMITS.per_second
    assert account.peak <= LIMITS.concurrency
    # 50 calls at 10 a second: about 5 s if the two share the account well, never much more.
    assert 4.0 <= took < 9.0, took


async def test_a_share_nobody_renews_returns_to_the_others_when_it_expires(database_url: str) -> None:
    account = Account()
    # A process that took the whole account and died: its lease is never renewed.
    async with transaction(session_factory(engine := create_async_engine(database_url))) as session:
        await lock_budget(session, account.key)
        everything = Lease(uuid.uuid4(), LIMITS.per_second, LIMITS.concurrency, (10, 0, 0), (3, 0, 0))
        await put_lease(session, account.key, everything, process="gone:1", ttl_s=1.5)
    await engine.dispose()
    async with process(database_url, account) as survivor:
        began = time.monotonic()
        await account.call(survivor, "survivor", Priority.LIVE)
        waited = time.monotonic() - began
    assert 1.2 <= waited < 3.0, waited


async def test_live_work_in_one_process_goes_before_background_work_in_another(database_url: str) -> None:
    account = Account()
    async with process(database_url, account) as backfill, process(database_url, account) as live:
        stop = asyncio.Event()

        async def background() -> None:
            while not stop.is_set():
                await account.call(backfill, "backfill", Priority.BACKGROUND)

        workers = [asyncio.create_task(background()) for _ in range(4)]
        await until(lambda: sum(1 for _, who, _ in account.starts if who == "backfill") >= 15, within=5)
        began = time.monotonic()
        await account.call(live, "live", Priority.LIVE)
        first_live_s = time.monotonic() - began
        await asyncio.gather(*(account.call(live, "live", Priority.LIVE) for _ in range(29)))
        live_done = time.monotonic()
        await until(lambda: any(at > live_done and who == "backfill" for at, who, _ in account.starts))
        stop.set()
        await asyncio.gather(*workers)

    live_starts = [at for at, who, _ in account.starts if who == "live"]
    # The backfill leaves its share to the live work within a renewal (0.25 s); the calls it
    # started before still count for a second, and then the live work has the account.
    backfill_meanwhile = [
        at for at, who, _ in account.starts if who == "backfill" and began + 1.5 < at < max(live_starts)
    ]
    assert first_live_s < 0.5, first_live_s
    assert len(backfill_meanwhile) <= 1, backfill_meanwhile
    assert account.busiest_second() <= LIMITS.per_second
    assert account.peak <= LIMITS.concurrency


async def test_a_429s_pause_in_one_process_holds_the_other(database_url: str) -> None:
    account = Account()
    async with process(database_url, account) as a, process(database_url, account) as b:
        await account.call(a, "a", Priority.LIVE)
        await account.call(b, "b", Priority.LIVE)
        a.pause(2.0)
        seen_after = await until(lambda: b.paused_for > 0, within=1.5)
        began = time.monotonic()
        await account.call(b, "b", Priority.LIVE)
        assert time.monotonic() - began >= 2.0 - seen_after - 0.3 - 0.1


async def test_a_live_call_on_an_idle_account_starts_at_once(database_url: str) -> None:
    account = Account()
    async with process(database_url, account) as a, process(database_url, account) as b:
        await account.call(a, "a", Priority.LIVE)  # the first lease of each
        await account.call(b, "b", Priority.LIVE)
        await asyncio.sleep(1.5)  # both idle: each holds a small standing share
        waits = []
        for _ in range(5):
            began = time.monotonic()
            await account.call(b, "b", Priority.LIVE, hold_s=0.0)
            waits.append(time.monotonic() - began)
    assert max(waits) < 0.1, waits


async def test_one_process_at_a_time_claims_the_accounts_next_batch_second(database_url: str) -> None:
    """`/contacts/batch` allows one call a second per account (B10), whichever process makes it."""
    account = Account()
    async with process(database_url, account) as a, process(database_url, account) as b:
        assert await a.claim_batch()
        assert not await b.claim_batch()  # a's second is not over
        assert not await a.claim_batch()
        await asyncio.sleep(1.0 + LIMITS.spacing_margin_s + 0.05)
        assert await b.claim_batch()


async def test_a_stop_in_the_instant_a_waiting_call_asks_for_more_still_ends_the_renewals(database_url: str) -> None:
    """The api stops a request's budget when the request ends, whatever its calls still ask: a
    call that waits for the share wakes the renewal loop, and a stop in that same instant must end
    the loop all the same, or the request never ends."""
    engine = create_async_engine(database_url, pool_size=2)
    limiter = AccountLimiter(LIMITS)
    # A clock that stands still: after each renewal the loop waits its whole interval (a second,
    # while idle), however long the renewal took.
    budget = SharedBudget(limiter, session_factory(engine), Account().key, clock=lambda: 0.0)
    budget.start()
    try:
        await until(lambda: limiter.share != (0, 0))  # the first lease is in
        await asyncio.sleep(4 * MIN_RENEW_GAP_S)  # the loop now waits for a wake-up or its next renewal
        budget.starved()
        stopping = asyncio.create_task(budget.stop())
        await asyncio.wait({stopping}, timeout=30)  # a guard: a loop that goes on renewing never ends
        assert stopping.done(), "stop() is still waiting for the renewal loop"
    finally:
        await engine.dispose()
