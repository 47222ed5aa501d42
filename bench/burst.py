"""3. Throughput under a burst: Leads created in Salesforce as fast as the simulator takes them
(16 at a time through its control API, as a data import would), and the time until every one of
them is an active contact on the GetResponse list.

The list is read every 200 ms while the burst is going on, so each person's arrival is known to
that resolution; people per second is the burst size over the time from the first create call to
the last arrival. GetResponse allows 80 calls/s per account and every create costs at least two
calls there (the create, and the lookup of the id it does not return), so that is the ceiling.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.report import fmt, note, percentile, table, title
from bench.world import Timeout, World, unique_tag

CONCURRENCY = 16
LIST_POLL_S = 0.2
WITHIN_S = 240.0


def run(world: World, *, quick: bool) -> None:
    size = 200 if quick else 500
    title(f"3. Throughput under a burst of {size} Leads created in Salesforce")
    tag = unique_tag()
    emails = [f"burst{tag}.{i}@example.com" for i in range(size)]
    mark = world.mark()
    created, arrived, burst_s = asyncio.run(_burst(world, emails))
    world.wait_quiet(settle=1.5, within=120)
    counts = world.count_since(mark)

    start = min(created.values())
    done = len(arrived)
    last = max(arrived.values()) - start if arrived else float("nan")
    per_person = [(arrived[e] - created[e]) * 1000 for e in arrived]
    rows = [
        ["Leads created (control API)", fmt(size), f"{burst_s:.1f} s", fmt(size / burst_s, 1)],
        ["on the GetResponse list", f"{done}/{size}", f"{last:.1f} s", fmt(done / last, 1)],
    ]
    print(table(["", "people", "time", "people/s"], rows))
    print(
        table(
            ["each person: create call -> on the list (ms)", "p50", "p90", "p99", "max"],
            [
                [
                    f"resolution {LIST_POLL_S * 1000:.0f} ms",
                    *(fmt(percentile(per_person, p)) for p in (50, 90, 99)),
                    fmt(max(per_person) if per_person else None),
                ]
            ],
        )
    )
    sf, gr = counts["salesforce"], counts["getresponse"]
    note(
        f"vendor calls per person: Salesforce {sf.reads / size:.2f} reads, {sf.writes / size:.2f} writes; "
        f"GetResponse {gr.reads / size:.2f} reads, {gr.writes / size:.2f} writes "
        "(poller search and OAuth left out)"
    )
    note(f"of which answered 429 (rate limit): Salesforce {sf.throttled}, GetResponse {gr.throttled}")


async def _burst(world: World, emails: list[str]) -> tuple[dict[str, float], dict[str, float], float]:
    """Create every Lead (CONCURRENCY at a time) while watching the list; returns when each create
    call started, when each person was first seen on the list, and how long the creates took."""
    created: dict[str, float] = {}
    arrived: dict[str, float] = {}
    wanted = set(emails)
    queue = list(reversed(emails))
    sf_url = world.info["salesforce"]
    gr_url = world.info["getresponse"].removesuffix("/v3")
    limits = httpx.Limits(max_connections=CONCURRENCY + 2)
    async with (
        httpx.AsyncClient(base_url=sf_url, timeout=30, limits=limits) as sf,
        httpx.AsyncClient(base_url=gr_url, timeout=30) as gr,
    ):

        async def creator() -> None:
            while queue:
                email = queue.pop()
                i = email.split(".")[1].split("@")[0]
                created[email] = time.perf_counter()
                body = {
                    "FirstName": "Burst",
                    "LastName": f"Person{i}",
                    "Email": email,
                    "Company": "Burst Inc",
                }
                response = await sf.post("/_sim/records/Lead", json=body)
                response.raise_for_status()

        async def watcher() -> None:
            deadline = time.perf_counter() + WITHIN_S
            params = {"campaignId": world.list_id, "state": "active"}
            while len(arrived) < len(wanted):
                if time.perf_counter() > deadline:
                    raise Timeout(
                        f"{len(wanted) - len(arrived)} people not on the list within {WITHIN_S:g} s"
                    )
                contacts = (await gr.get("/_sim/contacts", params=params)).json()
                now = time.perf_counter()
                for contact in contacts:
                    email = contact["email"]
                    if email in wanted and email not in arrived:
                        arrived[email] = now
                await asyncio.sleep(LIST_POLL_S)

        watching = asyncio.create_task(watcher())
        began = time.perf_counter()
        await asyncio.gather(*(creator() for _ in range(CONCURRENCY)))
        burst_s = time.perf_counter() - began
        await watching
    return created, arrived, burst_s
