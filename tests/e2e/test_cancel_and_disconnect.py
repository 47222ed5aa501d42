"""Cancelling a sync and disconnecting Salesforce, on a stack of this module's own (both end the
sync every other end-to-end test relies on)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack, down, up
from tests.e2e.harness import Harness, unique_email


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-ending-"))
    running = up(state_dir)
    try:
        yield running
    finally:
        down(state_dir)


def test_a_cancelled_sync_stops_syncing_and_disconnect_revokes_and_keeps_the_links(
    e2e: Harness, api: httpx.Client
) -> None:
    email = unique_email("before")
    lead_id = e2e.sf_create("Lead", FirstName="Be", LastName="Fore", Email=email, Company="Synced")
    e2e.until(lambda: e2e.gr_active(email), what="synced while active")
    e2e.wait_quiet()

    cancelled = api.post(f"/v1/syncs/{e2e.sync_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
    time.sleep(2.5)  # consumers re-read sync configurations every 2 s
    later = unique_email("after")
    e2e.sf_create("Lead", FirstName="Af", LastName="Ter", Email=later, Company="Not synced")
    e2e.sf_update(lead_id, Company="Edited after cancel")
    e2e.wait_quiet()
    assert e2e.gr_contacts(later) == []
    assert e2e.custom(e2e.gr_active(email) or {}, "cfCmp") == "Synced"
    status = api.get(f"/v1/syncs/{e2e.sync_id}/status").json()
    assert status["state"] == "cancelled" and status["links"]["linked"] >= 1, status

    # Through the OAuth web-server flow the connection holds a refresh token: disconnecting revokes it.
    authorize = api.get("/v1/connections/salesforce/authorize", params={"environment": "production"})
    login = httpx.get(authorize.headers["Location"], follow_redirects=False, timeout=10)
    assert httpx.get(login.headers["Location"], timeout=30).status_code == 200
    sf_calls_before = e2e.last_seq("salesforce")
    gone = api.delete("/v1/connections/salesforce")
    assert gone.status_code == 200, gone.text
    result = gone.json()
    assert result["connection"]["state"] == "disconnected"
    assert e2e.sync_id in result["cancelled_syncs"] or not result["cancelled_syncs"]  # already cancelled
    revoked = [c for c in e2e.sf.get("/_sim/calls", params={"since": sf_calls_before}).json()
               if c["path"] == "/services/oauth2/revoke"]
    assert result["token_revoked"] is True and len(revoked) == 1, (revoked, result)
    links = e2e.query("SELECT count(*) FROM contact_links WHERE email_normalized = $1", email)
    assert links[0][0] == 1  # kept for the audit
    decisions = api.get("/v1/contacts", params={"email": email}).json()
    assert decisions, "the link is still visible through the API"
