"""Servers of ours going away under load, end to end: Postgres restarted, and the api stopped with
SIGTERM, while people keep editing on both sides. Each test runs a stack of its own (its own
Postgres, broker, simulators and processes), so the stack the other tests share is never touched.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.bus import Topics
from app.settings import Settings
from devstack.defaults import COMPANY_FIELD
from devstack.processes import alive
from devstack.stack import down, up
from tests.e2e.harness import Harness, unique_email
from tests.fixtures.topics import OnTopic, messages_on

# GetResponse retries a webhook 3 times (api-contracts B9) at intervals it does not publish; the
# simulator's are 10, 60 and 300 s, scaled here to 0.5, 3 and 15 s: longer than any outage below,
# as the vendor's are longer than a restart.
GETRESPONSE_DELIVERY_TIME_SCALE = 0.05


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Harness]:
    """A stack of the test's own; its processes' logs are kept in the test's tmp_path."""
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-restarts-"))
    stack = up(state_dir, env={"SFGR_LOG_LEVEL": "INFO"})
    harness = Harness(stack)
    try:
        response = harness.gr.post("/_sim/config", json={"delivery_time_scale": GETRESPONSE_DELIVERY_TIME_SCALE})
        assert response.status_code < 300, response.text
        yield harness
    finally:
        harness.close()
        shutil.copytree(stack.logs, tmp_path / "logs", dirs_exist_ok=True)
        down(state_dir)


class People:
    """Salesforce Leads and GetResponse sign-ups, all synced, each edited once on its own side."""

    def __init__(self, e2e: Harness, count: int, tag: str) -> None:
        self.e2e = e2e
        self.leads = {unique_email(f"{tag}sf{i}"): "" for i in range(count)}
        for i, email in enumerate(self.leads):
            self.leads[email] = e2e.sf_create("Lead", FirstName="Ess", LastName=f"Eff{i}", Email=email,
                                              Company=f"Before {i}")
        self.signups = {unique_email(f"{tag}gr{i}"): "" for i in range(count)}
        for i, email in enumerate(self.signups):
            self.signups[email] = e2e.gr_subscribe(email, f"Gee Arr{i}", **{COMPANY_FIELD: f"Signup {i}"})
        e2e.until(
            lambda: all(e2e.gr_active(email) for email in self.leads)
            and all(e2e.sf_by_email(email) for email in self.signups),
            within=30, what="everyone synced before the fault",
        )
        self.expected_in_getresponse: dict[str, str] = {}  # email -> company
        self.expected_in_salesforce: dict[str, str] = {}

    def edit(self, i: int, phase: str) -> None:
        """One edit in Salesforce and one in GetResponse, of the i-th person of each side."""
        email, lead_id = list(self.leads.items())[i]
        company = f"{phase} sf {i}"
        self.e2e.sf_update(lead_id, Company=company)
        self.expected_in_getresponse[email] = company
        email, contact_id = list(self.signups.items())[i]
        company = f"{phase} gr {i}"
        self.e2e.gr_edit(contact_id, **{COMPANY_FIELD: company})
        self.expected_in_salesforce[email] = company

    def arrived(self) -> bool:
        for email, company in self.expected_in_getresponse.items():
            contact = self.e2e.gr_active(email)
            if contact is None or self.e2e.custom(contact, COMPANY_FIELD) != company:
                return False
        for email, company in self.expected_in_salesforce.items():
            records = self.e2e.sf_by_email(email)
            if len(records) != 1 or records[0]["Company"] != company:
                return False
        return True

    def assert_no_duplicates(self) -> None:
        for email in [*self.leads, *self.signups]:
            assert len(self.e2e.sf_by_email(email)) == 1, email
            assert len([c for c in self.e2e.gr_contacts(email) if c["state"] == "active"]) == 1, email


def _inbound_answers(e2e: Harness) -> list[dict[str, Any]]:
    """Every delivery attempt both simulators made to the api."""
    deliveries: list[dict[str, Any]] = e2e.sf.get("/_sim/deliveries").json() + e2e.gr.get("/_sim/deliveries").json()
    return deliveries


def _product_pids(e2e: Harness) -> dict[str, int]:
    return {p.name: p.pid for p in e2e.stack.processes
            if p.name == "api" or p.name.startswith("consumer-") or p.name == "poller"}


def _assert_no_dead_letter(e2e: Harness) -> None:
    assert e2e.query("SELECT id, reason FROM dead_letters") == []


def _retried(e2e: Harness) -> list[OnTopic]:
    """What the consumers sent to the retry topics (the stack's topics have the default prefix)."""
    settings = Settings(kafka_bootstrap_servers=e2e.stack.info["kafka"])
    topics = Topics.from_settings(settings)

    async def both() -> list[OnTopic]:
        return [
            *await messages_on(settings, topics.retry_to_getresponse),
            *await messages_on(settings, topics.retry_to_salesforce),
        ]

    return asyncio.run(both())


def test_postgres_restarted_under_load_loses_nothing_and_needs_no_restart_of_ours(own_stack: Harness) -> None:
    e2e = own_stack
    people = People(e2e, 6, "pg")
    pids = _product_pids(e2e)
    postgres = e2e.stack.postgres_server()

    people.edit(0, "before")
    people.edit(1, "before")
    postgres.stop()
    down_at = time.monotonic()
    try:
        with httpx.Client(timeout=5) as client:
            ready = client.get(f"{e2e.stack.info['api']}/readyz")
        assert ready.status_code == 503, ready.text
        for i in (2, 3):
            people.edit(i, "during")
            time.sleep(1.0)
        # Past the api's cache of the inbound secrets (5 s): deliveries now need Postgres.
        time.sleep(max(0.0, 6.0 - (time.monotonic() - down_at)))
        people.edit(4, "late")
        time.sleep(1.0)
    finally:
        postgres.start()
    people.edit(5, "after")

    e2e.until(people.arrived, within=45, what="every edit in the other system")
    e2e.wait_quiet(within=45)
    assert people.arrived()
    people.assert_no_duplicates()
    _assert_no_dead_letter(e2e)
    for started in e2e.stack.processes:
        if started.name in pids:
            assert started.pid == pids[started.name] and alive(started), f"{started.name} did not survive"
    # The database down is no vendor failure: its events wait on their partition, not on the retry
    # topic, where a longer outage would make them dead letters.
    assert _retried(e2e) == []
    answers = {d["status"] for d in _inbound_answers(e2e)}
    assert 503 in answers, "no delivery met the database down: the fault was not exercised"
    assert all(s is None or s < 300 or s == 503 for s in answers), answers


def test_api_stopped_with_sigterm_under_load_loses_no_acknowledged_delivery(own_stack: Harness) -> None:
    e2e = own_stack
    people = People(e2e, 10, "term")
    # One delivery per edit, so that an acknowledged one lost could not be made good by another:
    # Salesforce edits by Outbound Message only (no change events), GetResponse custom-field edits
    # by webhook only (they move no changedOn the poller would see).
    response = e2e.sf.post("/_sim/config", json={"cdc_url": None})
    assert response.status_code < 300, response.text
    stop_editing = threading.Event()
    edited: list[int] = []

    def edit_people() -> None:
        for i in range(len(people.leads)):
            if stop_editing.is_set():
                return
            people.edit(i, "load")
            edited.append(i)
            time.sleep(0.05)

    editor = threading.Thread(target=edit_people)
    editor.start()
    try:
        e2e.until(lambda: len(edited) >= 3, within=10, what="edits under way")
        e2e.stack.stop("api")  # SIGTERM; in-flight requests finish, then the process ends
        assert not alive(e2e.stack.process("api"))
        e2e.until(lambda: len(edited) >= 5, within=10, what="edits while no api runs")
        time.sleep(0.5)
    finally:
        stop_editing.set()
        editor.join(timeout=30)
    e2e.stack.restart("api", ready_url=f"{e2e.stack.info['api']}/readyz")

    e2e.until(people.arrived, within=45, what="every edit in the other system")
    e2e.wait_quiet(within=45)
    assert people.arrived()
    people.assert_no_duplicates()
    _assert_no_dead_letter(e2e)
    answers = _inbound_answers(e2e)
    assert any(d["status"] is None for d in answers), "no delivery met the stopped api"
    assert all(d["status"] is None or d["status"] < 300 or d["status"] == 503 for d in answers), answers
