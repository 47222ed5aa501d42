"""5. Faults: what one failing person costs everyone else, how long a long GetResponse outage
takes to drain, and what replicas of every consumer role meet under a burst.

a) Live propagation of a Salesforce edit (Phone) to GetResponse, one person at a time: first with
   no fault, then while one other person's GetResponse writes fail all along (their change waits
   on the retry topic meanwhile). Both measured in the same run, so the ratio is the cost.
b) Every GetResponse write answers 503 for the outage (3 minutes; 30 s with --quick) while people
   are edited in Salesforce every few seconds; then the time from GetResponse answering again to
   the last value arriving, the failed calls meanwhile (the circuit breaker keeps them few) and the
   dead letters (none are expected: the retry budget is a day).
c) A second replica of each consumer role and of the poller, then a burst of Leads: the calls
   GetResponse answered 429 (the account's budget is shared through Postgres, so none expected).

The stack runs on its production retry settings (1 s backoff doubling to 10 min, breaker probes
every 5 s doubling to 30 s): the drain time is what an operator would see.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bench import burst
from bench.report import figures, fmt, note, percentile, rounded, table, title
from bench.world import Timeout, World, unique_tag, until
from devstack.defaults import COMPANY_FIELD, PHONE_FIELD
from devstack.stack import consumer_roles, python_module

WITHIN_S = 30.0
POLL_S = 0.01
SETTLE_S = 0.3


def run(world: World, *, quick: bool) -> None:
    title("5. Faults: one failing person, a long write outage, replicas under a burst")
    found: dict[str, object] = {}
    found["one_failing_person"] = _one_failing_person(world, samples=10 if quick else 40)
    found["write_outage"] = _write_outage(world, outage_s=30.0 if quick else 180.0, people=5 if quick else 10)
    found["replicas_burst"] = _replicas_under_a_burst(world, size=100 if quick else 300)
    figures("faults", **found)


def _linked(world: World, count: int, tag: str) -> list[tuple[str, str, str]]:
    """(email, lead id, contact id) of people on both sides."""
    people = []
    for i in range(count):
        email = f"fault{tag}.{i}@example.com"
        lead_id = world.sf_create(
            "Lead", FirstName="Fault", LastName=f"Person{i}", Email=email, Company="Acme"
        )
        people.append((email, lead_id))
    linked = []
    for email, lead_id in people:
        contact = until(
            lambda email=email: world.gr_active(email), within=WITHIN_S, interval=0.05, what=email
        )
        linked.append((email, lead_id, contact["contactId"]))
    world.wait_quiet(settle=1.0, within=60)
    return linked


def _edit_latencies(world: World, people: list[tuple[str, str, str]], samples: int, tag: str) -> list[float]:
    taken = []
    for n in range(samples):
        email, lead_id, contact_id = people[n % len(people)]
        phone = f"+48 600 {n % 1000:03d} {int(tag[:3], 16) % 1000:03d}"
        wanted = phone.replace(" ", "")
        began = time.perf_counter()
        world.sf_update(lead_id, Phone=phone)
        until(lambda cid=contact_id, w=wanted: world.custom(world.gr_get(cid), PHONE_FIELD) == w,
              within=WITHIN_S, interval=POLL_S, what=f"{email} phone")
        taken.append((time.perf_counter() - began) * 1000)
        time.sleep(SETTLE_S)
    return taken


def _one_failing_person(world: World, *, samples: int) -> dict[str, float | None]:
    tag = unique_tag()
    (stuck, *others) = _linked(world, 5, tag)
    calm = _edit_latencies(world, others, samples, tag)
    world.gr.post("/_sim/faults", json={"error_rate": 1.0, "error_statuses": [503], "methods": ["POST"],
                                        "path_prefix": f"/v3/contacts/{stuck[2]}"}).raise_for_status()
    try:
        world.sf_update(stuck[1], Company="Stuck for a while")
        troubled = _edit_latencies(world, others, samples, unique_tag())
    finally:
        world.gr.post("/_sim/faults", json={}).raise_for_status()
    began = time.perf_counter()
    until(lambda: world.custom(world.gr_get(stuck[2]), COMPANY_FIELD) == "Stuck for a while",
          within=700, interval=0.1, what="the stuck change")
    stuck_s = time.perf_counter() - began
    rows = [
        [label, fmt(len(v)), *(fmt(percentile(v, p)) for p in (50, 99)), fmt(max(v))]
        for label, v in (("no fault", calm), ("one other person failing", troubled))
    ]
    print(table(["Salesforce edit -> GetResponse (ms)", "n", "p50", "p99", "max"], rows))
    note(f"p50 ratio {percentile(troubled, 50) / percentile(calm, 50):.2f}, "
         f"p99 ratio {percentile(troubled, 99) / percentile(calm, 99):.2f} (failing / no fault)")
    note(f"the failing person's change arrived {stuck_s:.1f} s after the fault was cleared "
         "(its retry's backoff, at most SFGR_RETRY_MAX_DELAY_S)")
    return {
        "p50_ms": rounded(percentile(calm, 50), 1),
        "p99_ms": rounded(percentile(calm, 99), 1),
        "p50_ms_failing": rounded(percentile(troubled, 50), 1),
        "p99_ms_failing": rounded(percentile(troubled, 99), 1),
        "stuck_arrived_s": rounded(stuck_s, 1),
    }


def _write_outage(world: World, *, outage_s: float, people: int) -> dict[str, float | int | None]:
    tag = unique_tag()
    linked = _linked(world, people, tag)
    since = datetime.now(UTC)
    mark = world.mark()
    world.gr.post("/_sim/faults", json={"error_rate": 1.0, "error_statuses": [503],
                                        "methods": ["POST", "DELETE"]}).raise_for_status()
    ends = time.monotonic() + outage_s
    rounds = 0
    try:
        while time.monotonic() < ends - 1:
            for i, (_, lead_id, _) in enumerate(linked):
                world.sf_update(lead_id, Company=f"Outage {rounds} {i}")
            rounds += 1
            time.sleep(min(5.0, max(0.0, ends - time.monotonic())))
        time.sleep(max(0.0, ends - time.monotonic()))
    finally:
        world.gr.post("/_sim/faults", json={}).raise_for_status()
    recovered = time.perf_counter()
    last = rounds - 1
    for i, (email, _, contact_id) in enumerate(linked):
        wanted = f"Outage {last} {i}"
        until(lambda cid=contact_id, w=wanted: world.custom(world.gr_get(cid), COMPANY_FIELD) == w,
              within=900, interval=0.1, what=f"{email} after the outage")
    drained = time.perf_counter() - recovered
    failed = sum(1 for c in world.calls_since(mark)["getresponse"] if c["status"] >= 500)
    letters = world.sql("SELECT count(*) FROM dead_letters WHERE created_at >= $1", since)[0][0]
    print(table(
        ["GetResponse refused every write", "outage", "edits", "failed calls", "drained after",
         "dead letters"],
        [["", f"{outage_s:.0f} s", fmt(rounds * people), fmt(failed), f"{drained:.1f} s", fmt(int(letters))]],
    ))
    note(f"{failed / outage_s:.1f} failed calls/s during the outage: the writes' circuit breaker probes "
         "instead of letting every retry through")
    return {"outage_s": outage_s, "failed_calls": failed, "drained_s": rounded(drained, 1),
            "dead_letters": int(letters)}


def _replicas_under_a_burst(world: World, *, size: int) -> dict[str, float | int | None]:
    stack = world.stack
    added = [f"consumer-{role}-2" for role in consumer_roles()] + ["poller-2"]
    for role in consumer_roles():
        stack.start(f"consumer-{role}-2", python_module("app", "consume", role), ready_file=True)
    stack.start("poller-2", python_module("app", "poll"))
    try:
        tag = unique_tag()
        emails = [f"replica{tag}.{i}@example.com" for i in range(size)]
        mark = world.mark()
        try:
            created, arrived, _ = asyncio.run(burst._burst(world, emails))
        except Timeout as exc:
            note(f"burst with replicas did not finish: {exc}")
            return {"leads": size, "finished": False}
        world.wait_quiet(settle=1.5, within=120)
        counts = world.count_since(mark)
        gr = counts["getresponse"]
        took = max(arrived.values()) - min(created.values())
        print(table(
            ["two replicas of every role + a second poller", "people", "time", "people/s",
             "GetResponse calls", "answered 429"],
            [["burst of Leads", fmt(size), f"{took:.1f} s", fmt(size / took, 1), fmt(gr.counted),
              fmt(gr.throttled)]],
        ))
        return {"leads": size, "total_s": rounded(took), "people_per_s": rounded(size / took, 1),
                "gr_calls": gr.counted, "gr_429": gr.throttled}
    finally:
        for name in added:
            stack.stop(name)
