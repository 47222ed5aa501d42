"""The operator's CLI over HTTP, run as an operator runs it: `sfgr` in a subprocess against the
stack's control API. It drives a first sync with a progress bar, lists its job, and answers errors
as the API words them, with exit codes scripts can test (issue: operable in production)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from devstack.defaults import DEMO_MAPPING
from tests.e2e.harness import Harness


def sfgr(e2e: Harness, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SFGR_API_URL": e2e.stack.info["api"],
        "SFGR_API_TOKEN": token if token is not None else e2e.stack.info["api_token"],
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def draft_sync(e2e: Harness, api: httpx.Client) -> Iterator[str]:
    """A sync in draft on a list of its own (made for the test), for the few Leads it seeds."""
    tag = uuid.uuid4().hex[:8]
    gr_api = httpx.Client(
        base_url=e2e.stack.info["getresponse"],
        headers={"X-Auth-Token": f"api-key {e2e.stack.info['getresponse_api_key']}"},
        timeout=10,
    )
    made = gr_api.post("/campaigns", json={"name": f"cli_{tag}"})
    assert made.status_code == 201, made.text
    source = f"CLI {tag}"
    for i in range(3):
        e2e.sf_create("Lead", FirstName="Cli", LastName=f"Nr{i}", Email=f"cli{i}.{tag}@example.com",
                      Company="Shell Co", LeadSource=source)
    created = api.post("/v1/syncs", json={
        "name": f"cli test {tag}", "campaign_id": made.json()["campaignId"], "salesforce_objects": ["Lead"],
        "create_as": "Lead", "preferred_system": "salesforce", "mapping": DEMO_MAPPING.model_dump(mode="json"),
        "soql_filter": f"LeadSource = '{source}'", "first_sync": True,
    })
    assert created.status_code == 201, created.text
    sync_id = created.json()["id"]
    try:
        yield sync_id
    finally:
        api.post(f"/v1/syncs/{sync_id}/cancel")
        gr_api.close()


def test_the_cli_drives_a_first_sync_with_a_progress_bar_and_lists_its_job(e2e: Harness, draft_sync: str) -> None:
    listed = sfgr(e2e, "syncs", "list")
    assert listed.returncode == 0, listed.stderr
    assert draft_sync in listed.stdout and "draft" in listed.stdout

    run = sfgr(e2e, "syncs", "first-sync", draft_sync, "--watch", "--interval", "0.2")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "first sync" in run.stdout and "━" in run.stdout  # the progress bar
    assert "done: 3 done, 3 created" in run.stdout, run.stdout

    jobs = sfgr(e2e, "jobs", "list", "--sync", draft_sync, "--json")
    assert jobs.returncode == 0, jobs.stderr
    (job,) = json.loads(jobs.stdout)
    assert (job["kind"], job["state"], job["progress"]["created"]) == ("first_sync", "done", 3)
    table = sfgr(e2e, "jobs", "list", "--sync", draft_sync)
    assert job["job_id"] in table.stdout and "first_sync" in table.stdout

    shown = sfgr(e2e, "syncs", "show", draft_sync, "--json")
    assert json.loads(shown.stdout)["state"] == "active"


def test_the_cli_shows_api_errors_as_the_api_words_them_with_exit_codes(e2e: Harness) -> None:
    missing = sfgr(e2e, "syncs", "show", str(uuid.uuid4()))
    assert missing.returncode == 1
    assert "404: no sync" in missing.stderr

    refused = sfgr(e2e, "syncs", "list", token="not-a-token")
    assert refused.returncode == 4
    assert "401" in refused.stderr

    unreachable = subprocess.run(
        [sys.executable, "-m", "app", "syncs", "list", "--api-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert unreachable.returncode == 3
    assert "cannot reach the control API" in unreachable.stderr

    usage = sfgr(e2e, "dead-letters", "replay")
    assert usage.returncode == 2
    assert "give an id, filters, or --all" in usage.stderr


def test_contacts_why_prints_the_decision_log(e2e: Harness) -> None:
    email = f"why.{uuid.uuid4().hex[:8]}@example.com"
    e2e.sf_create("Lead", FirstName="Wy", LastName="Knot", Email=email, Company="Reasons Ltd")
    e2e.until(lambda: e2e.gr_active(email), what="on the list")
    e2e.wait_quiet()
    why = sfgr(e2e, "contacts", "why", email)
    assert why.returncode == 0, why.stderr
    assert email in why.stdout and "decisions" in why.stdout
    as_json = json.loads(sfgr(e2e, "contacts", "why", email, "--json").stdout)
    assert as_json[0]["link"]["email"] == email and as_json[0]["items"]
