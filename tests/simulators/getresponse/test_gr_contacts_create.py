"""Creating contacts: 202 without an id, asynchronous, validated first (api-contracts B6, C8)."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.getresponse import seed
from tests.fixtures.polling import eventually
from tests.simulators.getresponse.harness import GetResponseHarness, assert_error


def values(field_id: str, *items: Any) -> dict[str, Any]:
    return {"customFieldValues": [{"customFieldId": field_id, "value": list(items)}]}


def test_create_is_202_with_an_empty_body_and_appears_only_later(gr: GetResponseHarness) -> None:
    gr.configure(create_delay_ms=300)
    response = gr.api.post("/contacts", json=gr.contact_body("later@example.com", name="Pat Lee"))
    assert response.status_code == 202
    assert response.content == b""
    assert "location" not in response.headers
    assert gr.find("later@example.com") is None
    assert gr.control.get("/idle").json() == {"idle": False}
    pending = gr.control.get("/contacts", params={"email": "later@example.com"}).json()
    assert [c["state"] for c in pending] == ["pending"]
    contact = eventually(lambda: gr.find("later@example.com"), what="the queued contact")
    assert contact["name"] == "Pat Lee" and contact["origin"] == "api"


def test_second_create_of_the_same_email_on_the_same_list_is_409_even_while_queued(
    gr: GetResponseHarness,
) -> None:
    gr.configure(create_delay_ms=300)
    assert gr.api.post("/contacts", json=gr.contact_body("dup@example.com")).status_code == 202
    assert_error(gr.api.post("/contacts", json=gr.contact_body("DUP@example.com")), 409, 1008)
    eventually(lambda: gr.find("dup@example.com"))
    assert_error(gr.api.post("/contacts", json=gr.contact_body("dup@example.com")), 409, 1008)


def test_the_same_email_on_two_lists_is_two_contacts(gr: GetResponseHarness) -> None:
    first = gr.create("two@example.com")
    body = {"email": "two@example.com", "campaign": {"campaignId": seed.SECOND_CAMPAIGN_ID}}
    assert gr.api.post("/contacts", json=body).status_code == 202
    second = eventually(lambda: gr.find("two@example.com", seed.SECOND_CAMPAIGN_ID))
    assert second["contactId"] != first


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "no-at-sign", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}}, "email"),
        ({"email": "a@b", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}}, "email"),
        ({"email": "ok@example.com"}, "campaign"),
        ({"email": "ok@example.com", "campaign": {}}, "campaign.campaignId"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "name": ""}, "name"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "name": "x" * 129}, "name"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "dayOfCycle": 0}, "dayOfCycle"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "scoring": "8"}, "scoring"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "ipAddress": "1.2.3"}, "ipAddress"),
        ({"email": "ok@example.com", "campaign": {"campaignId": seed.DEFAULT_CAMPAIGN_ID}, "contactId": "x"}, "contactId"),
    ],
)  # fmt: skip
def test_invalid_bodies_are_400_1000_naming_the_field(
    gr: GetResponseHarness, body: dict[str, Any], field: str
) -> None:
    error = assert_error(gr.api.post("/contacts", json=body), 400, 1000)
    assert error["context"]["fieldName"].startswith(field), error["context"]


def test_a_complete_body_is_accepted(gr: GetResponseHarness) -> None:
    body = gr.contact_body(
        "full@example.com",
        name="Pat Lee",
        dayOfCycle="42",
        scoring=8,
        note="from the fair",
        ipAddress="1.2.3.4",
        tags=[{"tagId": seed.VIP_TAG_ID}],
        customFieldValues=[
            {"customFieldId": seed.PHONE_FIELD_ID, "value": ["+48600100200"]},
            {"customFieldId": seed.COUNTRY_FIELD_ID, "value": ["United States"]},
        ],
    )
    assert gr.api.post("/contacts", json=body).status_code == 202
    contact_id = eventually(lambda: gr.find("full@example.com"))["contactId"]
    details = gr.api.get(f"/contacts/{contact_id}").json()
    assert (details["dayOfCycle"], details["scoring"], details["ipAddress"]) == ("42", 8, "1.2.3.4")
    assert [t["tagId"] for t in details["tags"]] == [seed.VIP_TAG_ID]


def test_unknown_list_is_400_1001(gr: GetResponseHarness) -> None:
    body = {"email": "ok@example.com", "campaign": {"campaignId": "nope1"}}
    assert assert_error(gr.api.post("/contacts", json=body), 400, 1001)["context"] == {"campaignId": "nope1"}


def test_unknown_custom_field_or_tag_is_400_1001(gr: GetResponseHarness) -> None:
    assert_error(
        gr.api.post("/contacts", json=gr.contact_body("a@example.com", **values("nope1", "x"))), 400, 1001
    )
    body = gr.contact_body("a@example.com", tags=[{"tagId": "nope1"}])
    assert_error(gr.api.post("/contacts", json=body), 400, 1001)


@pytest.mark.parametrize(
    ("field_id", "good", "bad"),
    [
        (seed.PHONE_FIELD_ID, "+48600100200", "600100200"),
        (seed.PHONE_FIELD_ID, "+14155552671", "+48 600 100 200"),
        (seed.PHONE_FIELD_ID, "+442071838750", "+1234"),
        (seed.COUNTRY_FIELD_ID, "Poland", "PL"),
        (seed.COUNTRY_FIELD_ID, "United States", "USA"),
        (seed.EMPLOYEES_FIELD_ID, "250", "many"),
        (seed.BIRTHDATE_FIELD_ID, "1990-05-17", "17/05/1990"),
        (seed.WEBSITE_FIELD_ID, "https://example.com/x", "example.com"),
        (seed.GENDER_FIELD_ID, "Female", "F"),
        (seed.LEAD_STATUS_FIELD_ID, "Working", "Closed"),
        (seed.INTERESTS_FIELD_ID, "crm", "fishing"),
    ],
)
def test_typed_custom_field_values(gr: GetResponseHarness, field_id: str, good: str, bad: str) -> None:
    refused = gr.api.post("/contacts", json=gr.contact_body("typed@example.com", **values(field_id, bad)))
    context = assert_error(refused, 400, 1000)["context"]
    definition = next(f for f in seed.CUSTOM_FIELDS if f.field_id == field_id)
    assert context["fieldName"] == "customFieldValues" and context["originalName"] == definition.name
    accepted = gr.api.post("/contacts", json=gr.contact_body("typed@example.com", **values(field_id, good)))
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize(
    "entry",
    [
        {"customFieldId": seed.COMPANY_FIELD_ID, "value": "Acme"},
        {"customFieldId": seed.EMPLOYEES_FIELD_ID, "value": [250]},
        {"customFieldId": seed.COMPANY_FIELD_ID, "value": []},
        {"customFieldId": seed.COMPANY_FIELD_ID, "value": ["Acme", "Other"]},
        {"customFieldId": seed.LEAD_STATUS_FIELD_ID, "value": ["New", "Working"]},
        {"customFieldId": seed.COMPANY_FIELD_ID, "values": ["Acme"]},
    ],
)
def test_values_are_one_array_of_strings(gr: GetResponseHarness, entry: dict[str, Any]) -> None:
    body = gr.contact_body("arr@example.com", customFieldValues=[entry])
    assert_error(gr.api.post("/contacts", json=body), 400, 1000)


def test_multi_select_takes_several_values(gr: GetResponseHarness) -> None:
    body = gr.contact_body("multi@example.com", **values(seed.INTERESTS_FIELD_ID, "crm", "ads"))
    assert gr.api.post("/contacts", json=body).status_code == 202


def test_emails_at_rejected_domains_vanish_after_the_202(gr: GetResponseHarness) -> None:
    assert gr.api.post("/contacts", json=gr.contact_body("ghost@invalid.example")).status_code == 202
    gr.wait_idle()
    assert gr.find("ghost@invalid.example") is None
    states = [
        c["state"] for c in gr.control.get("/contacts", params={"email": "ghost@invalid.example"}).json()
    ]
    assert states == ["rejected"]
    assert gr.webhooks() == []


def test_blacklisted_emails_are_400_1002(gr: GetResponseHarness) -> None:
    gr.configure(blacklisted_emails=["spam@example.com", "@blocked.example"])
    assert_error(gr.api.post("/contacts", json=gr.contact_body("spam@example.com")), 400, 1002)
    assert_error(gr.api.post("/contacts", json=gr.contact_body("any@blocked.example")), 400, 1002)


def test_people_who_unsubscribed_or_bounced_cannot_be_added_back_by_api(gr: GetResponseHarness) -> None:
    for action, email in (("unsubscribe", "gone@example.com"), ("bounce", "bounced@example.com")):
        contact_id = gr.subscribe(email)
        gr.control.post(f"/contacts/{contact_id}/{action}").raise_for_status()
        assert_error(gr.api.post("/contacts", json=gr.contact_body(email)), 400, 1002)


def test_a_contact_deleted_through_the_api_can_be_added_again(gr: GetResponseHarness) -> None:
    first = gr.create("again@example.com")
    assert gr.api.delete(f"/contacts/{first}").status_code == 204
    assert gr.create("again@example.com") != first


def test_the_strict_reading_refuses_to_add_back_a_deleted_contact(gr: GetResponseHarness) -> None:
    gr.configure(readd_after_api_delete=False)
    contact_id = gr.create("strict@example.com")
    gr.api.delete(f"/contacts/{contact_id}")
    assert_error(gr.api.post("/contacts", json=gr.contact_body("strict@example.com")), 400, 1002)


def test_batch_create_is_202_and_queues_every_contact(gr: GetResponseHarness) -> None:
    body = {
        "campaignId": seed.DEFAULT_CAMPAIGN_ID,
        "contacts": [
            {"email": "b1@example.com", "name": "B One", "tags": {"ids": [seed.VIP_TAG_ID]}},
            {"email": "b2@example.com", **values(seed.COMPANY_FIELD_ID, "Acme")},
        ],
    }
    response = gr.api.post("/contacts/batch", json=body)
    assert response.status_code == 202 and response.content == b""
    eventually(lambda: gr.find("b1@example.com") and gr.find("b2@example.com"), what="the batch")


def test_batch_skips_emails_already_on_the_list(gr: GetResponseHarness) -> None:
    existing = gr.create("old@example.com", name="Old")
    body = {"campaignId": seed.DEFAULT_CAMPAIGN_ID, "contacts": [{"email": "old@example.com", "name": "New"}]}
    assert gr.api.post("/contacts/batch", json=body).status_code == 202
    gr.wait_idle()
    assert gr.api.get(f"/contacts/{existing}").json()["name"] == "Old"


@pytest.mark.parametrize(
    "body",
    [
        {"campaignId": seed.DEFAULT_CAMPAIGN_ID, "contacts": []},
        {
            "campaignId": seed.DEFAULT_CAMPAIGN_ID,
            "contacts": [{"email": f"m{i}@example.com"} for i in range(1001)],
        },
        {"campaignId": seed.DEFAULT_CAMPAIGN_ID, "contacts": [{"email": "ok@example.com"}, {"email": "bad"}]},
        {"contacts": [{"email": "ok@example.com"}]},
    ],
)
def test_batch_validation(gr: GetResponseHarness, body: dict[str, Any]) -> None:
    gr.configure(batch_rate_per_second=100)
    assert_error(gr.api.post("/contacts/batch", json=body), 400, 1000)
    gr.wait_idle()
    assert gr.control.get("/contacts").json() == []


def test_batch_to_an_unknown_list_is_400_1001(gr: GetResponseHarness) -> None:
    body = {"campaignId": "nope1", "contacts": [{"email": "ok@example.com"}]}
    assert_error(gr.api.post("/contacts/batch", json=body), 400, 1001)


def test_double_opt_in_contacts_stay_invisible_until_confirmed(gr: GetResponseHarness) -> None:
    created = gr.api.post("/campaigns", json={"name": "double_list", "optinTypes": {"api": "double"}})
    campaign_id = created.json()["campaignId"]
    assert gr.api.get(f"/campaigns/{campaign_id}").json()["optinTypes"]["api"] == "double"
    body = {"email": "dbl@example.com", "campaign": {"campaignId": campaign_id}}
    assert gr.api.post("/contacts", json=body).status_code == 202
    gr.wait_idle()
    assert gr.find("dbl@example.com", campaign_id) is None
    (contact,) = gr.control.get("/contacts", params={"email": "dbl@example.com"}).json()
    assert contact["state"] == "unconfirmed"
    assert gr.webhooks() == []
    assert_error(gr.api.post("/contacts", json=body), 409, 1008)
    assert gr.control.post(f"/contacts/{contact['contactId']}/confirm").status_code == 200
    confirmed = gr.find("dbl@example.com", campaign_id)
    assert confirmed is not None and confirmed["contactId"] == contact["contactId"]
    assert gr.receiver.wait_for(1)[0].body["type"] == "contact_added"


def test_opt_in_types_are_single_or_double(gr: GetResponseHarness) -> None:
    body = {"name": "weird_list", "optinTypes": {"api": "triple"}}
    assert_error(gr.api.post("/campaigns", json=body), 400, 1000)
