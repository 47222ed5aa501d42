"""Change Data Capture through Event Relay alone, end to end (issue 11, "Done when": the Lead scenario
through Event Relay posts; a missing or wrong key is 401 and publishes nothing; a malformed body is
400): the Salesforce simulator POSTs EventBridge envelopes with the API key header, as an API
destination does, with Outbound Messages and the CometD relay turned off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.defaults import COMPANY_FIELD
from tests.e2e.harness import Harness, unique_email
from tests.unit.inbound.payloads import cdc_event, event_relay_envelope, new_id

# Latencies: run alone (pyproject: serial).
pytestmark = pytest.mark.serial

WITHIN_S = 2.0


@pytest.fixture(params=["cometd", "pubsub"])
def relay_only(e2e: Harness, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The simulator with Event Relay as its only way to report changes, in each payload form it may
    take (A6 leaves it open: names and ISO date-times, or the Pub/Sub form with bitmaps, which the
    api cannot decode and so turns into re-reads); put back afterwards."""
    config = e2e.sf.get("/_sim/config").json()
    only = {"outbound_url": None, "cdc_url": None, "event_relay_url": e2e.stack.info["event_relay_url"],
            "event_relay_form": request.param}
    assert e2e.sf.post("/_sim/config", json=only).status_code == 200
    try:
        yield e2e
    finally:
        restore = {name: config[name] for name in only}
        assert e2e.sf.post("/_sim/config", json=restore).status_code == 200


def _timed(e2e: Harness, probe: Any, what: str) -> Any:
    found, seconds = e2e.until(probe, within=10, what=what)
    assert seconds < WITHIN_S, f"{what}: took {seconds:.2f} s"
    return found


def test_a_lead_created_edited_deleted_and_undeleted_reaches_the_list_through_event_relay_alone(
    relay_only: Harness,
) -> None:
    e2e = relay_only
    first_delivery = e2e.last_delivery("salesforce")
    email = unique_email("relay")
    lead_id = e2e.sf_create("Lead", FirstName="Rae", LastName="Lay", Email=email, Company="Relay Inc")
    contact = _timed(e2e, lambda: e2e.gr_active(email), "created: on the list")
    assert contact["name"] == "Rae Lay" and e2e.custom(contact, COMPANY_FIELD) == "Relay Inc"
    e2e.wait_quiet()

    e2e.sf_update(lead_id, Company="Relayed Edit Ltd")
    _timed(e2e, lambda: e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == "Relayed Edit Ltd", "edited")
    e2e.wait_quiet()

    e2e.sf_delete(lead_id)
    _timed(e2e, lambda: e2e.gr_active(email) is None, "deleted: off the list")
    e2e.wait_quiet()

    e2e.sf_undelete(lead_id)
    back = _timed(e2e, lambda: e2e.gr_active(email), "undeleted: back on the list")
    assert back["name"] == "Rae Lay"
    e2e.wait_quiet()

    attempts = e2e.deliveries("salesforce", since=first_delivery)
    assert {a["kind"] for a in attempts} == {"event_relay"}
    assert all(a["status"] == 200 and a["acknowledged"] for a in attempts), attempts


def test_a_getresponse_edit_written_to_salesforce_is_not_echoed_back(relay_only: Harness) -> None:
    e2e = relay_only
    email = unique_email("relay-echo")
    lead_id = e2e.sf_create("Lead", FirstName="Eko", LastName="Back", Email=email, Company="Before")
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="on the list")
    e2e.wait_quiet()
    sf_before, gr_before = e2e.last_seq("salesforce"), e2e.last_seq("getresponse")
    first_delivery = e2e.last_delivery("salesforce")

    e2e.gr_edit(contact["contactId"], **{COMPANY_FIELD: "From GetResponse"})
    _timed(e2e, lambda: e2e.sf_get(lead_id)["Company"] == "From GetResponse", "in Salesforce")
    e2e.wait_quiet()

    sf_writes = [w for w in e2e.writes("salesforce", since=sf_before) if lead_id in w["path"]]
    gr_writes = [w for w in e2e.writes("getresponse", since=gr_before) if contact["contactId"] in w["path"]]
    assert len(sf_writes) == 1 and sf_writes[0]["client"] == "sfgr-sync"
    assert gr_writes == []  # nothing came back to GetResponse
    # Salesforce did relay the change our write made, naming our client: the api dropped it as an echo.
    [echo] = [a for a in e2e.sf.get("/_sim/deliveries", params={"since": first_delivery, "body": True}).json()
              if a["kind"] == "event_relay"]
    header = json.loads(echo["body"])["detail"]["payload"]["ChangeEventHeader"]
    assert header["recordIds"] == [lead_id] and header["changeOrigin"].endswith(";client=sfgr-sync")
    assert (echo["status"], echo["acknowledged"]) == (200, True)


def test_a_missing_or_wrong_key_is_401_and_a_malformed_body_400_and_nothing_reaches_the_list(
    e2e: Harness,
) -> None:
    info = e2e.stack.info
    email = unique_email("relay-refused")
    lead_id = new_id("00Q")
    event = cdc_event("Lead", "CREATE", [lead_id], {
        "Name": {"LastName": "Nobody"}, "Email": email, "Company": "Forged",
        "LastModifiedDate": "2026-11-30T10:00:00.000Z"}, transaction_key=f"tx-{lead_id}")
    body = json.dumps(event_relay_envelope(event, org_id=info["salesforce_org_id"]))
    json_type = {"Content-Type": "application/json; charset=utf-8"}
    with httpx.Client(base_url=info["api"], timeout=10) as api:
        missing = api.post("/v1/salesforce/event-relay", content=body, headers=json_type)
        wrong = api.post("/v1/salesforce/event-relay", content=body,
                         headers={**json_type, "X-Sfgr-Api-Key": info["event_relay_key"][:-1] + "x"})
        malformed = api.post("/v1/salesforce/event-relay", content=body[:-1],
                             headers={**json_type, "X-Sfgr-Api-Key": info["event_relay_key"]})
    assert (missing.status_code, missing.json()["reason"]) == (401, "missing_key")
    assert (wrong.status_code, wrong.json()["reason"]) == (401, "wrong_key")
    assert (malformed.status_code, malformed.json()["reason"]) == (400, "bad_json")
    e2e.wait_quiet()
    # Had any of them been published, the consumer would have applied it (and found no such Lead):
    # its event id would be among the applied ones, or a dead letter.
    assert e2e.gr_contacts(email) == []
    event_id = f"cdc:tx-{lead_id}:1:{lead_id}"
    assert e2e.query("SELECT 1 FROM processed_events WHERE event_id LIKE $1", f"%{event_id}") == []
    assert e2e.query("SELECT 1 FROM dead_letters WHERE event_id = $1", event_id) == []
