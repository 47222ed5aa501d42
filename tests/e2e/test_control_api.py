"""The control API on the running stack: connecting Salesforce through OAuth, dead letters and
their replay, resyncs, and every refusal of a missing token or scope."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from devstack.defaults import COMPANY_FIELD
from tests.e2e.harness import Harness, issue_token, unique_email


def _linked(e2e: Harness, tag: str) -> tuple[str, str, str]:
    email = unique_email(tag)
    lead_id = e2e.sf_create("Lead", FirstName="Con", LastName="Trol", Email=email, Company="Before")
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="on the list")
    e2e.wait_quiet()
    return email, lead_id, contact["contactId"]


def test_salesforce_connects_through_the_oauth_redirect_and_callback(e2e: Harness, api: httpx.Client) -> None:
    for environment in ("production", "sandbox"):
        redirect = api.get("/v1/connections/salesforce/authorize", params={"environment": environment})
        assert redirect.status_code == 302, redirect.text
        authorize = redirect.headers["Location"]
        assert "code_challenge=" in authorize and "code_challenge_method=S256" in authorize and "state=" in authorize
        # The user logs in at Salesforce (here its simulator), which sends the browser back to our callback.
        at_salesforce = httpx.get(authorize, follow_redirects=False, timeout=10)
        assert at_salesforce.status_code in (302, 303), at_salesforce.text
        callback = httpx.get(at_salesforce.headers["Location"], timeout=30)
        assert callback.status_code == 200, callback.text
        assert callback.json()["connection"]["external_id"] == e2e.stack.info["salesforce_org_id"]
        replayed = httpx.get(at_salesforce.headers["Location"], timeout=30)
        assert replayed.status_code == 400  # a state is good once
    _linked(e2e, "after-oauth")  # the reconnected org still syncs, inbound secrets unchanged


def test_a_validation_error_is_dead_lettered_and_its_replay_after_the_fix_applies_it(
    e2e: Harness, api: httpx.Client
) -> None:
    email = unique_email("refused")
    assert e2e.gr.post("/_sim/config", json={"blacklisted_emails": [email]}).status_code == 200
    try:
        lead_id = e2e.sf_create("Lead", FirstName="Black", LastName="Listed", Email=email, Company="Nope Inc")

        def letters() -> list[dict[str, Any]]:
            items = api.get("/v1/dead-letters", params={"limit": 50}).json()["items"]
            return [d for d in items if d["key"] == lead_id]

        # One per delivery path that reported the create (Outbound Message and CDC).
        found, _ = e2e.until(letters, within=30, what="a dead letter")
        dead = found[0]
        assert dead["reason"] == "getresponse 400 1002: Contact is blacklisted"
        assert api.get(f"/v1/dead-letters/{dead['id']}").json()["event"]["email"] == email
        assert e2e.gr_contacts(email) == []
    finally:
        e2e.gr.post("/_sim/config", json={"blacklisted_emails": []})  # the cause is fixed
    replay = api.post(f"/v1/dead-letters/{dead['id']}/replay")
    assert replay.status_code == 200, replay.text
    e2e.until(lambda: e2e.gr_active(email), within=10, what="applied after the replay")
    assert api.post(f"/v1/dead-letters/{dead['id']}/replay").status_code == 409  # once only


def test_resync_of_selected_people_and_of_the_whole_sync(e2e: Harness, api: httpx.Client) -> None:
    people = [_linked(e2e, f"resync{i}") for i in range(3)]
    config = e2e.sf.get("/_sim/config").json()
    e2e.sf.post("/_sim/config", json={"outbound_url": None, "cdc_url": None})  # edits nobody reports
    try:
        for i, (_, lead_id, _) in enumerate(people):
            e2e.sf_update(lead_id, Company=f"Unreported {i}")
    finally:
        e2e.sf.post("/_sim/config", json={"outbound_url": config["outbound_url"], "cdc_url": config["cdc_url"]})
    time.sleep(1)
    assert all(e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == "Before" for email, _, _ in people)

    dry = api.post("/v1/resync", params={"wait": 60}, json={
        "sync_id": e2e.sync_id, "scope": {"emails": [people[0][0]]}, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["state"] == "done", dry.text
    assert dry.json()["report"]["changes"][0]["new"] == "Unreported 0"
    assert e2e.custom(e2e.gr_active(people[0][0]) or {}, COMPANY_FIELD) == "Before"  # a dry run writes nothing

    one = api.post("/v1/resync", params={"wait": 60}, json={
        "sync_id": e2e.sync_id, "scope": {"salesforce_ids": [people[0][1]]}, "mode": "reconcile"})
    assert one.status_code == 200 and one.json()["state"] == "done", one.text
    assert one.headers["Location"] == f"/v1/resync/{one.json()['job_id']}"
    assert e2e.custom(e2e.gr_active(people[0][0]) or {}, COMPANY_FIELD) == "Unreported 0"
    assert e2e.custom(e2e.gr_active(people[1][0]) or {}, COMPANY_FIELD) == "Before"

    whole = api.post("/v1/resync", json={"sync_id": e2e.sync_id, "scope": {"whole_sync": True}})
    assert whole.status_code == 202, whole.text
    job_url = whole.headers["Location"]
    job, _ = e2e.until(lambda: (j := api.get(job_url).json())["state"] in ("done", "failed") and j,
                       within=120, what="whole-sync resync")
    assert job["state"] == "done", job
    for i, (email, _, _) in enumerate(people):
        assert e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == f"Unreported {i}"

    email, lead_id, contact_id = people[2]
    webhooks = e2e.gr.get("/_sim/config").json()["webhook_url"]
    e2e.gr.post("/_sim/config", json={"webhook_url": None})
    try:
        e2e.gr_edit(contact_id, **{COMPANY_FIELD: "GetResponse knows best"})
    finally:
        e2e.gr.post("/_sim/config", json={"webhook_url": webhooks})
    forced = api.post("/v1/resync", params={"wait": 60}, json={
        "sync_id": e2e.sync_id, "scope": {"getresponse_contact_ids": [contact_id]}, "mode": "getresponse_wins"})
    assert forced.json()["state"] == "done", forced.text
    assert e2e.sf_get(lead_id)["Company"] == "GetResponse knows best"


def test_a_resync_that_names_nobody_is_refused_with_a_reason(api: httpx.Client, e2e: Harness) -> None:
    refused = api.post("/v1/resync", json={"sync_id": e2e.sync_id, "scope": {}})
    assert refused.status_code == 422
    assert "names nobody" in refused.text
    unknown = api.post("/v1/resync", json={"sync_id": str(uuid.uuid4()), "scope": {"whole_sync": True}})
    assert unknown.status_code == 404


def test_every_control_endpoint_refuses_a_missing_token_a_wrong_token_and_a_missing_scope(
    e2e: Harness,
) -> None:
    base = e2e.stack.info["api"]
    schema = httpx.get(f"{base}/openapi.json", timeout=10).json()
    reader = issue_token(e2e.stack.info["database_url"], "read")
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1/") or "/salesforce/outbound" in path or "/change-events" in path \
                or path == "/v1/salesforce/event-relay" or "/getresponse/webhooks" in path \
                or path.endswith("/callback"):
            continue  # inbound endpoints prove the sender otherwise; the callback proves its state
        url = base + path.replace("{", "").replace("}", "")
        concrete = url
        for name in ("sync_id", "job_id", "dead_letter_id", "letter_id", "link_id", "id"):
            concrete = concrete.replace(name, str(uuid.uuid4()) if "link" not in name and name != "letter_id"
                                        and name != "dead_letter_id" else "1")
        for method in operations:
            none = httpx.request(method, concrete, timeout=10)
            assert none.status_code == 401, (method, path, none.text)
            assert none.headers.get("www-authenticate", "").lower().startswith("bearer"), (method, path)
            assert "token" in none.json()["detail"].lower()
            wrong = httpx.request(method, concrete, headers={"Authorization": "Bearer nope"}, timeout=10)
            assert wrong.status_code == 401, (method, path, wrong.text)
            if method != "get":
                limited = httpx.request(method, concrete, headers={"Authorization": f"Bearer {reader}"}, timeout=10)
                assert limited.status_code == 403, (method, path, limited.text)
                assert "scope" in limited.json()["detail"], limited.text
            checked += 1
    assert checked >= 15, f"only {checked} control operations found"
