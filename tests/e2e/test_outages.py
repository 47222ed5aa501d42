"""Vendors failing for longer than a few retries, end to end: one person failing never slows
anyone else, an account failing for everyone (GetResponse 5xx, Salesforce's spent allocation)
loses nothing once it answers again, and a retrier killed with retries in hand leaves them for its
successor. The waits are scaled (tests/e2e/conftest.py, SCALED_WAITS): retries back off up to 2 s
here, as they would up to 10 minutes in production, and the outages last many rounds of them.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

import pytest

from devstack.defaults import COMPANY_FIELD
from tests.e2e.harness import Harness, unique_email

OUTAGE_S = 15.0  # many rounds of the scaled backoff; longer than a count of tries would allow


def _linked_leads(e2e: Harness, count: int, tag: str) -> list[tuple[str, str, str]]:
    """(email, lead id, contact id) of people on both sides."""
    people = []
    for i in range(count):
        email = unique_email(f"{tag}{i}")
        people.append((email, e2e.sf_create("Lead", FirstName="Out", LastName=f"Age{i}", Email=email,
                                            Company=f"{tag} start {i}")))
    e2e.wait_quiet()
    return [(email, lead_id, (e2e.gr_active(email) or {})["contactId"]) for email, lead_id in people]


def _gr_company(e2e: Harness, email: str) -> str | None:
    contact = e2e.gr_active(email)
    return e2e.custom(contact, COMPANY_FIELD) if contact else None


def _dead_letters_since(e2e: Harness, since: datetime) -> list[str]:
    return [row["reason"] for row in e2e.query("SELECT reason FROM dead_letters WHERE created_at >= $1", since)]


def _assert_one_each(e2e: Harness, email: str) -> None:
    assert len([c for c in e2e.gr_contacts(email) if c["state"] == "active"]) == 1
    assert len(e2e.sf_by_email(email)) == 1


@pytest.mark.serial  # measures others' latency: alone on the machine
def test_one_person_s_failing_writes_never_delay_anyone_else(e2e: Harness) -> None:
    started = datetime.now(UTC)
    (stuck, *others) = _linked_leads(e2e, 5, "stuck")
    e2e.faults("getresponse", error_rate=1.0, error_statuses=[503], methods=["POST"],
               path_prefix=f"/v3/contacts/{stuck[2]}")
    e2e.sf_update(stuck[1], Company="Stuck for a while")
    latencies: list[float] = []
    deadline = time.monotonic() + OUTAGE_S
    round_ = 0
    while time.monotonic() < deadline:
        for email, lead_id, _ in others:
            value = f"Moving {round_}"
            e2e.sf_update(lead_id, Company=value)
            _, took = e2e.until(lambda email=email, value=value: _gr_company(e2e, email) == value, within=10,
                                what=f"{email} arrives")
            latencies.append(took)
        round_ += 1
    still_failing = [c for c in e2e.calls("getresponse") if c["status"] == 503]
    assert len(still_failing) >= 6, "the stuck person's writes did not keep failing"
    e2e.clear_faults()
    _, drained = e2e.until(lambda: _gr_company(e2e, stuck[0]) == "Stuck for a while", within=15,
                           what="the stuck change arrives")

    ordered = sorted(latencies)
    print(f"\nothers' latency while one person failed for {OUTAGE_S:.0f} s: n={len(ordered)} "
          f"p50={statistics.median(ordered):.2f} s p99={ordered[int(len(ordered) * 0.99) - 1]:.2f} s "
          f"max={ordered[-1]:.2f} s; the stuck change arrived {drained:.2f} s after recovery")
    assert ordered[-1] <= 2.0, ordered[-5:]
    assert _dead_letters_since(e2e, started) == []


def test_getresponse_failing_every_write_for_many_retry_rounds_loses_nothing(e2e: Harness) -> None:
    started = datetime.now(UTC)
    leads = _linked_leads(e2e, 4, "down")
    signups = [unique_email(f"downgr{i}") for i in range(2)]
    contact_ids = [e2e.gr_subscribe(email, f"Sign Up{i}", **{COMPANY_FIELD: f"GR start {i}"})
                   for i, email in enumerate(signups)]
    e2e.wait_quiet()
    e2e.faults("getresponse", error_rate=1.0, error_statuses=[500, 502, 503], methods=["POST", "DELETE"])
    outage_ends = time.monotonic() + OUTAGE_S
    round_ = 0
    while time.monotonic() < outage_ends - 2:
        for i, (_, lead_id, _) in enumerate(leads):
            e2e.sf_update(lead_id, Company=f"During {round_} {i}")
        for i, contact_id in enumerate(contact_ids):
            e2e.gr_edit(contact_id, **{COMPANY_FIELD: f"GR during {round_} {i}"})
        round_ += 1
        time.sleep(2.5)
    last = round_ - 1
    time.sleep(max(0.0, outage_ends - time.monotonic()))
    failed = [c for c in e2e.calls("getresponse") if c["status"] >= 500]
    e2e.clear_faults()
    recovered = time.monotonic()

    for i, (email, _, _) in enumerate(leads):
        e2e.until(lambda email=email, i=i: _gr_company(e2e, email) == f"During {last} {i}", within=30,
                  what=f"{email} on GetResponse")
    for i, email in enumerate(signups):
        e2e.until(lambda email=email, i=i: [r["Company"] for r in e2e.sf_by_email(email)] == [f"GR during {last} {i}"],
                  within=30, what=f"{email} in Salesforce")
    drained = time.monotonic() - recovered
    print(f"\nGetResponse refused every write for {OUTAGE_S:.0f} s ({len(failed)} failed calls); "
          f"everything arrived {drained:.2f} s after it answered again")
    e2e.wait_quiet()
    for email, *_ in leads:
        _assert_one_each(e2e, email)
    for email in signups:
        _assert_one_each(e2e, email)
    assert _dead_letters_since(e2e, started) == []


def test_salesforce_s_spent_api_allocation_holds_changes_until_it_frees_up(e2e: Harness) -> None:
    started = datetime.now(UTC)
    signups = [unique_email(f"quota{i}") for i in range(3)]
    contact_ids = [e2e.gr_subscribe(email, f"Quo Ta{i}", **{COMPANY_FIELD: f"Q start {i}"})
                   for i, email in enumerate(signups)]
    e2e.wait_quiet()
    used = e2e.sf.get("/_sim/quota").json()["used"]
    limit = e2e.sf.get("/_sim/config").json()["api_quota"]
    e2e.sf.post("/_sim/config", json={"api_quota": used})  # spent: 403 REQUEST_LIMIT_EXCEEDED
    try:
        for i, contact_id in enumerate(contact_ids):
            e2e.gr_edit(contact_id, **{COMPANY_FIELD: f"Q spent {i}"})
        e2e.until(lambda: any(c["status"] == 403 for c in e2e.calls("salesforce")), within=10,
                  what="a refused call")
        time.sleep(OUTAGE_S / 2)
        assert [r["Company"] for r in e2e.sf_by_email(signups[0])] == ["Q start 0"]
    finally:
        e2e.sf.post("/_sim/config", json={"api_quota": limit})
    freed = time.monotonic()
    for i, email in enumerate(signups):
        e2e.until(lambda email=email, i=i: [r["Company"] for r in e2e.sf_by_email(email)] == [f"Q spent {i}"],
                  within=20, what=f"{email} in Salesforce")
    print(f"\nSalesforce's allocation was spent for {OUTAGE_S / 2:.1f} s; "
          f"the held changes arrived {time.monotonic() - freed:.2f} s after it freed up")
    assert _dead_letters_since(e2e, started) == []


def test_a_retrier_killed_with_retries_in_hand_leaves_them_to_its_successor(e2e: Harness) -> None:
    started = datetime.now(UTC)
    people = _linked_leads(e2e, 3, "killret")
    e2e.faults("getresponse", error_rate=1.0, error_statuses=[503], methods=["POST"], path_prefix="/v3/contacts/")
    for i, (_, lead_id, _) in enumerate(people):
        e2e.sf_update(lead_id, Company=f"In hand {i}")
    # Each has failed in place and gone round the retry topic at least once.
    e2e.until(lambda: len([c for c in e2e.calls("getresponse") if c["status"] == 503]) >= 3 * len(people) + 3,
              within=15, what="retries under way")
    e2e.stack.kill("consumer-salesforce-to-getresponse")
    e2e.clear_faults()
    e2e.stack.restart("consumer-salesforce-to-getresponse", ready_file=True)
    for i, (email, _, _) in enumerate(people):
        e2e.until(lambda email=email, i=i: _gr_company(e2e, email) == f"In hand {i}", within=20,
                  what=f"{email} arrives")
    e2e.wait_quiet()
    for email, *_ in people:
        _assert_one_each(e2e, email)
    assert _dead_letters_since(e2e, started) == []
