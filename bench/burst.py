"""3. Throughput under a burst: Leads created in Salesforce as fast as the simulator takes them
(16 at a time through its control API, as a data import would), and the time until every one of
them is an active contact on the GetResponse list.

The list is read every 200 ms while the burst is going on, so each person's arrival is known to
that resolution; people per second is the burst size over the time from the first create call to
the last arrival. GetResponse allows 80 calls/s per account (and one `/contacts/batch` call a
second): the floor printed is the time those limits alone impose on the calls made until the last
arrival. The full run bursts 500 and then 2,000 Leads.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx

from bench.report import figures, fmt, note, percentile, rounded, table, title
from bench.world import Timeout, World, getresponse_floor, unique_tag

CONCURRENCY = 16
LIST_POLL_S = 0.2
WITHIN_S = 240.0


def run(world: World, *, quick: bool) -> None:
    for size in (200,) if quick else (500, 2000):
        _run(world, size)


def _run(world: World, size: int) -> None:
    title(f"3. Throughput under a burst of {size} Leads created in Salesforce")
    tag = unique_tag()
    emails = [f"burst{tag}.{i}@example.com" for i in range(size)]
    mark = world.mark()
    created, arrived, burst_s = asyncio.run(_burst(world, emails))
    made = world.calls_since(mark)["getresponse"]
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
    note(f"GetResponse calls by kind: {_kinds(made)}")
    throttled = [c for c in made if c["status"] == 429]
    if throttled:
        note(f"answered 429: {_kinds(throttled)}")
    floor = getresponse_floor(made)
    note(
        f"floor: {floor.calls} GetResponse calls until the last arrival ({floor.batches} of them "
        f"batches, the poller's searches included) take at least {floor.seconds:.1f} s at its limits; "
        f"taken {last:.1f} s, {last / floor.seconds:.1f}x the floor"
    )
    figures(
        "burst",
        leads=size,
        on_list=done,
        total_s=rounded(last),
        people_per_s=rounded(done / last, 1),
        p50_s=rounded(percentile(per_person, 50) / 1000),
        p90_s=rounded(percentile(per_person, 90) / 1000),
        max_s=rounded(max(per_person) / 1000 if per_person else None),
        gr_calls_per_person=rounded(gr.counted / size),
        gr_reads_per_person=rounded(gr.reads / size),
        gr_writes_per_person=rounded(gr.writes / size),
        gr_429=gr.throttled,
        floor_s=rounded(floor.seconds),
        floor_calls=floor.calls,
        ratio_to_floor=rounded(last / floor.seconds),
    )


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


def _kinds(calls: list[dict[str, Any]]) -> str:
    """Where the calls went: how many of each kind, most first."""
    kinds = Counter(_kind(c) for c in calls)
    return ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())


def _kind(call: dict[str, Any]) -> str:
    path, query = call["path"], call["query"]
    if call["method"] != "GET":
        return f"{call['method']} {path if path.endswith(('/contacts', '/batch')) else '/contacts/{id}'}"
    if path.endswith("/contacts"):
        for filter_ in ("changedOn", "createdOn", "email"):
            if filter_ in query:
                return f"search by {filter_}"
        return "search"
    return "GET /contacts/{id}" if "/contacts/" in path else f"GET {path}"
