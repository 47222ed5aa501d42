"""Live sync, end to end: real Postgres, real broker, both simulators, the api, the consumers and
the poller as separate processes (issue: consumers, "Done when" 1 to 4)."""

from __future__ import annotations

import time

import pytest

from devstack.defaults import COMPANY_FIELD, COUNTRY_FIELD, PHONE_FIELD
from tests.e2e.harness import Harness, unique_email

# Edits within a second or two of each other, and latencies: run alone (pyproject: serial).
pytestmark = pytest.mark.serial


def _linked_lead(e2e: Harness, **extra: str) -> tuple[str, str, str]:
    email = unique_email("lead")
    lead_id = e2e.sf_create("Lead", FirstName="Pat", LastName="Lee", Email=email, Company="Acme", **extra)
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="contact on the list")
    e2e.wait_quiet()
    return email, lead_id, contact["contactId"]


def test_lead_created_in_salesforce_is_on_the_mapped_list_within_two_seconds(e2e: Harness) -> None:
    email = unique_email("fast")
    e2e.sf_create("Lead", FirstName="Ana", LastName="Ruiz", Email=email, Company="Acme",
                  Phone="+48 600 100 200", Country="Poland")
    contact, seconds = e2e.until(lambda: e2e.gr_active(email), within=5, what="contact on the list")
    assert seconds < 2.0, f"took {seconds:.2f} s"
    assert contact["name"] == "Ana Ruiz"
    assert e2e.custom(contact, PHONE_FIELD) == "+48600100200"
    assert e2e.custom(contact, COUNTRY_FIELD) == "Poland"
    assert e2e.custom(contact, COMPANY_FIELD) == "Acme"


def test_getresponse_edit_reaches_salesforce_within_two_seconds(e2e: Harness) -> None:
    _, lead_id, contact_id = _linked_lead(e2e)
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "Acme Worldwide"})
    _, seconds = e2e.until(
        lambda: e2e.sf_get(lead_id)["Company"] == "Acme Worldwide", within=5, what="company in Salesforce"
    )
    assert seconds < 2.0, f"took {seconds:.2f} s"


def test_a_name_edit_no_webhook_reports_reaches_salesforce_through_the_poller(e2e: Harness) -> None:
    _, lead_id, contact_id = _linked_lead(e2e)
    e2e.gr_edit(contact_id, name="Patricia Lee-Smith")
    e2e.until(lambda: e2e.sf_get(lead_id)["FirstName"] == "Patricia", within=5, what="name in Salesforce")
    assert e2e.sf_get(lead_id)["LastName"] == "Lee-Smith"


def test_a_form_signup_in_getresponse_creates_a_lead_with_the_sync_lead_source(e2e: Harness) -> None:
    email = unique_email("form")
    e2e.gr_subscribe(email, "Jo Park", **{COMPANY_FIELD: "Parks Ltd"})
    e2e.until(lambda: e2e.sf_by_email(email), within=5, what="lead in Salesforce")
    e2e.wait_quiet()
    (lead,) = e2e.sf_by_email(email)
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Jo", "Park", "Parks Ltd")
    assert lead["LeadSource"] == "GetResponse"


def test_same_field_edited_on_both_sides_converges_to_the_later_write(e2e: Harness) -> None:
    _, lead_id, contact_id = _linked_lead(e2e)
    # Hold both vendors' deliveries so that neither edit is applied before the other is made.
    e2e.faults("salesforce", delivery_delay_ms=2500)
    e2e.faults("getresponse", delivery_delay_ms=2500)
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "Earlier in GetResponse"})
    time.sleep(1.6)  # beyond the clock-skew tolerance, so the later edit is the later one
    e2e.sf_update(lead_id, Company="Later in Salesforce")
    e2e.wait_quiet(within=60)
    assert e2e.sf_get(lead_id)["Company"] == "Later in Salesforce"
    assert e2e.custom(e2e.gr_active(e2e.sf_get(lead_id)["Email"]) or {}, COMPANY_FIELD) == "Later in Salesforce"


def test_same_field_edited_on_both_sides_the_other_way_round_converges_to_getresponse(e2e: Harness) -> None:
    email, lead_id, contact_id = _linked_lead(e2e)
    e2e.faults("salesforce", delivery_delay_ms=2500)
    e2e.faults("getresponse", delivery_delay_ms=2500)
    e2e.sf_update(lead_id, Company="Earlier in Salesforce")
    # Beyond the skew tolerance (1 s) plus GetResponse's whole-second timestamps (up to 1 s earlier
    # than the edit): closer than that, the edits are simultaneous and Salesforce, preferred, wins.
    time.sleep(2.3)
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "Later in GetResponse"})
    e2e.wait_quiet(within=60)
    assert e2e.sf_get(lead_id)["Company"] == "Later in GetResponse"
    assert e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == "Later in GetResponse"


def test_simultaneous_edits_of_one_field_go_to_the_preferred_system(e2e: Harness) -> None:
    email, lead_id, contact_id = _linked_lead(e2e)
    e2e.faults("salesforce", delivery_delay_ms=2000)
    e2e.faults("getresponse", delivery_delay_ms=2000)
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "GetResponse says"})
    e2e.sf_update(lead_id, Company="Salesforce says")  # within the skew: a tie; Salesforce is preferred
    e2e.wait_quiet(within=60)
    assert e2e.sf_get(lead_id)["Company"] == "Salesforce says"
    assert e2e.custom(e2e.gr_active(email) or {}, COMPANY_FIELD) == "Salesforce says"


def test_different_fields_edited_on_both_sides_both_survive(e2e: Harness) -> None:
    email, lead_id, contact_id = _linked_lead(e2e)
    e2e.faults("salesforce", delivery_delay_ms=1500)
    e2e.faults("getresponse", delivery_delay_ms=1500)
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "Edited in GetResponse"})
    e2e.sf_update(lead_id, Phone="+44 20 7946 0018")
    e2e.wait_quiet(within=60)
    lead, contact = e2e.sf_get(lead_id), e2e.gr_active(email) or {}
    assert lead["Company"] == "Edited in GetResponse" == e2e.custom(contact, COMPANY_FIELD)
    assert e2e.custom(contact, PHONE_FIELD) == "+442079460018"


def test_no_loops_and_one_write_per_propagated_change(e2e: Harness) -> None:
    email, lead_id, contact_id = _linked_lead(e2e)
    sf_before, gr_before = e2e.last_seq("salesforce"), e2e.last_seq("getresponse")
    e2e.sf_update(lead_id, Phone="+1 212 555 0199")
    e2e.until(lambda: e2e.custom(e2e.gr_active(email) or {}, PHONE_FIELD) == "+12125550199", what="phone")
    e2e.gr_edit(contact_id, **{COMPANY_FIELD: "Loop Free Inc"})
    e2e.until(lambda: e2e.sf_get(lead_id)["Company"] == "Loop Free Inc", what="company")
    e2e.wait_quiet()
    # This person's writes: on a loaded machine another test's late work may land in the window.
    gr_writes = [w for w in e2e.writes("getresponse", since=gr_before) if contact_id in w["path"]]
    sf_writes = [w for w in e2e.writes("salesforce", since=sf_before) if lead_id in w["path"]]
    assert len(gr_writes) == 1, gr_writes  # the phone
    assert len(sf_writes) == 1, sf_writes  # the company
    assert all(w["client"] == "sfgr-sync" for w in sf_writes)
    settled = (len(e2e.calls("salesforce")), len(e2e.calls("getresponse")))
    time.sleep(3)
    assert (len(e2e.calls("salesforce")), len(e2e.calls("getresponse"))) == settled


def test_salesforce_delete_removes_from_list_and_undelete_restores(e2e: Harness) -> None:
    email, lead_id, _ = _linked_lead(e2e)
    e2e.sf_delete(lead_id)
    e2e.until(lambda: e2e.gr_active(email) is None, what="removed from the list")
    e2e.wait_quiet()
    assert not e2e.sf_get(lead_id).get("GRdeleted__c")  # our removal never marks Salesforce
    e2e.sf_undelete(lead_id)
    contact, _ = e2e.until(lambda: e2e.gr_active(email), what="back on the list")
    assert contact["name"] == "Pat Lee"


def test_unsubscribe_sets_the_marker_and_opt_out_and_resubscribe_clears_them(e2e: Harness) -> None:
    email, lead_id, contact_id = _linked_lead(e2e)
    e2e.gr_unsubscribe(contact_id)
    e2e.until(lambda: e2e.sf_get(lead_id).get("GRdeleted__c") is True, what="marker set")
    lead = e2e.sf_get(lead_id)
    assert lead["HasOptedOutOfEmail"] is True and not lead.get("IsDeleted")
    e2e.wait_quiet()
    e2e.gr_resubscribe(contact_id)
    e2e.until(lambda: e2e.sf_get(lead_id).get("GRdeleted__c") is False, what="marker cleared")
    assert e2e.sf_get(lead_id)["HasOptedOutOfEmail"] is False
    e2e.wait_quiet()
    assert len(e2e.sf_by_email(email)) == 1

