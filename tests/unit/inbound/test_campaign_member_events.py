"""Campaign membership into rereads of the members (app/inbound/campaign_members.py): joining the
Campaign of a sync's group is what puts a person on the list, though no Lead or Contact changed."""

from __future__ import annotations

from app.domain.events import CAMPAIGN_DETAIL, ChangeEvent, Kind
from app.inbound.campaign_members import as_member_rereads
from app.inbound.change_events import parse_change_events
from app.inbound.outbound_messages import outbound_change_events, parse_outbound_message
from tests.unit.inbound.payloads import cdc_event, json_body, new_id, notification, outbound_envelope

CAMPAIGN = "701" + "5g000001AbCdAAK"


def from_cdc(document: object) -> list[ChangeEvent]:
    return parse_change_events(json_body(document), connection_id="c-1", client_id="sfgr-sync").events


def test_a_lead_joining_a_campaign_is_a_reread_of_the_lead_naming_the_campaign() -> None:
    lead, member = new_id("00Q"), new_id("00v")
    events, ignored = as_member_rereads(from_cdc(cdc_event(
        "CampaignMember", "CREATE", [member], {"CampaignId": CAMPAIGN, "LeadId": lead, "Status": "Sent"}, replay_id=7
    )))
    [event] = events
    assert (event.kind, event.object_type, event.record_id) == (Kind.REREAD, "Lead", lead)
    assert event.event_id == f"cdc:7:{lead}"
    assert event.fields == {} and event.email is None
    assert event.detail[CAMPAIGN_DETAIL] == CAMPAIGN
    assert event.detail["campaign_member_id"] == member
    assert event.detail["reread"] == "record"
    assert ignored == 0


def test_a_contact_joining_by_outbound_message_is_a_reread_of_the_contact() -> None:
    contact, member = new_id("003"), new_id("00v")
    message = parse_outbound_message(outbound_envelope([
        notification(member, {"CampaignId": CAMPAIGN, "ContactId": contact, "LeadId": None},
                     object_type="CampaignMember")
    ]))
    events, ignored = as_member_rereads(outbound_change_events(message, connection_id="c-1"))
    [event] = events
    assert (event.kind, event.object_type, event.record_id) == (Kind.REREAD, "Contact", contact)
    assert event.detail[CAMPAIGN_DETAIL] == CAMPAIGN
    assert ignored == 0


def test_leaving_a_campaign_and_membership_updates_are_ignored_and_counted() -> None:
    member = new_id("00v")
    deleted = from_cdc(cdc_event("CampaignMember", "DELETE", [member], {}, replay_id=8))
    updated = from_cdc(cdc_event("CampaignMember", "UPDATE", [member], {"Status": "Responded"},
                                 changed_fields=["Status"], replay_id=9))
    events, ignored = as_member_rereads([*deleted, *updated])
    assert events == []
    assert ignored == 2


def test_events_of_leads_and_contacts_pass_through_unchanged() -> None:
    lead = new_id("00Q")
    original = from_cdc(cdc_event("Lead", "UPDATE", [lead], {"Phone": "+1"}, changed_fields=["Phone"], replay_id=10))
    events, ignored = as_member_rereads(original)
    assert events == original
    assert ignored == 0
