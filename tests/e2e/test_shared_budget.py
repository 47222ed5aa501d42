"""Replicas on one GetResponse account share its budget (design.md "Limits and backpressure"): two
replicas of every consumer role and the poller, each a separate process, meet a burst of
Salesforce creates and then edits far beyond what the account allows at once, and GetResponse
answers no call with 429, while every change arrives.

The simulator enforces the account's limits for real; they are scaled down here (20 calls/s, 4 at
once, and the processes are told so) to keep the burst small and the test quick. Left alone, each
of the seven processes would allow itself the whole account.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.defaults import PHONE_FIELD
from devstack.stack import Stack, consumer_roles, down, python_module, up
from tests.e2e.harness import Harness

PER_SECOND, CONCURRENCY = 20, 4
PEOPLE = 40
WITHIN_S = 60.0


@pytest.fixture(scope="module")
def replicas() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-budget-"))
    stack = up(
        state_dir,
        env={
            "SFGR_LOG_LEVEL": "INFO",
            "SFGR_GETRESPONSE_PER_SECOND": str(PER_SECOND),
            "SFGR_GETRESPONSE_CONCURRENCY": str(CONCURRENCY),
        },
    )
    try:
        limits = {"rate_per_second": PER_SECOND, "max_concurrent": CONCURRENCY}
        httpx.post(f"{stack.info['getresponse'].removesuffix('/v3')}/_sim/config", json=limits).raise_for_status()
        for role in consumer_roles():
            stack.start(f"consumer-{role}-2", python_module("app", "consume", role), ready_file=True)
        stack.start("poller-2", python_module("app", "poll"))  # a hot standby while the first holds its lock
        yield stack
    finally:
        down(state_dir)


def test_replicas_of_every_role_meet_a_burst_without_a_single_429(replicas: Stack) -> None:
    e2e = Harness(replicas)
    try:
        first_call = e2e.last_seq("getresponse")
        emails = [f"budget.{i}.{time.time_ns()}@example.com" for i in range(PEOPLE)]

        began = time.monotonic()
        lead_ids = asyncio.run(_create_leads(e2e, emails))
        contacts = _wait_for(e2e, lambda c: c["email"] in set(emails), PEOPLE, "people on the list")
        created_s = time.monotonic() - began

        began = time.monotonic()
        asyncio.run(_edit_leads(e2e, lead_ids))
        phones = {f"+4860010{i:04d}" for i in range(PEOPLE)}
        wanted_ids = {c["contactId"] for c in contacts}
        _wait_for(
            e2e,
            lambda c: c["contactId"] in wanted_ids and e2e.custom(c, PHONE_FIELD) in phones,
            PEOPLE,
            "edited phones on the list",
        )
        edited_s = time.monotonic() - began

        calls = e2e.gr.get("/_sim/calls", params={"since": first_call}).json()
        throttled = [c for c in calls if c["status"] == 429]
        print(
            f"\n{PEOPLE} creates on the list in {created_s:.1f} s, {PEOPLE} edits in {edited_s:.1f} s; "
            f"{len(calls)} GetResponse calls, {len(throttled)} answered 429, "
            f"busiest second {_busiest_second(calls)} calls, most at once {_most_at_once(calls)}"
        )
        assert throttled == []
    finally:
        e2e.close()


async def _create_leads(e2e: Harness, emails: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=e2e.stack.info["salesforce"], timeout=30) as sf:

        async def create(i: int, email: str) -> str:
            body = {"FirstName": "Budget", "LastName": f"Person{i}", "Email": email, "Company": "Acme"}
            response = await sf.post("/_sim/records/Lead", json=body)
            response.raise_for_status()
            lead_id: str = response.json()["id"]
            return lead_id

        return list(await asyncio.gather(*(create(i, email) for i, email in enumerate(emails))))


async def _edit_leads(e2e: Harness, lead_ids: list[str]) -> None:
    async with httpx.AsyncClient(base_url=e2e.stack.info["salesforce"], timeout=30) as sf:

        async def edit(i: int, lead_id: str) -> None:
            response = await sf.patch(f"/_sim/records/Lead/{lead_id}", json={"Phone": f"+48 600 10{i:04d}"})
            response.raise_for_status()

        await asyncio.gather(*(edit(i, lead_id) for i, lead_id in enumerate(lead_ids)))


def _wait_for(e2e: Harness, wanted: Any, count: int, what: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WITHIN_S
    params = {"campaignId": e2e.list_id, "state": "active"}
    while True:
        found = [c for c in e2e.gr.get("/_sim/contacts", params=params).json() if wanted(c)]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {len(found)} of {count} within {WITHIN_S:g} s")
        time.sleep(0.2)


def _busiest_second(calls: list[dict[str, Any]]) -> int:
    from datetime import datetime

    times = sorted(datetime.fromisoformat(c["time"]).timestamp() for c in calls)
    best, left = 0, 0
    for right, at in enumerate(times):
        while at - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


def _most_at_once(calls: list[dict[str, Any]]) -> int:
    from datetime import datetime

    events: list[tuple[float, int]] = []
    for c in calls:
        end = datetime.fromisoformat(c["time"]).timestamp()
        events += [(end - c["duration_ms"] / 1000, 1), (end, -1)]
    most = now = 0
    for _, step in sorted(events):
        now += step
        most = max(most, now)
    return most
