"""4. First sync: a backfill over K people, through the control API.

The people are seeded the way `tests/e2e/test_first_sync.py` seeds them: on the GetResponse
simulator's second list and as Salesforce Leads, while nothing syncs them (both simulators'
deliveries off, the stack's own sync paused). About 65 % are on both sides (some with a conflicting
company, some with a phone on one side only), 17.5 % only in Salesforce, 17.5 % only in
GetResponse, and 1.25 % have a younger duplicate Lead. A sync of the second list is created through
`POST /v1/syncs` with `"first_sync": true` and a SOQL filter that selects the seeded Leads only (so
the Leads other benchmarks made are left out), then `POST /v1/syncs/{id}/first-sync` runs it.

Timed from that call to the job's end, and to the last vendor call it caused: GetResponse creates
are asynchronous (the contacts' ids are looked up after the job), and once the sync is live the
poller's first search of the list reaches `SFGR_POLL_OVERLAP_S` (10 s) back, so people the job
touched in its last 10 s come back as changes and are read once more (nothing is written). The
vendor calls are counted from the simulators' call logs (the poller's search and OAuth left out)
over that whole time and divided by K.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx

from bench.report import figures, fmt, note, rounded, table, title
from bench.world import Timeout, World, classify, getresponse_floor, unique_tag
from devstack.defaults import COMPANY_FIELD, DEMO_MAPPING, PHONE_FIELD

SECOND_LIST = "Gr7Sc"
SEED_CONCURRENCY = 8
WITHIN_S = 300.0


def run(world: World, *, quick: bool) -> None:
    size = 300 if quick else 2000
    title(f"4. First sync of {size} people (through the control API)")
    sf_config = world.sf.get("/_sim/config").json()
    gr_config = world.gr.get("/_sim/config").json()
    world.sf.post("/_sim/config", json={"outbound_url": None, "cdc_url": None}).raise_for_status()
    world.gr.post("/_sim/config", json={"webhook_url": None}).raise_for_status()
    world.sql("UPDATE syncs SET state = 'cancelled' WHERE campaign_id = $1", world.list_id)
    try:
        _run(world, size)
    finally:
        restore_sf = {"outbound_url": sf_config["outbound_url"], "cdc_url": sf_config["cdc_url"]}
        world.sf.post("/_sim/config", json=restore_sf).raise_for_status()
        world.gr.post("/_sim/config", json={"webhook_url": gr_config["webhook_url"]}).raise_for_status()
        world.sql("UPDATE syncs SET state = 'active' WHERE campaign_id = $1", world.list_id)


def _run(world: World, size: int) -> None:
    tag = unique_tag()
    prefix = f"fs{tag}."
    started = time.monotonic()
    people = _people(prefix, size)
    asyncio.run(_seed(world, people))
    duplicates = sum(1 for p in people if p["duplicate"])
    note(f"seeded {size} people (+{duplicates} duplicate Leads) in {time.monotonic() - started:.1f} s")

    body = {
        "name": f"bench first sync {tag}",
        "campaign_id": SECOND_LIST,
        "salesforce_objects": ["Lead"],
        "soql_filter": f"Email LIKE '{prefix}%'",
        "create_as": "Lead",
        "lead_source": "GetResponse",
        "preferred_system": "salesforce",
        "marker_field": "GRdeleted__c",
        "mapping": DEMO_MAPPING.model_dump(mode="json"),
        "first_sync": True,
    }
    created = world.api.post("/v1/syncs", json=body)
    if created.status_code != 201:
        raise RuntimeError(f"POST /v1/syncs: {created.status_code} {created.text}")
    sync_id = created.json()["id"]

    world.wait_quiet(settle=0.5)
    mark = world.mark()
    began_wall, began = time.time(), time.perf_counter()
    response = world.api.post(f"/v1/syncs/{sync_id}/first-sync")
    if response.status_code not in (200, 202):
        raise RuntimeError(f"first sync: {response.status_code} {response.text}")
    job = _follow(world.api, response.headers["Location"])
    job_s = time.perf_counter() - began
    if job["state"] != "done":
        raise RuntimeError(f"first sync ended {job['state']}: {job.get('errors')}")
    world.wait_quiet(settle=1.5, within=WITHIN_S)
    calls = world.calls_since(mark)
    last_call = max(
        (_wall(c["time"]) for v in calls.values() for c in v if classify(c) in ("read", "write")),
        default=began_wall,
    )
    settled_s = max(last_call - began_wall, job_s)
    counts = world.count_since(mark)

    on_list = {c["email"] for c in world.gr_list(SECOND_LIST) if c["email"].startswith(prefix)}
    leads = [
        r
        for r in world.sf_records("Lead")
        if (r.get("Email") or "").lower().startswith(prefix) and not r.get("IsDeleted")
    ]
    rows = [
        ["job done (API: state done)", f"{job_s:.1f} s", fmt(size / job_s, 1)],
        ["settled (the last vendor call it caused)", f"{settled_s:.1f} s", fmt(size / settled_s, 1)],
    ]
    print(table(["first sync", "time", "people/s"], rows))
    sf, gr = counts["salesforce"], counts["getresponse"]
    print(
        table(
            ["vendor calls per person", "reads", "writes", "total", "calls", "429s"],
            [
                [
                    "Salesforce",
                    fmt(sf.reads / size, 3),
                    fmt(sf.writes / size, 3),
                    fmt(sf.counted / size, 3),
                    fmt(sf.counted),
                    fmt(sf.throttled),
                ],
                [
                    "GetResponse",
                    fmt(gr.reads / size, 3),
                    fmt(gr.writes / size, 3),
                    fmt(gr.counted / size, 3),
                    fmt(gr.counted),
                    fmt(gr.throttled),
                ],
            ],
        )
    )
    job_counts = job.get("counts") or {}
    summary = ", ".join(f"{k} {v}" for k, v in job_counts.items() if isinstance(v, int) and v)
    note(f"job counts: {summary}")
    note(
        f"afterwards: {len(on_list)}/{size} on the GetResponse list, {len(leads)}/{size + duplicates} "
        "Salesforce Leads (people + duplicates)"
    )
    job_calls = [c for c in calls["getresponse"] if _wall(c["time"]) <= began_wall + job_s]
    floor = getresponse_floor(job_calls)
    note(
        f"floor: the job's {floor.calls} GetResponse calls ({floor.batches} batches, the poller's "
        f"searches included) take at least {floor.seconds:.1f} s at its limits; job done in "
        f"{job_s:.1f} s, {job_s / floor.seconds:.2f}x the floor"
    )
    figures(
        "first_sync",
        people=size,
        job_s=rounded(job_s),
        settled_s=rounded(settled_s),
        people_per_s=rounded(size / job_s, 1),
        sf_calls_per_person=rounded(sf.counted / size, 3),
        gr_calls_per_person=rounded(gr.counted / size, 3),
        gr_reads_per_person=rounded(gr.reads / size, 3),
        gr_writes_per_person=rounded(gr.writes / size, 3),
        gr_429=gr.throttled,
        floor_s=rounded(floor.seconds),
        floor_calls=floor.calls,
        ratio_to_floor=rounded(job_s / floor.seconds),
    )


def _people(prefix: str, size: int) -> list[dict[str, Any]]:
    matched, salesforce_only = round(size * 0.65), round(size * 0.175)
    conflicts, fills, duplicates = round(size * 0.06), round(size * 0.02), round(size * 0.0125)
    people = []
    for i in range(size):
        email = f"{prefix}{i}@example.com"
        kind = "matched" if i < matched else "salesforce" if i < matched + salesforce_only else "getresponse"
        person: dict[str, Any] = {"email": email, "kind": kind, "i": i, "duplicate": False}
        if kind != "getresponse":
            lead = {
                "FirstName": "First",
                "LastName": f"Last{i}",
                "Email": email.upper() if i % 7 == 0 else email,
                "Company": f"Company {i}",
            }
            if kind == "matched" and i >= conflicts + fills and i % 3 == 0:
                lead["Phone"] = "+48 600 100 200"
            person["lead"] = lead
        if kind != "salesforce":
            custom = {COMPANY_FIELD: f"Company {i}"}
            if kind == "matched" and i < conflicts:
                custom[COMPANY_FIELD] = f"Other {i}"  # a conflict: Salesforce, the preferred system, wins
            if kind == "matched" and conflicts <= i < conflicts + fills:
                custom[PHONE_FIELD] = "+14155550100"  # empty in Salesforce: filled from GetResponse
            person["contact"] = {
                "email": email,
                "name": f"First Last{i}",
                "campaignId": SECOND_LIST,
                "customFieldValues": [{"customFieldId": k, "value": [v]} for k, v in custom.items()],
            }
        people.append(person)
    step = max(1, matched // max(1, duplicates))
    for i in range(0, matched, step)[:duplicates]:
        people[i]["duplicate"] = True
    return people


async def _seed(world: World, people: list[dict[str, Any]]) -> None:
    sf_url = world.info["salesforce"]
    gr_url = world.info["getresponse"].removesuffix("/v3")
    async with (
        httpx.AsyncClient(base_url=sf_url, timeout=30) as sf,
        httpx.AsyncClient(base_url=gr_url, timeout=30) as gr,
    ):

        async def each(items: list[tuple[httpx.AsyncClient, str, dict[str, Any]]]) -> None:
            queue = list(reversed(items))

            async def worker() -> None:
                while queue:
                    client, path, body = queue.pop()
                    (await client.post(path, json=body)).raise_for_status()

            await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))

        await each(
            [(sf, "/_sim/records/Lead", p["lead"]) for p in people if "lead" in p]
            + [(gr, "/_sim/contacts", p["contact"]) for p in people if "contact" in p]
        )
        # Younger duplicates, created after every original so that the original is the older one.
        await each(
            [
                (
                    sf,
                    "/_sim/records/Lead",
                    {
                        "FirstName": "Dup",
                        "LastName": f"Licate{p['i']}",
                        "Email": p["email"],
                        "Company": "Duplicate Co",
                    },
                )
                for p in people
                if p["duplicate"]
            ]
        )


def _follow(api: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + WITHIN_S
    while True:
        job: dict[str, Any] = api.get(location).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise Timeout(f"the first sync was still {job['state']} after {WITHIN_S:g} s")
        time.sleep(0.2)


def _wall(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
