"""Campaign and CampaignMember rows over REST and the control API (Object Reference, "Campaign",
"CampaignMember")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulators.salesforce import ids
from tests.simulators.salesforce.harness import API, SalesforceSim

# SOQL built from ids the simulator made, as the sync builds it: not SQL.
# ruff: noqa: S608


def _member(sim: SalesforceSim, campaign_id: str, **person: str) -> str:
    return sim.create("CampaignMember", CampaignId=campaign_id, **person)


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    [error] = response.json()
    assert isinstance(error, dict)
    return error


def _by_name(describe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in describe["fields"]}


def test_a_campaign_is_created_read_and_described(sim: SalesforceSim) -> None:
    created = sim.api.post("/sobjects/Campaign", json={"Name": "Spring Webinar", "IsActive": True})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert ids.is_valid(campaign_id, ids.CAMPAIGN_PREFIX)
    record = sim.api.get(f"/sobjects/Campaign/{campaign_id}").json()
    assert record["attributes"] == {"type": "Campaign", "url": f"{API}/sobjects/Campaign/{campaign_id}"}
    assert record["Name"] == "Spring Webinar" and record["IsActive"] is True
    assert record["Type"] is None and record["OwnerId"].startswith("005") and record["IsDeleted"] is False
    describe = sim.api.get("/sobjects/Campaign/describe").json()
    assert describe["keyPrefix"] == "701" and describe["undeletable"] is True
    fields = _by_name(describe)
    assert fields["Name"]["length"] == 80 and fields["Name"]["nillable"] is False
    assert fields["Name"]["createable"] is True and fields["Name"]["calculated"] is False
    assert fields["IsActive"]["defaultedOnCreate"] is True and fields["IsActive"]["defaultValue"] is False
    assert "Conference" in [v["value"] for v in fields["Type"]["picklistValues"]]
    listed = [d["name"] for d in sim.api.get("/sobjects").json()["sobjects"]]
    assert listed == ["Lead", "Contact", "Campaign", "CampaignMember"]


def test_a_campaign_needs_a_name_of_at_most_80_characters(sim: SalesforceSim) -> None:
    missing = _error(sim.api.post("/sobjects/Campaign", json={"IsActive": True}))
    assert missing["errorCode"] == "REQUIRED_FIELD_MISSING" and missing["fields"] == ["Name"]
    too_long = _error(sim.api.post("/sobjects/Campaign", json={"Name": "x" * 81}))
    assert too_long["errorCode"] == "STRING_TOO_LONG"
    assert sim.create("Campaign", Name="x" * 80)


def test_a_campaign_member_links_a_lead_with_the_default_status(sim: SalesforceSim) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    member_id = _member(sim, campaign_id[:15], LeadId=lead_id[:15])  # 15-character ids are ids too
    assert ids.is_valid(member_id, ids.CAMPAIGN_MEMBER_PREFIX)
    record = sim.api.get(f"/sobjects/CampaignMember/{member_id}").json()
    assert record["CampaignId"] == campaign_id and record["LeadId"] == lead_id
    assert record["ContactId"] is None
    assert record["Status"] == "Sent" and record["HasResponded"] is False
    assert record["FirstRespondedDate"] is None and "OwnerId" not in record


def test_campaign_member_describe_shows_create_only_links_and_no_recycle_bin(sim: SalesforceSim) -> None:
    describe = sim.api.get("/sobjects/CampaignMember/describe").json()
    assert describe["keyPrefix"] == "00v" and describe["label"] == "Campaign Member"
    assert describe["undeletable"] is False
    fields = _by_name(describe)
    for name, target in (("CampaignId", "Campaign"), ("LeadId", "Lead"), ("ContactId", "Contact")):
        assert fields[name]["type"] == "reference" and fields[name]["referenceTo"] == [target]
        assert fields[name]["createable"] is True and fields[name]["updateable"] is False
        assert fields[name]["relationshipName"] == target
    assert fields["CampaignId"]["nillable"] is False and fields["LeadId"]["nillable"] is True
    status = fields["Status"]
    assert status["defaultedOnCreate"] is True and status["updateable"] is True
    assert [(v["value"], v["defaultValue"]) for v in status["picklistValues"]] == [
        ("Sent", True),
        ("Responded", False),
    ]
    assert fields["HasResponded"]["updateable"] is False and fields["HasResponded"]["createable"] is False


def test_a_member_needs_a_campaign_and_a_lead_or_contact(sim: SalesforceSim) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    no_person = _error(sim.api.post("/sobjects/CampaignMember", json={"CampaignId": campaign_id}))
    assert no_person["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert no_person["fields"] == ["LeadId", "ContactId"]
    no_campaign = _error(sim.api.post("/sobjects/CampaignMember", json={"LeadId": lead_id}))
    assert no_campaign["errorCode"] == "REQUIRED_FIELD_MISSING" and no_campaign["fields"] == ["CampaignId"]


def test_a_member_given_both_a_lead_and_a_contact_keeps_only_the_contact(sim: SalesforceSim) -> None:
    campaign_id, lead_id, contact_id = sim.create("Campaign"), sim.create(), sim.create("Contact")
    member_id = _member(sim, campaign_id, LeadId=lead_id, ContactId=contact_id)
    record = sim.record("CampaignMember", member_id)
    assert record["ContactId"] == contact_id and record["LeadId"] is None


def test_a_second_member_for_the_same_campaign_and_person_is_a_duplicate_value(sim: SalesforceSim) -> None:
    campaign_id, other_campaign = sim.create("Campaign"), sim.create("Campaign", Name="Other")
    lead_id, contact_id = sim.create(), sim.create("Contact")
    _member(sim, campaign_id, LeadId=lead_id)
    again = sim.api.post("/sobjects/CampaignMember", json={"CampaignId": campaign_id, "LeadId": lead_id[:15]})
    assert _error(again) == {
        "message": "Already a campaign member.",
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }
    assert _member(sim, other_campaign, LeadId=lead_id)  # the same Lead in another Campaign
    assert _member(sim, campaign_id, ContactId=contact_id)  # someone else in the same Campaign
    twice = [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": other_campaign, "ContactId": contact_id}
    ] * 2
    results = sim.api.post("/composite/sobjects", json={"records": twice}).json()
    assert results[0]["success"] is True
    assert results[1]["errors"] == [
        {"statusCode": "DUPLICATE_VALUE", "message": "Already a campaign member.", "fields": []}
    ]


def test_member_links_must_name_live_records_of_their_type(sim: SalesforceSim) -> None:
    campaign_id, lead_id, contact_id = sim.create("Campaign"), sim.create(), sim.create("Contact")
    absent_campaign = ids.to18("7015g0000000001")

    def refused(**body: str) -> dict[str, Any]:
        return _error(sim.api.post("/sobjects/CampaignMember", json=body))

    unknown = refused(CampaignId=absent_campaign, LeadId=lead_id)
    assert unknown["errorCode"] == "INVALID_CROSS_REFERENCE_KEY" and unknown["fields"] == ["CampaignId"]
    wrong_type = refused(CampaignId=campaign_id, ContactId=lead_id)
    assert wrong_type["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and wrong_type["fields"] == ["ContactId"]
    assert wrong_type["message"] == f"Contact ID: id value of incorrect type: {lead_id}"
    malformed = refused(CampaignId=campaign_id, LeadId="00Q-not-an-id")
    assert malformed["errorCode"] == "MALFORMED_ID"
    sim.api.delete(f"/sobjects/Contact/{contact_id}")
    deleted = refused(CampaignId=campaign_id, ContactId=contact_id)
    assert deleted["errorCode"] == "ENTITY_IS_DELETED" and deleted["fields"] == ["ContactId"]


def test_a_members_status_can_change_but_its_links_cannot(sim: SalesforceSim) -> None:
    campaign_id, lead_id, other_lead = sim.create("Campaign"), sim.create(), sim.create()
    member_id = _member(sim, campaign_id, LeadId=lead_id)
    assert (
        sim.api.patch(f"/sobjects/CampaignMember/{member_id}", json={"Status": "Responded"}).status_code
        == 204
    )
    responded = sim.record("CampaignMember", member_id)
    assert responded["HasResponded"] is True
    assert responded["FirstRespondedDate"] == datetime.now(UTC).date().isoformat()
    relink = _error(sim.api.patch(f"/sobjects/CampaignMember/{member_id}", json={"LeadId": other_lead}))
    assert relink["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and relink["fields"] == ["LeadId"]
    # A status the Campaign does not have becomes its default status, as the API documents.
    assert sim.api.patch(f"/sobjects/CampaignMember/{member_id}", json={"Status": "Bogus"}).status_code == 204
    reset = sim.record("CampaignMember", member_id)
    assert reset["Status"] == "Sent" and reset["HasResponded"] is False
    assert reset["FirstRespondedDate"] == responded["FirstRespondedDate"]


def test_deleting_a_member_is_a_hard_delete(sim: SalesforceSim) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    member_id = _member(sim, campaign_id, LeadId=lead_id)
    assert sim.api.delete(f"/sobjects/CampaignMember/{member_id}").status_code == 204
    gone = sim.api.get(f"/sobjects/CampaignMember/{member_id}")
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"
    assert sim.api.delete(f"/sobjects/CampaignMember/{member_id}").json()[0]["errorCode"] == "NOT_FOUND"
    every = sim.api.get("/queryAll", params={"q": "SELECT Id FROM CampaignMember"}).json()
    assert every["totalSize"] == 0
    assert sim.http.get("/_sim/records/CampaignMember").json() == []
    assert sim.http.post(f"/_sim/records/CampaignMember/{member_id}/undelete").status_code == 404
    assert _member(sim, campaign_id, LeadId=lead_id)  # and the Lead can join again


def test_members_of_a_deleted_lead_or_campaign_stop_matching_until_it_is_undeleted(sim: SalesforceSim) -> None:
    campaign_id, lead_id = sim.create("Campaign"), sim.create()
    member_id = _member(sim, campaign_id, LeadId=lead_id)
    soql = f"SELECT Id FROM CampaignMember WHERE CampaignId = '{campaign_id}'"
    assert sim.api.get("/query", params={"q": soql}).json()["totalSize"] == 1
    for sobject, record_id in (("Lead", lead_id), ("Campaign", campaign_id)):
        assert sim.api.delete(f"/sobjects/{sobject}/{record_id}").status_code == 204
        assert sim.api.get("/query", params={"q": soql}).json()["totalSize"] == 0
        [row] = sim.api.get("/queryAll", params={"q": soql.replace("Id FROM", "Id, IsDeleted FROM")}).json()[
            "records"
        ]
        assert row["Id"] == member_id and row["IsDeleted"] is True
        read = sim.api.get(f"/sobjects/CampaignMember/{member_id}")
        assert read.status_code == 404 and read.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
        assert sim.http.post(f"/_sim/records/{sobject}/{record_id}/undelete").status_code == 200
        assert sim.api.get("/query", params={"q": soql}).json()["totalSize"] == 1


def test_the_control_api_seeds_and_edits_campaigns_and_members_as_the_ui(sim: SalesforceSim) -> None:
    created = sim.http.post("/_sim/records/Campaign", json={"Name": "Webinar", "IsActive": True})
    assert created.status_code == 201
    campaign_id = created.json()["id"]
    lead_id = sim.create()
    joined = sim.http.post(
        "/_sim/records/CampaignMember", json={"CampaignId": campaign_id, "LeadId": lead_id}
    )
    assert joined.status_code == 201
    member_id = joined.json()["id"]
    config = sim.http.get("/_sim/config").json()
    member = sim.record("CampaignMember", member_id)
    assert member["CreatedById"] == config["ui_user_id"] and member["Status"] == "Sent"
    assert [m["Id"] for m in sim.http.get("/_sim/records/CampaignMember").json()] == [member_id]
    patched = sim.http.patch(f"/_sim/records/CampaignMember/{member_id}", json={"Status": "Responded"})
    assert patched.json() == {"id": member_id}
    assert sim.record("CampaignMember", member_id)["HasResponded"] is True
    duplicate = sim.http.post(
        "/_sim/records/CampaignMember", json={"CampaignId": campaign_id, "LeadId": lead_id}
    )
    assert duplicate.status_code == 400 and duplicate.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    assert (
        sim.http.patch(f"/_sim/records/Campaign/{campaign_id}", json={"IsActive": False}).status_code == 200
    )
    assert sim.record("Campaign", campaign_id)["IsActive"] is False
    assert sim.http.delete(f"/_sim/records/CampaignMember/{member_id}").json() == {"id": member_id}
    assert sim.http.get(f"/_sim/records/CampaignMember/{member_id}").status_code == 404


def test_converting_a_lead_gives_its_memberships_the_contact(sim: SalesforceSim) -> None:
    first, second = sim.create("Campaign", Name="First"), sim.create("Campaign", Name="Second")
    lead_id, contact_id = sim.create(), sim.create("Contact")
    kept = _member(sim, first, LeadId=lead_id)
    carried = _member(sim, second, LeadId=lead_id)
    _member(sim, first, ContactId=contact_id)  # the Contact is already in the first Campaign
    response = sim.http.post(f"/_sim/records/Lead/{lead_id}/convert", json={"contactId": contact_id})
    assert response.status_code == 200
    assert sim.record("CampaignMember", carried)["ContactId"] == contact_id
    assert sim.record("CampaignMember", carried)["LeadId"] == lead_id
    assert sim.record("CampaignMember", kept)["ContactId"] is None


def test_plain_queries_read_campaigns_and_members(sim: SalesforceSim) -> None:
    campaign_id = sim.create("Campaign", Name="Spring Webinar", IsActive=True)
    sim.create("Campaign", Name="Autumn Fair")
    lead_id = sim.create()
    _member(sim, campaign_id, LeadId=lead_id)
    soql = f"SELECT Id, Name, IsActive FROM Campaign WHERE Id = '{campaign_id[:15]}'"
    [campaign] = sim.api.get("/query", params={"q": soql}).json()["records"]
    assert campaign == {
        "attributes": {"type": "Campaign", "url": f"{API}/sobjects/Campaign/{campaign_id}"},
        "Id": campaign_id,
        "Name": "Spring Webinar",
        "IsActive": True,
    }
    by_name = sim.api.get("/query", params={"q": "SELECT Id FROM Campaign WHERE Name LIKE 'spring%'"}).json()
    assert [r["Id"] for r in by_name["records"]] == [campaign_id]
    members = (
        "SELECT LeadId, Status FROM CampaignMember "
        f"WHERE CampaignId = '{campaign_id}' AND Status = 'Sent' AND HasResponded = false"
    )
    [member] = sim.api.get("/query", params={"q": members}).json()["records"]
    assert member["LeadId"] == lead_id and member["Status"] == "Sent"


def test_campaign_members_have_no_outbound_message_rule(sim: SalesforceSim) -> None:
    refused = sim.http.post("/_sim/config", json={"outbound_fields": {"CampaignMember": ["CampaignId"]}})
    assert refused.status_code == 422
