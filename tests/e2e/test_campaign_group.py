"""A sync whose group is a Salesforce Campaign, end to end: created through the control API on a
list of its own, the first sync takes the Campaign's members only, joining the Campaign puts a
person on the list, a non-member's edits stay out, and a person who comes from the list joins the
Campaign, so that their Salesforce edits reach the list too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.domain.groups import same_salesforce_id
from devstack.defaults import COMPANY_FIELD, DEMO_MAPPING
from tests.e2e.harness import Harness, unique_email


@dataclass(frozen=True)
class CampaignSync:
    sync_id: str
    list_id: str
    campaign_id: str


def _new_list(e2e: Harness) -> str:
    key = e2e.stack.info["getresponse_api_key"]
    with httpx.Client(base_url=e2e.stack.info["getresponse"], timeout=10) as gr:
        created = gr.post("/campaigns", json={"name": f"campaign_group_{uuid.uuid4().hex[:8]}"},
                          headers={"X-Auth-Token": f"api-key {key}"})
    assert created.status_code == 201, created.text
    list_id: str = created.json()["campaignId"]
    return list_id


def _sync_body(list_id: str, campaign_id: str) -> dict[str, Any]:
    return {
        "name": "campaign group e2e", "campaign_id": list_id, "salesforce_objects": ["Lead"],
        "salesforce_campaign_id": campaign_id, "create_as": "Lead", "lead_source": "GetResponse",
        "preferred_system": "salesforce", "marker_field": "GRdeleted__c",
        "mapping": DEMO_MAPPING.model_dump(mode="json"), "first_sync": True,
    }


@pytest.fixture
def campaign_sync(e2e: Harness, api: httpx.Client) -> Iterator[CampaignSync]:
    list_id = _new_list(e2e)
    campaign_id = e2e.sf_create("Campaign", Name=f"Webinar {uuid.uuid4().hex[:6]}", IsActive=True)
    created = api.post("/v1/syncs", json=_sync_body(list_id, campaign_id))
    assert created.status_code == 201, created.text
    sync_id = created.json()["id"]
    try:
        yield CampaignSync(sync_id, list_id, campaign_id)
    finally:
        api.post(f"/v1/syncs/{sync_id}/cancel")


def _lead(e2e: Harness, tag: str) -> tuple[str, str]:
    email = unique_email(tag)
    return email, e2e.sf_create("Lead", FirstName="Cam", LastName="Paign", Email=email, Company="Before")


def _members(e2e: Harness, campaign_id: str) -> set[str]:
    return {
        m["LeadId"] for m in e2e.sf_records("CampaignMember")
        if m.get("LeadId") and same_salesforce_id(m["CampaignId"], campaign_id)
    }


def test_a_campaign_that_does_not_exist_is_refused_with_its_field(e2e: Harness, api: httpx.Client) -> None:
    missing = api.post("/v1/syncs", json=_sync_body(_new_list(e2e), "701000000000002"))
    assert missing.status_code == 422, missing.text
    assert "no Campaign 701000000000002" in missing.text
    assert "salesforce_campaign_id" in missing.text
    malformed = api.post("/v1/syncs", json=_sync_body(_new_list(e2e), "00Q000000000001"))
    assert malformed.status_code == 422
    assert "salesforce_campaign_id" in malformed.text


def test_a_campaign_group_syncs_its_members_and_whoever_joins_it(
    e2e: Harness, api: httpx.Client, campaign_sync: CampaignSync
) -> None:
    sync = campaign_sync
    members = [_lead(e2e, "member") for _ in range(3)]
    for _, lead_id in members:
        e2e.sf_create("CampaignMember", CampaignId=sync.campaign_id, LeadId=lead_id)
    outsider_email, outsider_id = _lead(e2e, "outsider")
    e2e.wait_quiet()

    first = api.post(f"/v1/syncs/{sync.sync_id}/first-sync", params={"wait": 60})
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "done", first.json()
    for email, _ in members:
        e2e.until(lambda email=email: e2e.gr_active(email, sync.list_id), within=20, what=f"{email} on the list")
    assert e2e.gr_active(outsider_email, sync.list_id) is None

    # Joining the Campaign is a CampaignMember created: its change event puts the person on the list.
    e2e.sf_create("CampaignMember", CampaignId=sync.campaign_id, LeadId=outsider_id)
    e2e.until(lambda: e2e.gr_active(outsider_email, sync.list_id), within=10, what="new member on the list")

    # Someone outside the Campaign: edits stay out of the list.
    stranger_email, stranger_id = _lead(e2e, "stranger")
    e2e.sf_update(stranger_id, Company="Still outside")
    e2e.wait_quiet()
    assert e2e.gr_active(stranger_email, sync.list_id) is None

    # A signup on the list becomes a Lead that joins the Campaign, so its Salesforce edits come back.
    signup = unique_email("signup")
    response = e2e.gr.post("/_sim/contacts", json={"email": signup, "name": "Sig Nup", "campaignId": sync.list_id,
                                                   "customFieldValues": [{"customFieldId": COMPANY_FIELD,
                                                                          "value": ["Signups Ltd"]}]})
    assert response.status_code < 300, response.text
    (lead,), _ = e2e.until(lambda: e2e.sf_by_email(signup), within=10, what="lead from the signup")
    e2e.until(lambda: lead["Id"] in _members(e2e, sync.campaign_id), within=10, what="signup in the Campaign")
    e2e.wait_quiet()
    e2e.sf_update(lead["Id"], Company="Edited in Salesforce")
    e2e.until(
        lambda: e2e.custom(e2e.gr_active(signup, sync.list_id) or {}, COMPANY_FIELD) == "Edited in Salesforce",
        within=10, what="the member's edit on the list",
    )


def test_without_member_events_a_new_member_arrives_with_their_next_edit_and_one_who_leaves_stays(
    e2e: Harness, api: httpx.Client, campaign_sync: CampaignSync
) -> None:
    sync = campaign_sync
    first = api.post(f"/v1/syncs/{sync.sync_id}/first-sync", params={"wait": 60})
    assert first.status_code == 200 and first.json()["state"] == "done", first.text
    email, lead_id = _lead(e2e, "quiet")
    # The Lead's own create is handled before it joins: handled after, it would find the person a
    # member already, and bring them onto the list as it should.
    e2e.wait_quiet()
    e2e.sf.post("/_sim/config", json={"cdc_entities": ["Lead", "Contact"]}).raise_for_status()
    try:
        member_id = e2e.sf_create("CampaignMember", CampaignId=sync.campaign_id, LeadId=lead_id)
        e2e.wait_quiet()
        assert e2e.gr_active(email, sync.list_id) is None  # nothing told the sync
        e2e.sf_update(lead_id, Company="Edited after joining")
        contact, _ = e2e.until(lambda: e2e.gr_active(email, sync.list_id), within=10, what="member on the list")
        assert e2e.custom(contact, COMPANY_FIELD) == "Edited after joining"
        e2e.wait_quiet()
        # Leaving the Campaign keeps the person on the list as they are; their edits stop coming.
        e2e.sf_delete(member_id, "CampaignMember")
        e2e.sf_update(lead_id, Company="Edited after leaving")
        e2e.wait_quiet()
        assert e2e.custom(e2e.gr_active(email, sync.list_id) or {}, COMPANY_FIELD) == "Edited after joining"
    finally:
        e2e.sf.post("/_sim/config", json={"cdc_entities": ["Lead", "Contact", "CampaignMember"]})
