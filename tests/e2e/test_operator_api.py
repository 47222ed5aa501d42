"""An operator steers a sync: pause it, change people on both sides, resume, and every change is
applied; the sync's jobs are listed with their progress; its errors are grouped by cause, and one
bulk replay after the fix applies every dead letter of a group (issue: operable in production)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.db.syncs import SyncDirectory
from devstack.defaults import COMPANY_FIELD
from tests.e2e.harness import Harness, unique_email

# How long a consumer's view of the syncs may be old: a pause takes effect within it.
SYNCS_VIEW_S = SyncDirectory.__init__.__kwdefaults__["ttl"]


def _linked(e2e: Harness, tag: str) -> tuple[str, str, str]:
    email = unique_email(tag)
    lead_id = e2e.sf_create("Lead", FirstName="Pau", LastName="Sed", Email=email, Company="Before")
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="on the list")
    e2e.wait_quiet()
    return email, lead_id, contact["contactId"]


@pytest.fixture
def paused(e2e: Harness, api: httpx.Client) -> Iterator[str]:
    """The demo sync, paused for the test (and resumed after it, whatever happened)."""
    sync_id = e2e.sync_id
    try:
        yield sync_id
    finally:
        api.post(f"/v1/syncs/{sync_id}/resume")


def test_changes_made_while_a_sync_is_paused_are_kept_and_applied_on_resume(
    e2e: Harness, api: httpx.Client, paused: str
) -> None:
    people = [_linked(e2e, f"pause{i}") for i in range(2)]
    response = api.post(f"/v1/syncs/{paused}/pause")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "paused"
    assert api.post(f"/v1/syncs/{paused}/pause").json()["state"] == "paused"  # idempotent
    time.sleep(SYNCS_VIEW_S + 0.2)  # every consumer sees the pause
    writes_before = {vendor: e2e.last_seq(vendor) for vendor in ("salesforce", "getresponse")}

    (email_a, lead_a, _), (_, lead_b, contact_b) = people
    e2e.sf_update(lead_a, Company="Edited in Salesforce while paused")
    e2e.gr_edit(contact_b, **{COMPANY_FIELD: "Edited in GetResponse while paused"})
    e2e.until(
        lambda: int(e2e.query("SELECT count(*) FROM paused_changes WHERE sync_id = $1::uuid", paused)[0][0]) >= 2,
        within=15, what="changes kept",
    )
    e2e.wait_quiet()
    assert e2e.writes("getresponse", since=writes_before["getresponse"]) == []
    assert e2e.writes("salesforce", since=writes_before["salesforce"]) == []
    ours = e2e.query("SELECT count(*) FROM dead_letters WHERE key = ANY($1::text[])", [lead_a, contact_b])
    assert int(ours[0][0]) == 0  # kept, not dead-lettered

    resumed = api.post(f"/v1/syncs/{paused}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "active"
    assert resumed.json()["changes_resent"] >= 2
    e2e.until(
        lambda: e2e.custom(e2e.gr_active(email_a) or {}, COMPANY_FIELD) == "Edited in Salesforce while paused",
        within=15, what="the Salesforce edit in GetResponse",
    )
    e2e.until(
        lambda: e2e.sf_get(lead_b)["Company"] == "Edited in GetResponse while paused",
        within=15, what="the GetResponse edit in Salesforce",
    )
    assert int(e2e.query("SELECT count(*) FROM paused_changes WHERE sync_id = $1::uuid", paused)[0][0]) == 0


def test_an_unknown_sync_cannot_be_paused(api: httpx.Client) -> None:
    missing = api.post("/v1/syncs/00000000-0000-0000-0000-000000000000/pause")
    assert missing.status_code == 404
    assert "no sync" in missing.json()["detail"]


def test_the_sync_jobs_are_listed_newest_first_with_their_progress(e2e: Harness, api: httpx.Client) -> None:
    _linked(e2e, "history")
    job = api.post(
        "/v1/resync", params={"wait": 60}, json={"sync_id": e2e.sync_id, "scope": {"whole_sync": True}, "dry_run": True}
    ).json()
    listed = api.get(f"/v1/syncs/{e2e.sync_id}/jobs").json()
    assert listed[0]["job_id"] == job["job_id"]
    progress = listed[0]["progress"]
    assert progress["phase"] == "done"
    assert progress["total"] == progress["done"] >= 1
    assert api.get("/v1/syncs/00000000-0000-0000-0000-000000000000/jobs").status_code == 404


def test_dead_letters_grouped_by_cause_are_all_applied_by_one_bulk_replay_after_the_fix(
    e2e: Harness, api: httpx.Client
) -> None:
    emails = [unique_email(f"bulk{i}") for i in range(3)]
    assert e2e.gr.post("/_sim/config", json={"blacklisted_emails": emails}).status_code == 200
    try:
        leads = [
            e2e.sf_create("Lead", FirstName="Bulk", LastName=f"Nr{i}", Email=email, Company="Refused Inc")
            for i, email in enumerate(emails)
        ]

        def blacklisted() -> dict[str, Any] | None:
            # The letters first: groups read after every lead has its letter count all of them.
            open_ones = api.get("/v1/dead-letters", params={"limit": 200}).json()["items"]
            if not {d["key"] for d in open_ones} >= set(leads):
                return None
            groups = api.get(f"/v1/syncs/{e2e.sync_id}/errors").json()["groups"]
            return next((g for g in groups if "blacklisted" in g["reason"]), None)

        group, _ = e2e.until(blacklisted, within=30, what="the blacklist's group")
        assert group["error_class"] == "Permanent"
        assert "blacklist" in group["hint"]
        assert group["count"] >= len(leads) and group["example"]["reason"]
        e2e.wait_quiet()
    finally:
        e2e.gr.post("/_sim/config", json={"blacklisted_emails": []})  # the cause is fixed
    replayed = api.post("/v1/dead-letters/replay", json=group["replay_filter"])
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["done"] >= len(leads)
    for email in emails:
        e2e.until(lambda email=email: e2e.gr_active(email), within=15, what=f"{email} applied after the replay")
    again = api.post("/v1/dead-letters/replay", json=group["replay_filter"]).json()
    assert again["matched"] == 0  # replayed once only


def test_a_bulk_filter_that_cannot_match_is_refused_with_a_reason(api: httpx.Client) -> None:
    refused = api.post(
        "/v1/dead-letters/discard",
        json={"created_after": "2026-01-02T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
    )
    assert refused.status_code == 422
    assert "created_after must be before created_before" in refused.text
    unknown = api.post("/v1/dead-letters/replay", json={"colour": "red"})
    assert unknown.status_code == 422
