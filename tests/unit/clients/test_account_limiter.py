"""`AccountLimiter` on its own, with small limits and real time: concurrency, calls per second,
the frame, pauses, and live work before background work (design.md "Limits and backpressure")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from app.clients.limits import (
    AccountLimiter,
    AccountLimits,
    Priority,
    account_limiter,
    call_priority,
    priority,
)


def limits(**overrides: float) -> AccountLimits:
    base: dict[str, float] = {
        "per_second": 1000,
        "per_window": 100_000,
        "window_s": 600,
        "concurrency": 10,
        "live_reserved_concurrency": 0,
        "live_reserved_window": 0,
        "spacing_margin_s": 0.02,
    }
    return AccountLimits(**(base | overrides))  # type: ignore[arg-type]


async def until(condition: Callable[[], bool]) -> None:
    """Polls `condition` until it holds, for at most two seconds."""
    deadline = time.monotonic() + 2.0
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def test_live_work_queued_after_background_work_goes_first() -> None:
    limiter = AccountLimiter(limits(concurrency=1))
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot(Priority.BACKGROUND):
            await release.wait()

    async def call(name: str, priority: Priority) -> None:
        async with limiter.slot(priority):
            order.append(name)

    hold = asyncio.create_task(holder())
    await until(lambda: limiter.in_flight == 1)
    backgrounds = [asyncio.create_task(call(f"background-{i}", Priority.BACKGROUND)) for i in range(3)]
    await until(lambda: limiter.queued(Priority.BACKGROUND) == 3)
    live = asyncio.create_task(call("live", Priority.LIVE))
    await until(lambda: limiter.queued(Priority.LIVE) == 1)
    release.set()
    await asyncio.gather(hold, live, *backgrounds)
    assert order == ["live", "background-0", "background-1", "background-2"]


async def test_no_more_calls_are_in_flight_than_the_concurrency_limit() -> None:
    limiter = AccountLimiter(limits(concurrency=3))
    active = peak = 0

    async def call() -> None:
        nonlocal active, peak
        async with limiter.slot():
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.02)
            active -= 1

    await asyncio.gather(*(call() for _ in range(12)))
    assert peak == 3
    assert limiter.in_flight == 0


async def test_background_work_leaves_reserved_slots_to_live_work() -> None:
    limiter = AccountLimiter(limits(concurrency=3, live_reserved_concurrency=1))
    release = asyncio.Event()

    async def hold(priority: Priority) -> None:
        async with limiter.slot(priority):
            await release.wait()

    background = [asyncio.create_task(hold(Priority.BACKGROUND)) for _ in range(3)]
    await until(lambda: limiter.in_flight == 2 and limiter.queued(Priority.BACKGROUND) == 1)
    live = asyncio.create_task(hold(Priority.LIVE))
    await until(lambda: limiter.in_flight == 3)
    assert limiter.queued(Priority.BACKGROUND) == 1
    release.set()
    await asyncio.gather(live, *background)


async def test_no_one_second_span_holds_more_starts_than_the_per_second_limit() -> None:
    limiter = AccountLimiter(limits(per_second=5))
    starts: list[float] = []

    async def call() -> None:
        async with limiter.slot():
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(call() for _ in range(12)))
    assert time.monotonic() - began >= 2.0
    starts.sort()
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 1.0


async def test_a_pause_holds_every_caller_of_the_account() -> None:
    limiter = AccountLimiter(limits())
    limiter.pause(0.3)
    assert 0.2 < limiter.paused_for <= 0.3
    began = time.monotonic()
    async with limiter.slot(Priority.LIVE):
        pass
    assert time.monotonic() - began >= 0.29


async def test_the_vendors_empty_frame_makes_callers_wait_for_its_reset() -> None:
    limiter = AccountLimiter(limits())
    async with limiter.slot():
        limiter.observe(
            {"X-RateLimit-Limit": "30000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1 seconds"}
        )
    began = time.monotonic()
    async with limiter.slot():
        pass
    assert time.monotonic() - began >= 0.9


async def test_background_work_leaves_the_end_of_the_frame_to_live_work() -> None:
    limiter = AccountLimiter(limits(per_window=5, live_reserved_window=2, window_s=60))
    for _ in range(3):
        async with limiter.slot(Priority.BACKGROUND):
            pass
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1), limiter.slot(Priority.BACKGROUND):
            pass
    async with asyncio.timeout(0.1), limiter.slot(Priority.LIVE):
        pass


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    limiter = AccountLimiter(limits(concurrency=1))
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await until(lambda: limiter.in_flight == 1)
    waiter = asyncio.create_task(hold())
    await until(lambda: limiter.queued() == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert limiter.in_flight == 0 and limiter.queued() == 0
    async with asyncio.timeout(0.1), limiter.slot():
        assert limiter.in_flight == 1


async def test_batch_calls_start_a_second_apart() -> None:
    limiter = AccountLimiter(limits(batch_per_second=1))
    starts: list[float] = []
    for _ in range(2):
        async with limiter.slot(Priority.BACKGROUND, batch=True):
            starts.append(time.monotonic())
    assert starts[1] - starts[0] >= 1.0


def test_limits_that_would_starve_background_work_are_refused() -> None:
    with pytest.raises(ValueError):
        AccountLimits(concurrency=2, live_reserved_concurrency=2)
    with pytest.raises(ValueError):
        AccountLimits(per_window=10, live_reserved_window=10)


async def test_the_process_has_one_limiter_per_account() -> None:
    first = account_limiter("unit-test-account-a")
    assert account_limiter("unit-test-account-a") is first
    assert account_limiter("unit-test-account-b") is not first


def test_a_limiter_left_by_another_event_loop_is_not_used_by_the_next() -> None:
    """Its timers and waiters belong to the loop that ended: a call on the next loop must not
    wait for them (the tests run one loop per test)."""

    async def limiter() -> AccountLimiter:
        return account_limiter("unit-test-account-loops")

    assert asyncio.run(limiter()) is not asyncio.run(limiter())


async def test_a_fresh_frame_reported_by_the_vendor_replaces_the_spent_local_count() -> None:
    limiter = AccountLimiter(limits(per_window=2, window_s=60))
    for _ in range(2):
        async with limiter.slot():
            pass
    # The vendor's frame ends well after ours would: it is a new one, with its own count.
    limiter.observe({"X-RateLimit-Remaining": "100", "X-RateLimit-Reset": "600 seconds"})
    async with asyncio.timeout(0.1), limiter.slot():
        pass


async def test_within_one_frame_the_lower_of_both_counts_wins() -> None:
    limiter = AccountLimiter(limits(per_window=100, window_s=60))
    async with limiter.slot():
        pass
    # Other processes on the account have used the rest of this frame.
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60 seconds"})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1), limiter.slot():
            pass
    # An answer that left the vendor earlier arrives late, with an older, higher count.
    limiter.observe({"X-RateLimit-Remaining": "50", "X-RateLimit-Reset": "59 seconds"})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1), limiter.slot():
            pass


async def test_retries_go_after_live_work_and_before_background_work() -> None:
    limiter = AccountLimiter(limits(concurrency=1))
    order: list[Priority] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            await release.wait()

    async def call(level: Priority) -> None:
        async with limiter.slot(level):
            order.append(level)

    hold = asyncio.create_task(holder())
    await until(lambda: limiter.in_flight == 1)
    queued = [asyncio.create_task(call(level)) for level in (Priority.BACKGROUND, Priority.RETRY, Priority.LIVE)]
    await until(lambda: limiter.queued() == 3)
    release.set()
    await asyncio.gather(hold, *queued)
    assert order == [Priority.LIVE, Priority.RETRY, Priority.BACKGROUND]


async def test_a_leased_share_counts_the_calls_started_under_a_larger_one() -> None:
    limiter = AccountLimiter(limits(per_second=10))
    for _ in range(4):
        async with limiter.slot():
            pass
    limiter.set_share(per_second=3, concurrency=10)
    assert limiter.holding() == (4, 0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3), limiter.slot():
            pass
    limiter.set_share(per_second=5, concurrency=10)
    async with asyncio.timeout(0.1), limiter.slot():
        pass


async def test_a_call_waiting_for_the_share_is_reported_as_starved() -> None:
    limiter = AccountLimiter(limits())
    limiter.set_share(per_second=0, concurrency=0)
    waiting = asyncio.create_task(hold_one(limiter, Priority.RETRY))
    await until(lambda: limiter.queued(Priority.RETRY) == 1)
    assert limiter.usage().starved == {Priority.RETRY}
    limiter.set_share(per_second=5, concurrency=1)
    await waiting
    usage = limiter.usage()
    assert usage.starts[Priority.RETRY] == 1 and usage.peak_in_flight[Priority.RETRY] == 1


async def hold_one(limiter: AccountLimiter, level: Priority) -> None:
    async with limiter.slot(level):
        pass


def test_call_priority_is_live_unless_a_context_says_otherwise() -> None:
    assert call_priority.get() is Priority.LIVE
    with priority(Priority.RETRY):
        assert call_priority.get() is Priority.RETRY
        with priority(Priority.BACKGROUND):
            assert call_priority.get() is Priority.BACKGROUND
        assert call_priority.get() is Priority.RETRY
    assert call_priority.get() is Priority.LIVE
