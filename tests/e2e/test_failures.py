"""What goes wrong in production, end to end: duplicated, reordered and delayed deliveries, vendors
failing transiently and throttling, a consumer killed mid-stream (issue: consumers, 5 to 7)."""

from __future__ import annotations

import time

from devstack.defaults import COMPANY_FIELD, PHONE_FIELD
from tests.e2e.harness import Harness, unique_email


def _people(e2e: Harness, count: int, tag: str) -> list[tuple[str, str]]:
    people = []
    for i in range(count):
        email = unique_email(f"{tag}{i}")
        people.append((email, e2e.sf_create("Lead", FirstName="Per", LastName=f"Son{i}", Email=email,
                                            Company=f"Start {i}")))
    return people


def _assert_converged(e2e: Harness, email: str, lead_id: str, company: str, phone: str | None = None) -> None:
    lead = e2e.sf_get(lead_id)
    contacts = [c for c in e2e.gr_contacts(email) if c["state"] == "active"]
    assert len(contacts) == 1, contacts
    assert lead["Company"] == company == e2e.custom(contacts[0], COMPANY_FIELD)
    if phone is not None:
        assert e2e.custom(contacts[0], PHONE_FIELD) == phone
    assert len(e2e.sf_by_email(email)) == 1


def test_duplicated_reordered_and_delayed_deliveries_give_the_same_final_state(e2e: Harness) -> None:
    chaos = {"delivery_duplicate_rate": 0.5, "delivery_reorder_rate": 0.3, "delivery_reorder_delay_ms": 400,
             "delivery_delay_ms": 50}
    e2e.faults("salesforce", **chaos)
    e2e.faults("getresponse", **chaos)
    people = _people(e2e, 4, "chaos")
    e2e.wait_quiet()
    contact_ids = {email: (e2e.gr_active(email) or {})["contactId"] for email, _ in people}
    for i, (email, lead_id) in enumerate(people):
        e2e.gr_edit(contact_ids[email], **{COMPANY_FIELD: f"GetResponse {i}"})
        e2e.sf_update(lead_id, Phone=f"+1 646 555 01{i:02d}")
    time.sleep(1.5)  # later than the skew: the next edits are the later writes
    for i, (_, lead_id) in enumerate(people):
        e2e.sf_update(lead_id, Company=f"Final {i}")
    e2e.wait_quiet(within=90)
    for i, (email, lead_id) in enumerate(people):
        _assert_converged(e2e, email, lead_id, f"Final {i}", f"+164655501{i:02d}")
    deliveries = e2e.sf.get("/_sim/deliveries").json() + e2e.gr.get("/_sim/deliveries").json()
    assert any(d["duplicate"] for d in deliveries), "the fault injection produced no duplicate"


def test_transient_vendor_failures_and_throttling_lose_nothing(e2e: Harness) -> None:
    e2e.faults("salesforce", error_rate=0.2, error_statuses=[500, 503])
    e2e.faults("getresponse", error_rate=0.2, error_statuses=[500, 503, 429])
    people = _people(e2e, 5, "flaky")
    signups = [unique_email(f"signup{i}") for i in range(3)]
    for i, email in enumerate(signups):
        e2e.gr_subscribe(email, f"Sign Up{i}", **{COMPANY_FIELD: f"Signup Co {i}"})
    e2e.until(lambda: all(e2e.gr_active(email) for email, _ in people), within=60, what="all on the list")
    for i, (_, lead_id) in enumerate(people):
        e2e.sf_update(lead_id, Company=f"After faults {i}")
    e2e.wait_quiet(within=120)
    e2e.clear_faults()
    e2e.wait_quiet(within=60)
    for i, (email, lead_id) in enumerate(people):
        _assert_converged(e2e, email, lead_id, f"After faults {i}")
    for i, email in enumerate(signups):
        (lead,) = e2e.sf_by_email(email)
        assert lead["Company"] == f"Signup Co {i}"
    injected = [c for c in e2e.gr.get("/_sim/calls").json() if c["status"] in (429, 500, 503)]
    assert injected, "no failure was injected"


def test_a_consumer_killed_mid_stream_converges_without_duplicates(e2e: Harness) -> None:
    emails = [unique_email(f"kill{i}") for i in range(12)]
    lead_ids = [
        e2e.sf_create("Lead", FirstName="Kay", LastName=f"Ill{i}", Email=email, Company=f"K{i}")
        for i, email in enumerate(emails)
    ]
    signups = [unique_email(f"killgr{i}") for i in range(6)]
    for i, email in enumerate(signups):
        e2e.gr_subscribe(email, f"Gee Arr{i}", **{COMPANY_FIELD: f"G{i}"})
    time.sleep(0.3)  # mid-stream
    e2e.stack.kill("consumer-salesforce-to-getresponse")
    e2e.stack.kill("consumer-getresponse-to-salesforce")
    e2e.stack.restart("consumer-salesforce-to-getresponse", ready_file=True)
    e2e.stack.restart("consumer-getresponse-to-salesforce", ready_file=True)
    e2e.wait_quiet(within=90)
    for i, (email, lead_id) in enumerate(zip(emails, lead_ids, strict=True)):
        _assert_converged(e2e, email, lead_id, f"K{i}")
    for i, email in enumerate(signups):
        records = e2e.sf_by_email(email)
        assert len(records) == 1, records
        assert records[0]["Company"] == f"G{i}"
