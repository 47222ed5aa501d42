"""First sync over a few thousand seeded people, end to end: dry run, run, person by person.

The people are seeded on the simulators' second list while nothing syncs it (deliveries off, the
stack's own sync paused), as a platform team would find them before switching the sync on.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from app.settings import Settings
from devstack.defaults import COMPANY_FIELD, DEMO_MAPPING, PHONE_FIELD
from tests.e2e.harness import IDLE_CONNECTIONS, Harness, issue_token

SECOND_LIST = "Gr7Sc"
MATCHED, SALESFORCE_ONLY, GETRESPONSE_ONLY = 1300, 350, 350
DUPLICATES, CONFLICTS, FILLS = 25, 120, 40


def _create_sync(e2e: Harness) -> str:
    async def run() -> str:
        engine = create_engine(Settings(database_url=e2e.stack.info["database_url"]))
        try:
            async with transaction(session_factory(engine)) as session:
                rows = await session.execute(
                    __import__("sqlalchemy").text(
                        "SELECT salesforce_connection_id, getresponse_connection_id FROM syncs LIMIT 1"
                    )
                )
                sf_id, gr_id = rows.one()
                sync_id = await insert_sync(
                    session, name="first sync e2e", salesforce_connection_id=sf_id,
                    getresponse_connection_id=gr_id, campaign_id=SECOND_LIST, salesforce_objects=["Lead"],
                    create_as="Lead", preferred_system="salesforce", mapping=DEMO_MAPPING,
                    lead_source="GetResponse", marker_field="GRdeleted__c", state="draft",
                    # Only the people seeded here: other tests leave Leads of their own in the org.
                    soql_filter="LeadSource = 'Purchased List'",
                )
        finally:
            await engine.dispose()
        return str(sync_id)

    return asyncio.run(run())


@pytest.fixture
def quiet_world(e2e: Harness) -> Iterator[Callable[[], None]]:
    """The stack's own sync paused while people are seeded with deliveries off; yields what turns
    the deliveries back on."""
    sf_config, gr_config = e2e.sf.get("/_sim/config").json(), e2e.gr.get("/_sim/config").json()
    e2e.query("UPDATE syncs SET state = 'cancelled' WHERE campaign_id = $1", e2e.list_id)

    def deliveries_on() -> None:
        e2e.sf.post("/_sim/config", json={"outbound_url": sf_config["outbound_url"], "cdc_url": sf_config["cdc_url"]})
        e2e.gr.post("/_sim/config", json={"webhook_url": gr_config["webhook_url"]})

    try:
        yield deliveries_on
    finally:
        deliveries_on()
        e2e.query("UPDATE syncs SET state = 'active' WHERE campaign_id = $1", e2e.list_id)


def _seed(e2e: Harness) -> dict[str, dict[str, Any]]:
    e2e.sf.post("/_sim/config", json={"outbound_url": None, "cdc_url": None})
    e2e.gr.post("/_sim/config", json={"webhook_url": None})
    rng = random.Random(7)
    tag = uuid.uuid4().hex[:6]
    people: dict[str, dict[str, Any]] = {}
    total = MATCHED + SALESFORCE_ONLY + GETRESPONSE_ONLY
    for i in range(total):
        email = f"fs{tag}.{i}@example.com"
        kind = "matched" if i < MATCHED else "salesforce_only" if i < MATCHED + SALESFORCE_ONLY else "getresponse_only"
        person: dict[str, Any] = {"kind": kind, "company": f"Company {i}", "phone": None}
        if kind != "getresponse_only":
            fields = {"FirstName": "First", "LastName": f"Last{i}", "Email": email.upper() if i % 7 == 0 else email,
                      "Company": person["company"], "LeadSource": "Purchased List"}
            if kind == "matched" and i >= CONFLICTS + FILLS and i % 3 == 0:
                fields["Phone"] = "+48 600 100 200"
                person["phone"] = "+48600100200"
            person["lead_id"] = e2e.sf_create("Lead", **fields)
        if kind != "salesforce_only":
            custom = {COMPANY_FIELD: person["company"]}
            if kind == "matched" and i < CONFLICTS:
                custom[COMPANY_FIELD] = f"Other {i}"  # a conflict: Salesforce, the preferred system, wins
            if kind == "matched" and CONFLICTS <= i < CONFLICTS + FILLS:
                custom[PHONE_FIELD] = "+14155550100"  # empty in Salesforce: filled from GetResponse
                person["phone"] = "+14155550100"
            response = e2e.gr.post("/_sim/contacts", json={
                "email": email, "name": f"First Last{i}", "campaignId": SECOND_LIST,
                "customFieldValues": [{"customFieldId": k, "value": [v]} for k, v in custom.items()],
            })
            assert response.status_code == 201, response.text
        people[email] = person
    for i in rng.sample(range(MATCHED), DUPLICATES):  # younger duplicates of matched people
        email = f"fs{tag}.{i}@example.com"
        people[email]["duplicate"] = e2e.sf_create(
            "Lead", FirstName="Dup", LastName=f"Licate{i}", Email=email, Company="Duplicate Co",
            LeadSource="Purchased List",
        )
    return people


def _follow(api: httpx.Client, location: str, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job: dict[str, Any] = api.get(location).json()
        if job["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        print(f"  first sync {job['state']}: {job['counts']}", flush=True)
        time.sleep(2)


def test_dry_run_then_first_sync_over_a_few_thousand_people(
    e2e: Harness, quiet_world: Callable[[], None]
) -> None:
    started = time.monotonic()
    people = _seed(e2e)
    seeded = time.monotonic() - started
    sync_id = _create_sync(e2e)
    token = issue_token(e2e.stack.info["database_url"], "syncs:admin")
    api = httpx.Client(base_url=e2e.stack.info["api"], headers={"Authorization": f"Bearer {token}"}, timeout=150,
                      limits=IDLE_CONNECTIONS)

    writes_before = (len(e2e.writes("salesforce")), len(e2e.writes("getresponse")))
    dry = api.post(f"/v1/syncs/{sync_id}/first-sync", params={"dry_run": "true", "wait": 120})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["state"] == "done", report
    counts = report["counts"]
    assert (counts["matches"], counts["salesforce_only"], counts["getresponse_only"]) == (
        MATCHED, SALESFORCE_ONLY, GETRESPONSE_ONLY)
    assert counts["duplicates"] == DUPLICATES
    assert counts["conflicts"] == CONFLICTS
    assert {c["field"] for c in report["report"]["conflicts"]} == {"company"}
    assert all(c["winner"] == "salesforce" for c in report["report"]["conflicts"])
    assert (len(e2e.writes("salesforce")), len(e2e.writes("getresponse"))) == writes_before, "a dry run wrote"

    run_started = time.monotonic()
    run = api.post(f"/v1/syncs/{sync_id}/first-sync", params={"wait": 60})
    assert run.status_code in (200, 202), run.text
    job = _follow(api, run.headers["Location"], within=300)
    assert job["state"] == "done", job["errors"]
    e2e.wait_quiet(within=180)
    took = time.monotonic() - run_started
    print(f"\nseeded {len(people)} people in {seeded:.1f} s; first sync and settle took {took:.1f} s")

    contacts = {c["email"]: c for c in e2e.gr.get("/_sim/contacts").json()
                if c["campaign"]["campaignId"] == SECOND_LIST and c["state"] == "active"}
    leads: dict[str, list[dict[str, Any]]] = {}
    for lead in e2e.sf_records("Lead"):
        leads.setdefault((lead.get("Email") or "").lower(), []).append(lead)
    for email, person in people.items():
        contact = contacts.get(email)
        assert contact is not None, f"{email} ({person['kind']}) is not on the list"
        records = leads[email]
        expected = 2 if "duplicate" in person else 1
        assert len(records) == expected, f"{email}: {len(records)} Salesforce records"
        main = next(r for r in records if r["Id"] != person.get("duplicate"))
        assert main["Company"] == person["company"] == e2e.custom(contact, COMPANY_FIELD), email
        assert e2e.custom(contact, PHONE_FIELD) == person["phone"], email
        if person["phone"]:
            assert (main.get("Phone") or "").replace(" ", "") == person["phone"], email
        if person["kind"] == "getresponse_only":
            assert main["LeadSource"] == "GetResponse"
    state = e2e.query("SELECT state FROM syncs WHERE id = $1", uuid.UUID(sync_id))[0][0]
    assert state == "active"

    again = api.post(f"/v1/syncs/{sync_id}/first-sync", params={"dry_run": "true", "wait": 120}).json()
    assert again["counts"]["already_linked"] == len(people)
    assert again["counts"]["matches"] == again["counts"]["salesforce_only"] == 0

    # Live changes afterwards: the synced people keep syncing; a Lead outside the filter does not.
    quiet_world()
    email, person = next((e, p) for e, p in people.items() if p["kind"] == "matched" and "duplicate" not in p)
    e2e.sf_update(person["lead_id"], Company="Changed after the first sync")
    e2e.until(lambda: e2e.custom(contacts_of(e2e, email), COMPANY_FIELD) == "Changed after the first sync",
              within=10, what="a live change after the first sync")
    outsider = f"outside.{uuid.uuid4().hex[:8]}@example.com"
    e2e.sf_create("Lead", FirstName="Out", LastName="Side", Email=outsider, Company="Web Co", LeadSource="Web")
    e2e.wait_quiet()
    assert [c for c in e2e.gr_contacts_any(outsider) if c["campaign"]["campaignId"] == SECOND_LIST] == []


def contacts_of(e2e: Harness, email: str) -> dict[str, Any]:
    found = [c for c in e2e.gr_contacts_any(email) if c["campaign"]["campaignId"] == SECOND_LIST and c["state"] == "active"]
    return found[0] if found else {}
