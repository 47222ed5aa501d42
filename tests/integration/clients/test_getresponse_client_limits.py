"""GetResponseClient and its AccountLimiter against the GetResponse simulator's throttles:
429/1015 with the wait in its body, the frame learnt from X-RateLimit-* headers, calls per
second, concurrent calls, and live work before background work (api-contracts B10, C11)."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.clients.errors import NotFound, RateLimited
from app.clients.getresponse import GetResponseClient
from app.clients.limits import AccountLimiter, AccountLimits, Priority, priority
from tests.fixtures.simulators import GR_API_KEY, Sim
from tests.integration.clients.harness import max_overlap, until

GENEROUS = AccountLimits(per_second=1000, concurrency=50, live_reserved_concurrency=0)


def client(sim: Sim, limits: AccountLimits) -> GetResponseClient:
    return GetResponseClient(api_key=GR_API_KEY, base_url=f"{sim.url}/v3", limiter=AccountLimiter(limits))


async def test_a_throttled_call_is_rate_limited_for_the_wait_its_body_names(gr_sim: Sim) -> None:
    gr_sim.configure(rate_per_second=2)
    async with client(gr_sim, GENEROUS) as gr:
        await gr.campaigns()
        await gr.campaigns()
        with pytest.raises(RateLimited) as throttled:
            await gr.campaigns()
        # The body says "1 seconds"; X-RateLimit-Reset names the 10-minute frame instead.
        assert (throttled.value.status, throttled.value.code, throttled.value.retry_after) == (429, 1015, 1.0)
        assert 0.5 < gr.limiter.paused_for <= 1.0


async def test_after_a_429_every_caller_of_the_account_waits(gr_sim: Sim) -> None:
    gr_sim.configure(rate_per_second=2)
    async with client(gr_sim, GENEROUS) as live:
        background = live.with_priority(Priority.BACKGROUND)
        await live.campaigns()
        await live.campaigns()
        with pytest.raises(RateLimited):
            await live.campaigns()
        began = time.monotonic()
        await background.campaigns()  # another caller, same account: held until the wait is over
        assert time.monotonic() - began >= 0.5
        assert [c["status"] for c in gr_sim.calls("/v3")] == [200, 200, 429, 200]


async def test_an_empty_frame_reported_in_headers_holds_calls_without_asking_the_vendor(gr_sim: Sim) -> None:
    gr_sim.configure(rate_per_window=3, window_seconds=30)
    async with client(gr_sim, GENEROUS) as gr:
        for _ in range(3):
            await gr.campaigns()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await gr.campaigns()
    assert len(gr_sim.calls("/v3")) == 3


async def test_calls_stay_within_the_configured_rate_per_second(gr_sim: Sim) -> None:
    gr_sim.configure(rate_per_second=5)
    async with client(gr_sim, AccountLimits(per_second=5, live_reserved_concurrency=0)) as gr:
        began = time.monotonic()
        await asyncio.gather(*(gr.campaign("Gr7Mn") for _ in range(12)))
        assert time.monotonic() - began >= 2.0
    assert {c["status"] for c in gr_sim.calls("/v3")} == {200}


async def test_calls_stay_within_the_configured_concurrency(gr_sim: Sim) -> None:
    gr_sim.configure(max_concurrent=4)
    gr_sim.faults(latency_ms=100)
    async with client(gr_sim, AccountLimits(concurrency=3, live_reserved_concurrency=0)) as gr:
        began = time.monotonic()
        await asyncio.gather(*(gr.campaign("Gr7Mn") for _ in range(9)))
        assert time.monotonic() - began >= 0.3
    calls = gr_sim.calls("/v3")
    assert {c["status"] for c in calls} == {200}
    assert max_overlap(calls) == 3


async def test_live_calls_queued_after_background_calls_go_first(gr_sim: Sim) -> None:
    gr_sim.faults(latency_ms=100)
    async with client(gr_sim, AccountLimits(concurrency=1, live_reserved_concurrency=0)) as live:
        background = live.with_priority(Priority.BACKGROUND)

        async def look_up(gr: GetResponseClient, contact_id: str) -> None:
            with pytest.raises(NotFound):
                await gr.get_contact(contact_id)

        first = asyncio.create_task(look_up(background, "first"))
        await until(lambda: live.limiter.in_flight == 1)
        queued = [asyncio.create_task(look_up(background, f"bg{n}")) for n in range(3)]
        await until(lambda: live.limiter.queued(Priority.BACKGROUND) == 3)
        urgent = asyncio.create_task(look_up(live, "live"))
        await asyncio.gather(first, urgent, *queued)
    order = [c["path"].rsplit("/", 1)[-1] for c in gr_sim.calls("/v3/contacts")]
    assert order == ["first", "live", "bg0", "bg1", "bg2"]


async def test_calls_naming_no_priority_take_the_contexts(gr_sim: Sim) -> None:
    gr_sim.faults(latency_ms=100)
    async with client(gr_sim, AccountLimits(concurrency=1, live_reserved_concurrency=0)) as gr:

        async def look_up(contact_id: str, level: Priority | None = None) -> None:
            with pytest.raises(NotFound):
                if level is None:
                    await gr.get_contact(contact_id)
                else:
                    with priority(level):
                        await gr.get_contact(contact_id)

        first = asyncio.create_task(look_up("first"))
        await until(lambda: gr.limiter.in_flight == 1)
        queued = [asyncio.create_task(look_up("backfill", Priority.BACKGROUND))]
        await until(lambda: gr.limiter.queued(Priority.BACKGROUND) == 1)
        queued.append(asyncio.create_task(look_up("retry", Priority.RETRY)))
        await until(lambda: gr.limiter.queued(Priority.RETRY) == 1)
        queued.append(asyncio.create_task(look_up("live")))
        await until(lambda: gr.limiter.queued(Priority.LIVE) == 1)
        await asyncio.gather(first, *queued)
    order = [c["path"].rsplit("/", 1)[-1] for c in gr_sim.calls("/v3/contacts")]
    assert order == ["first", "live", "retry", "backfill"]


async def test_views_share_the_session_and_only_the_owner_closes_it(gr_sim: Sim) -> None:
    owner = client(gr_sim, GENEROUS)
    view = owner.with_priority(Priority.BACKGROUND)
    assert view.limiter is owner.limiter
    await view.campaigns()
    await view.close()
    await owner.campaigns()
    await owner.close()
