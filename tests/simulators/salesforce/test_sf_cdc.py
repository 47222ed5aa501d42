"""Change Data Capture events as the relay receives them (api-contracts A2, C2, C3)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from tests.fixtures.polling import eventually
from tests.simulators.salesforce.harness import Receiver, SalesforceSim

SECRET = "relay-secret"


def _cdc(sim: SalesforceSim, receiver: Receiver, **config: object) -> None:
    sim.configure(cdc_url=f"{receiver.url}/cdc", cdc_secret=SECRET, **config)


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    return [event for message in receiver.at("/cdc") for event in json.loads(message.body)]


def _wait_events(sim: SalesforceSim, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    eventually(lambda: len(_events(receiver)) >= count)
    sim.wait_idle()
    return _events(receiver)


def _header(event: dict[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = event["payload"]["ChangeEventHeader"]
    return header


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event["payload"].items() if k != "ChangeEventHeader"}


def test_a_create_carries_every_non_empty_field_nested_and_no_system_modstamp(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _cdc(sim, receiver)
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com", Country="PL")
    [event] = _wait_events(sim, receiver, 1)
    assert set(event) == {"schema", "payload", "event"}
    header = _header(event)
    assert (
        header["entityName"] == "Lead"
        and header["recordIds"] == [lead_id]
        and header["changeType"] == "CREATE"
    )
    assert header["changeOrigin"] == "com/salesforce/api/rest/62.0"
    assert header["changedFields"] == [] and header["nulledFields"] == [] and header["diffFields"] == []
    assert header["sequenceNumber"] == 1 and header["transactionKey"]
    assert abs(header["commitTimestamp"] - time.time() * 1000) < 60_000
    assert header["commitUser"].startswith("005") and isinstance(header["commitNumber"], int)
    fields = _fields(event)
    assert fields["Name"] == {"LastName": "Lee", "FirstName": "Pat"}
    assert fields["Address"] == {"Country": "PL"}
    assert fields["Email"] == "pat@example.com" and fields["Company"] == "Acme"
    assert fields["HasOptedOutOfEmail"] is False and fields["Status"] == "Open - Not Contacted"
    assert fields["CreatedDate"].endswith("Z") and fields["OwnerId"].startswith("005")
    for absent in ("Id", "IsDeleted", "SystemModstamp", "Phone", "FirstName", "LastName", "Country"):
        assert absent not in fields
    assert isinstance(event["event"]["replayId"], int)


def test_an_update_carries_only_changed_fields_and_last_modified_date(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create(FirstName="Pat", Phone="123")
    _cdc(sim, receiver)
    sim.api.patch(
        f"/sobjects/Lead/{lead_id}",
        json={"FirstName": "Patricia", "Phone": None, "Email": "p@x.io"},
        headers={"Sforce-Call-Options": "client=sfgr-sync"},
    )
    [event] = _wait_events(sim, receiver, 1)
    header = _header(event)
    assert header["changeType"] == "UPDATE"
    assert header["changeOrigin"] == "com/salesforce/api/rest/62.0;client=sfgr-sync"
    assert set(header["changedFields"]) == {"Name.FirstName", "Phone", "Email", "LastModifiedDate"}
    fields = _fields(event)
    assert fields["Name"] == {"FirstName": "Patricia"}
    assert fields["Phone"] is None  # set to null: present, as null
    assert fields["Email"] == "p@x.io" and fields["LastModifiedDate"].endswith("Z")
    assert set(fields) == {"Name", "Phone", "Email", "LastModifiedDate"}


def test_ui_changes_have_an_empty_change_origin_and_the_ui_user(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create()
    _cdc(sim, receiver)
    sim.http.patch(f"/_sim/records/Lead/{lead_id}", json={"City": "Gdansk"})
    [event] = _wait_events(sim, receiver, 1)
    header = _header(event)
    config = sim.http.get("/_sim/config").json()
    assert header["changeOrigin"] == "" and header["commitUser"] == config["ui_user_id"]
    assert set(header["changedFields"]) == {"Address.City", "LastModifiedDate", "LastModifiedById"}
    assert _fields(event)["LastModifiedById"] == config["ui_user_id"]


def test_delete_has_no_fields_and_undelete_has_them_all(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create(Email="pat@example.com")
    _cdc(sim, receiver)
    sim.api.delete(f"/sobjects/Lead/{lead_id}")
    sim.http.post(f"/_sim/records/Lead/{lead_id}/undelete")
    deleted, undeleted = _wait_events(sim, receiver, 2)
    assert _header(deleted)["changeType"] == "DELETE" and _fields(deleted) == {}
    assert _header(undeleted)["changeType"] == "UNDELETE" and _fields(undeleted)["Email"] == "pat@example.com"
    assert _header(undeleted)["changedFields"] == []


def test_replay_ids_increase_but_are_not_contiguous(sim: SalesforceSim, receiver: Receiver) -> None:
    _cdc(sim, receiver)
    for _ in range(12):
        sim.create()
    replay_ids = [e["event"]["replayId"] for e in _wait_events(sim, receiver, 12)]
    assert replay_ids == sorted(replay_ids) and len(set(replay_ids)) == 12
    assert any(b - a > 1 for a, b in itertools.pairwise(replay_ids))


def test_one_collection_call_is_one_transaction_and_identical_changes_merge(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    first, second, third = sim.create(), sim.create(), sim.create()
    _cdc(sim, receiver)
    response = sim.api.delete("/composite/sobjects", params={"ids": f"{first},{second},{third}"})
    assert all(r["success"] for r in response.json())
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["recordIds"] == [first, second, third]
    assert _header(event)["changeType"] == "DELETE"
    receiver.reset()
    records = [{"attributes": {"type": "Lead"}, "LastName": name, "Company": "C"} for name in ("A", "B")]
    sim.api.post("/composite/sobjects", json={"records": records})
    created = _wait_events(sim, receiver, 2)
    assert len(receiver.at("/cdc")) == 1  # one POST for the transaction
    assert len({_header(e)["transactionKey"] for e in created}) == 1
    assert [_header(e)["sequenceNumber"] for e in created] == [1, 2]


def test_a_mass_update_in_the_ui_is_one_event_with_several_record_ids(sim: SalesforceSim, receiver: Receiver) -> None:
    ids = [sim.create(), sim.create("Lead", Email="b@example.com")]
    _cdc(sim, receiver)
    response = sim.http.post(
        "/_sim/records/Lead/mass-update", json={"ids": ids, "values": {"LeadSource": "Web"}}
    )
    assert response.status_code == 200
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["recordIds"] == ids
    assert _fields(event)["LeadSource"] == "Web"


def test_gap_and_overflow_events_carry_the_header_only(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create()
    _cdc(sim, receiver)
    gap = sim.http.post(
        "/_sim/cdc/gap", json={"entity": "Lead", "changeType": "GAP_UPDATE", "recordIds": [lead_id]}
    )
    assert gap.status_code == 200
    sim.http.post("/_sim/cdc/gap", json={"entity": "Contact", "changeType": "GAP_OVERFLOW"})
    update, overflow = _wait_events(sim, receiver, 2)
    assert _header(update)["changeType"] == "GAP_UPDATE" and _header(update)["recordIds"] == [lead_id]
    assert _fields(update) == {}
    assert _header(overflow)["changeType"] == "GAP_OVERFLOW"
    assert _header(overflow)["recordIds"] == ["000000000000000AAA"] and _fields(overflow) == {}
    bad = sim.http.post(
        "/_sim/cdc/gap", json={"entity": "Lead", "changeType": "UPDATE", "recordIds": [lead_id]}
    )
    assert bad.status_code == 422


def test_every_post_is_signed_and_failures_are_retried_with_a_fresh_signature(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    _cdc(sim, receiver)
    receiver.reply("/cdc", (500, "relay down", "text/plain"), (502, "still down", "text/plain"))
    sim.create()
    eventually(lambda: len(receiver.at("/cdc")) >= 3)
    sim.wait_idle()
    posts = receiver.at("/cdc")
    assert len(posts) == 3 and len({p.body for p in posts}) == 1
    for post in posts:
        assert post.headers["content-type"] == "application/json"
        stamp, signature = (part.split("=", 1)[1] for part in post.headers["x-sfgr-signature"].split(","))
        assert abs(int(stamp) - time.time()) < 60
        expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + post.body, hashlib.sha256).hexdigest()
        assert signature == expected
    attempts = sim.http.get("/_sim/deliveries").json()
    assert [(a["kind"], a["status"], a["acknowledged"]) for a in attempts] == [
        ("cdc", 500, False),
        ("cdc", 502, False),
        ("cdc", 200, True),
    ]


def test_entities_not_selected_for_cdc_send_nothing(sim: SalesforceSim, receiver: Receiver) -> None:
    _cdc(sim, receiver, cdc_entities=["Contact"])
    sim.create()
    contact_id = sim.create("Contact")
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["entityName"] == "Contact" and _header(event)["recordIds"] == [contact_id]


def test_a_save_that_changes_nothing_still_reports_last_modified_date(sim: SalesforceSim, receiver: Receiver) -> None:
    lead_id = sim.create()
    sim.http.post("/_sim/clock", json={"advance_seconds": 1})
    _cdc(sim, receiver)
    assert sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"LastName": "Lee"}).status_code == 204
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["changedFields"] == ["LastModifiedDate"]
    assert set(_fields(event)) == {"LastModifiedDate"}


def test_campaign_member_events_are_off_until_the_entity_is_selected(sim: SalesforceSim, receiver: Receiver) -> None:
    assert sim.http.get("/_sim/config").json()["cdc_entities"] == ["Lead", "Contact"]
    campaign_id = sim.create("Campaign")
    _cdc(sim, receiver)
    sim.create("CampaignMember", CampaignId=campaign_id, LeadId=sim.create())
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["entityName"] == "Lead"
    selected = sim.configure(cdc_entities=["lead", "campaign", "campaignmember"])
    assert selected["cdc_entities"] == ["Lead", "Campaign", "CampaignMember"]
    assert sim.http.post("/_sim/config", json={"cdc_entities": ["Opportunity"]}).status_code == 422


def test_a_campaign_member_create_carries_its_campaign_person_and_status(
    sim: SalesforceSim, receiver: Receiver
) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    _cdc(sim, receiver, cdc_entities=["CampaignMember"])
    member_id = sim.create("CampaignMember", CampaignId=campaign_id, LeadId=lead_id)
    [event] = _wait_events(sim, receiver, 1)
    header = _header(event)
    assert header["entityName"] == "CampaignMember" and header["changeType"] == "CREATE"
    assert header["recordIds"] == [member_id] and header["changedFields"] == []
    assert header["changeOrigin"] == "com/salesforce/api/rest/62.0"
    fields = _fields(event)
    assert fields["CampaignId"] == campaign_id and fields["LeadId"] == lead_id
    assert fields["Status"] == "Sent" and fields["HasResponded"] is False
    assert fields["CreatedDate"].endswith("Z") and fields["CreatedById"].startswith("005")
    for absent in ("Id", "IsDeleted", "SystemModstamp", "ContactId", "OwnerId", "FirstRespondedDate"):
        assert absent not in fields


def test_a_campaign_member_status_change_and_delete(sim: SalesforceSim, receiver: Receiver) -> None:
    campaign_id, contact_id = sim.create("Campaign"), sim.create("Contact")
    member_id = sim.create("CampaignMember", CampaignId=campaign_id, ContactId=contact_id)
    _cdc(sim, receiver, cdc_entities=["CampaignMember"])
    sim.http.patch(f"/_sim/records/CampaignMember/{member_id}", json={"Status": "Responded"})
    assert sim.api.delete(f"/sobjects/CampaignMember/{member_id}").status_code == 204
    updated, deleted = _wait_events(sim, receiver, 2)
    assert _header(updated)["changeType"] == "UPDATE" and _header(updated)["changeOrigin"] == ""
    assert set(_header(updated)["changedFields"]) >= {"Status", "HasResponded", "FirstRespondedDate"}
    assert _fields(updated)["Status"] == "Responded" and _fields(updated)["HasResponded"] is True
    assert _header(deleted)["changeType"] == "DELETE" and _header(deleted)["recordIds"] == [member_id]
    assert _fields(deleted) == {}


def test_a_deleted_lead_hides_its_memberships_without_member_events(sim: SalesforceSim, receiver: Receiver) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    sim.create("CampaignMember", CampaignId=campaign_id, LeadId=lead_id)
    _cdc(sim, receiver, cdc_entities=["Lead", "CampaignMember"])
    sim.api.delete(f"/sobjects/Lead/{lead_id}")
    [event] = _wait_events(sim, receiver, 1)
    assert _header(event)["entityName"] == "Lead" and _header(event)["changeType"] == "DELETE"
