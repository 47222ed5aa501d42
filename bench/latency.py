"""1. Propagation latency: the product's promise is that a change arrives within a second or two.

One person at a time, four paths in turn: a Lead created in Salesforce, then edited there (Phone),
reaching GetResponse; a custom field edited in GetResponse (its webhook) and the contact's name
edited there (no webhook: the poller finds it), reaching Salesforce. Then the Pub/Sub path: a
subscriber (`sfgr subscribe`) is started against the simulator's Pub/Sub API, Outbound Messages
and the CometD relay are switched off, and a Lead created and edited (Phone) in Salesforce reaches
GetResponse through the subscriber alone. Each sample runs from just
before the control-API call that makes the change to the moment the value is visible through the
other simulator's control API, polled every 10 ms; the stack settles between samples so that no
sample waits behind another's echoes. The first person is a warm-up and is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.report import figures, fmt, note, percentile, rounded, table, title
from bench.world import Timeout, World, unique_tag, until
from devstack.defaults import COMPANY_FIELD, PHONE_FIELD
from devstack.stack import start_subscriber

PATHS = (
    ("sf_create", "Salesforce Lead create -> GetResponse"),
    ("sf_edit", "Salesforce Lead edit (Phone) -> GetResponse"),
    ("gr_webhook", "GetResponse custom field (webhook) -> Salesforce"),
    ("gr_poller", "GetResponse name (poller) -> Salesforce"),
)
PUBSUB_PATHS = (
    ("pubsub_create", "Salesforce Lead create (Pub/Sub subscriber) -> GetResponse"),
    ("pubsub_edit", "Salesforce Lead edit (Phone, Pub/Sub subscriber) -> GetResponse"),
)
POLL_S = 0.01
WITHIN_S = 10.0
SETTLE_S = 0.5


def run(world: World, *, quick: bool) -> None:
    people = 5 if quick else 20
    title(f"1. Propagation latency ({people} people x 6 paths, one change at a time)")
    samples: dict[str, list[float]] = {key: [] for key, _ in (*PATHS, *PUBSUB_PATHS)}
    missed: dict[str, int] = dict.fromkeys(samples, 0)
    tag = unique_tag()
    started = time.monotonic()
    for i in range(people + 1):
        taken = _one_person(world, f"lat{tag}.{i}@example.com", i)
        if i == 0:
            continue  # warm-up: first connections, first statements prepared
        _count(taken, samples, missed)
    with _pubsub_only(world):
        for i in range(people + 1):
            taken = _one_pubsub_person(world, f"latps{tag}.{i}@example.com", i)
            if i:
                _count(taken, samples, missed)
    rows = []
    for key, label in (*PATHS, *PUBSUB_PATHS):
        values = samples[key]
        rows.append(
            [
                label,
                fmt(len(values)),
                *(fmt(percentile(values, p)) for p in (50, 90, 99)),
                fmt(max(values) if values else None),
                fmt(missed[key]),
            ]
        )
    print(table(["path (ms, control-API call -> visible)", "n", "p50", "p90", "p99", "max", "missed"], rows))
    delay = world.gr.get("/_sim/config").json().get("create_delay_ms")
    poll = world.env.get("SFGR_POLL_INTERVAL_S", "2.0 (default)")
    note(
        f"a GetResponse create stays invisible for {delay} ms in the simulator, as the vendor's are "
        f"queued; the poller searches every {poll} s (the dev stack's SFGR_POLL_INTERVAL_S)"
    )
    note(
        f"polled every {POLL_S * 1000:.0f} ms; 'missed' = not visible within {WITHIN_S:g} s; "
        f"p99 of {people} samples is close to the max; {time.monotonic() - started:.0f} s"
    )
    figures(
        "latency",
        samples=people,
        paths={
            key: {
                "p50_ms": rounded(percentile(samples[key], 50), 1),
                "p90_ms": rounded(percentile(samples[key], 90), 1),
                "p99_ms": rounded(percentile(samples[key], 99), 1),
                "max_ms": rounded(max(samples[key]) if samples[key] else None, 1),
                "missed": missed[key],
            }
            for key, _ in (*PATHS, *PUBSUB_PATHS)
        },
    )


def _count(taken: dict[str, float | None], samples: dict[str, list[float]], missed: dict[str, int]) -> None:
    for key, seconds in taken.items():
        if seconds is None:
            missed[key] += 1
        else:
            samples[key].append(seconds * 1000)


@contextmanager
def _pubsub_only(world: World) -> Iterator[None]:
    """A subscriber running, and no other way for Salesforce changes to reach the api."""
    config = world.sf.get("/_sim/config").json()
    start_subscriber(world.stack)
    world.sf.post("/_sim/config", json={"outbound_url": None, "cdc_url": None}).raise_for_status()
    try:
        yield
    finally:
        restore = {"outbound_url": config["outbound_url"], "cdc_url": config["cdc_url"]}
        world.sf.post("/_sim/config", json=restore).raise_for_status()
        world.stack.stop("subscriber")


def _one_pubsub_person(world: World, email: str, i: int) -> dict[str, float | None]:
    taken: dict[str, float | None] = dict.fromkeys(key for key, _ in PUBSUB_PATHS)
    lead_id = ""
    contact_id = ""

    def create() -> None:
        nonlocal lead_id, contact_id
        lead_id = world.sf_create("Lead", FirstName="Sub", LastName=f"Person{i}", Email=email, Company="Acme")
        contact = until(lambda: world.gr_active(email), within=WITHIN_S, interval=POLL_S, what="create")
        contact_id = contact["contactId"]

    taken["pubsub_create"] = _timed(world, create)
    if not contact_id:
        return taken
    phone = f"+1 212 555 02{i % 100:02d}"

    def edit() -> None:
        world.sf_update(lead_id, Phone=phone)
        until(
            lambda: world.custom(world.gr_get(contact_id), PHONE_FIELD) == phone.replace(" ", ""),
            within=WITHIN_S,
            interval=POLL_S,
            what="phone in GetResponse",
        )

    taken["pubsub_edit"] = _timed(world, edit)
    return taken


def _one_person(world: World, email: str, i: int) -> dict[str, float | None]:
    taken: dict[str, float | None] = dict.fromkeys(key for key, _ in PATHS)
    lead_id = ""
    contact_id = ""

    def create() -> None:
        nonlocal lead_id, contact_id
        lead_id = world.sf_create("Lead", FirstName="Lat", LastName=f"Person{i}", Email=email, Company="Acme")
        contact = until(lambda: world.gr_active(email), within=WITHIN_S, interval=POLL_S, what="create")
        contact_id = contact["contactId"]

    taken["sf_create"] = _timed(world, create)
    if not contact_id:
        return taken
    phone = f"+1 212 555 01{i % 100:02d}"
    expected_phone = phone.replace(" ", "")

    def sf_edit() -> None:
        world.sf_update(lead_id, Phone=phone)
        until(
            lambda: world.custom(world.gr_get(contact_id), PHONE_FIELD) == expected_phone,
            within=WITHIN_S,
            interval=POLL_S,
            what="phone in GetResponse",
        )

    company = f"Edited in GetResponse {i}"

    def gr_webhook() -> None:
        world.gr_edit(contact_id, **{COMPANY_FIELD: company})
        until(
            lambda: world.sf_get(lead_id)["Company"] == company,
            within=WITHIN_S,
            interval=POLL_S,
            what="company in Salesforce",
        )

    first, last = f"Renamed{i}", f"Person{i}"

    def gr_poller() -> None:
        world.gr_edit(contact_id, name=f"{first} {last}")

        def arrived() -> bool:
            lead = world.sf_get(lead_id)
            return bool(lead["FirstName"] == first and lead["LastName"] == last)

        until(arrived, within=WITHIN_S, interval=POLL_S, what="name in Salesforce")

    taken["sf_edit"] = _timed(world, sf_edit)
    taken["gr_webhook"] = _timed(world, gr_webhook)
    taken["gr_poller"] = _timed(world, gr_poller)
    return taken


def _timed(world: World, change: Callable[[], None]) -> float | None:
    """Seconds from the change to its arrival (None if it never arrived); then let the stack settle."""
    started = time.perf_counter()
    try:
        change()
        seconds: float | None = time.perf_counter() - started
    except Timeout:
        seconds = None
    world.wait_quiet(settle=SETTLE_S)
    return seconds
