"""2. Vendor calls per change: what each propagated change costs in API allowance, and whether
anything loops.

A batch of changes of one kind is made in quick succession; once every value has arrived and the
stack has settled, the vendor-API calls each simulator received meanwhile are counted from its
`/_sim/calls` log (reads = GET, writes = POST/PATCH/DELETE), leaving out the poller's periodic
`changedOn` search and OAuth token calls. Echoes of our own writes are included: they are part of
what a change costs. Then nothing is changed for 5 s, and every call in that window is counted:
only the poller's search should be there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.report import figures, fmt, note, table, title
from bench.world import CallCount, Mark, World, unique_tag, until
from devstack.defaults import COMPANY_FIELD, PHONE_FIELD

QUIET_S = 5.0
SETTLE_S = 1.5


def run(world: World, *, quick: bool) -> None:
    batch = 5 if quick else 20
    title(f"2. Vendor calls per propagated change (batches of {batch})")
    tag = unique_tag()
    emails = [f"calls{tag}.{i}@example.com" for i in range(batch)]
    rows: list[list[str]] = []
    per_change: dict[str, dict[str, float]] = {}
    started = time.monotonic()

    mark = world.mark()
    lead_ids = [
        world.sf_create("Lead", FirstName="Cost", LastName=f"Person{i}", Email=email, Company="Acme")
        for i, email in enumerate(emails)
    ]
    contact_ids: dict[str, str] = {}

    def on_list(i: int) -> bool:
        contact = world.gr_active(emails[i])
        if contact:
            contact_ids[emails[i]] = contact["contactId"]
        return contact is not None

    _all_arrive(batch, on_list, "contacts on the list")
    rows.append(
        _row(
            world,
            "Salesforce Lead create -> GetResponse",
            batch,
            mark,
            target="getresponse",
            into=per_change,
            key="sf_create",
        )
    )

    mark = world.mark()
    for i, lead_id in enumerate(lead_ids):
        world.sf_update(lead_id, Phone=f"+48 600 100 {i:03d}")
    _all_arrive(
        batch,
        lambda i: world.custom(world.gr_get(contact_ids[emails[i]]), PHONE_FIELD) == f"+48600100{i:03d}",
        "phones in GetResponse",
    )
    rows.append(
        _row(
            world,
            "Salesforce Lead edit (Phone) -> GetResponse",
            batch,
            mark,
            target="getresponse",
            into=per_change,
            key="sf_edit",
        )
    )

    mark = world.mark()
    for i, email in enumerate(emails):
        world.gr_edit(contact_ids[email], **{COMPANY_FIELD: f"Cost Co {i}"})
    _all_arrive(
        batch, lambda i: world.sf_get(lead_ids[i])["Company"] == f"Cost Co {i}", "companies in Salesforce"
    )
    rows.append(
        _row(
            world,
            "GetResponse custom field (webhook) -> Salesforce",
            batch,
            mark,
            target="salesforce",
            into=per_change,
            key="gr_webhook",
        )
    )

    mark = world.mark()
    for i, email in enumerate(emails):
        world.gr_edit(contact_ids[email], name=f"Renamed{i} Person{i}")
    _all_arrive(
        batch, lambda i: world.sf_get(lead_ids[i])["FirstName"] == f"Renamed{i}", "names in Salesforce"
    )
    rows.append(
        _row(
            world,
            "GetResponse name (poller) -> Salesforce",
            batch,
            mark,
            target="salesforce",
            into=per_change,
            key="gr_poller",
        )
    )

    headers = ["change", "n", "SF reads", "SF writes", "GR reads", "GR writes", "calls", "target writes"]
    print(table(headers, rows))
    note("figures per propagated change; 'target writes' is the writes to the side the change went to")
    note(
        "expected: 1 target write per change (creates made together go in batches: fewer), and no "
        "write back to the side it came from"
    )

    mark = world.mark()
    time.sleep(QUIET_S)
    quiet = world.count_since(mark)
    sf, gr = quiet["salesforce"], quiet["getresponse"]
    print(
        table(
            [f"quiet period ({QUIET_S:g} s, no change made)", "SF", "GR"],
            [
                ["reads + writes (expected 0)", fmt(sf.counted), fmt(gr.counted)],
                ["the poller's changedOn search (not counted)", fmt(sf.polls), fmt(gr.polls)],
                ["OAuth token calls (not counted)", fmt(sf.oauth), fmt(gr.oauth)],
            ],
        )
    )
    note(f"{time.monotonic() - started:.0f} s")
    figures("calls", batch=batch, per_change=per_change, quiet_calls={"sf": sf.counted, "gr": gr.counted})


def _all_arrive(count: int, arrived: Callable[[int], bool], what: str) -> None:
    """Until `arrived(i)` for every i, then until the stack settles."""
    remaining = set(range(count))

    def done() -> bool:
        for i in sorted(remaining):
            if arrived(i):
                remaining.discard(i)
        return not remaining

    until(done, within=60, interval=0.05, what=what)


def _row(
    world: World,
    label: str,
    changes: int,
    mark: Mark,
    *,
    target: str,
    into: dict[str, dict[str, float]],
    key: str,
) -> list[str]:
    world.wait_quiet(settle=SETTLE_S)
    counts = world.count_since(mark)
    sf, gr = counts["salesforce"], counts["getresponse"]
    target_count: CallCount = counts[target]
    into[key] = {
        name: round(n / changes, 3)
        for name, n in (
            ("sf_reads", sf.reads),
            ("sf_writes", sf.writes),
            ("gr_reads", gr.reads),
            ("gr_writes", gr.writes),
            ("gr_calls", gr.counted),
            ("target_writes", target_count.writes),
        )
    }

    def per(n: int) -> str:
        return fmt(n / changes, 2)

    return [
        label,
        fmt(changes),
        per(sf.reads),
        per(sf.writes),
        per(gr.reads),
        per(gr.writes),
        per(sf.counted + gr.counted),
        per(target_count.writes),
    ]
