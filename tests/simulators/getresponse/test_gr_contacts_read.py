"""Reading and searching contacts (api-contracts B6, checklist C10)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from simulators.getresponse import seed
from tests.simulators.getresponse.harness import GetResponseHarness, assert_error

API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
DETAIL_KEYS = {
    "contactId", "href", "name", "email", "note", "origin", "dayOfCycle", "changedOn", "timeZone",
    "ipAddress", "activities", "campaign", "createdOn", "scoring", "engagementScore", "geolocation",
    "tags", "customFieldValues",
}  # fmt: skip
VALUE_KEYS = {"customFieldId", "name", "value", "values", "type", "fieldType", "valueType"}


def test_details_carry_every_documented_field(gr: GetResponseHarness) -> None:
    contact_id = gr.create(
        "pat@example.com",
        name="Pat Lee",
        tags=[{"tagId": seed.SYNCED_TAG_ID}],
        customFieldValues=[{"customFieldId": seed.PHONE_FIELD_ID, "value": ["+48600100200"]}],
    )
    details = gr.api.get(f"/contacts/{contact_id}").json()
    assert set(details) == DETAIL_KEYS
    assert details["href"].endswith(f"/v3/contacts/{contact_id}")
    assert details["origin"] == "api"
    assert API_TIME.match(details["createdOn"]) and API_TIME.match(details["changedOn"])
    assert details["campaign"] == {
        "campaignId": seed.DEFAULT_CAMPAIGN_ID,
        "name": "sfgr_main",
        "href": f"https://api.getresponse.com/v3/campaigns/{seed.DEFAULT_CAMPAIGN_ID}",
    }
    assert "countryCode" in details["geolocation"]
    assert set(details["tags"][0]) == {"tagId", "name", "href", "color"}
    (value,) = details["customFieldValues"]
    assert set(value) == VALUE_KEYS
    assert value["value"] == value["values"] == ["+48600100200"]
    assert (value["name"], value["type"]) == ("phone", "phone")


def test_fields_projection_always_keeps_the_id(gr: GetResponseHarness) -> None:
    contact_id = gr.create("proj@example.com", name="Pro")
    projected = gr.api.get(f"/contacts/{contact_id}", params={"fields": "name,email"}).json()
    assert projected == {"contactId": contact_id, "name": "Pro", "email": "proj@example.com"}


def test_unknown_contact_is_404_1013_with_its_id(gr: GetResponseHarness) -> None:
    body = assert_error(gr.api.get("/contacts/nope1"), 404, 1013)
    assert body["context"] == {"contactId": "nope1"}


def test_control_api_subscriptions_have_a_form_origin(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("form@example.com", name="Form")
    assert gr.api.get(f"/contacts/{contact_id}").json()["origin"] == "www"
    panel = gr.subscribe("panel@example.com", origin="panel")
    assert gr.api.get(f"/contacts/{panel}").json()["origin"] == "panel"


def test_unsubscribed_contacts_are_gone_from_the_api(gr: GetResponseHarness) -> None:
    contact_id = gr.subscribe("bye@example.com")
    gr.control.post(f"/contacts/{contact_id}/unsubscribe").raise_for_status()
    assert_error(gr.api.get(f"/contacts/{contact_id}"), 404, 1013)
    assert gr.api.get("/contacts", params={"query[email]": "bye@example.com"}).json() == []
    assert gr.sim_contact(contact_id)["state"] == "unsubscribed"


@pytest.fixture
def people(gr: GetResponseHarness) -> dict[str, str]:
    ids = {
        "ann": gr.subscribe("ann.smith@example.com", name="Ann Smith"),
        "annabel": gr.subscribe("annabel@example.org", name="Annabel Jones"),
        "bob": gr.subscribe("bob@example.com", name="Bob Smith", campaignId=seed.SECOND_CAMPAIGN_ID),
    }
    gr.create("carl@example.com", name="Carl")
    return ids


def emails(gr: GetResponseHarness, **params: str) -> list[str]:
    response = gr.api.get("/contacts", params=params)
    assert response.status_code == 200, response.text
    return [c["email"] for c in response.json()]


def test_email_and_name_search_is_partial_unless_exact_match(
    gr: GetResponseHarness, people: dict[str, str]
) -> None:
    assert sorted(emails(gr, **{"query[email]": "ann"})) == ["ann.smith@example.com", "annabel@example.org"]
    assert emails(gr, **{"query[email]": "ANN.SMITH@example.com", "additionalFlags": "exactMatch"}) == [
        "ann.smith@example.com"
    ]
    assert emails(gr, **{"query[email]": "ann", "additionalFlags": "exactMatch"}) == []
    assert sorted(emails(gr, **{"query[name]": "smith"})) == ["ann.smith@example.com", "bob@example.com"]
    assert emails(gr, **{"query[name]": "Smith", "additionalFlags": "exactMatch"}) == []


def test_filters_by_list_and_origin_are_anded(gr: GetResponseHarness, people: dict[str, str]) -> None:
    assert emails(gr, **{"query[campaignId]": seed.SECOND_CAMPAIGN_ID}) == ["bob@example.com"]
    assert emails(gr, **{"query[origin]": "api"}) == ["carl@example.com"]
    assert emails(gr, **{"query[name]": "smith", "query[campaignId]": seed.DEFAULT_CAMPAIGN_ID}) == [
        "ann.smith@example.com"
    ]


def test_date_filters_take_dates_and_date_times(gr: GetResponseHarness, people: dict[str, str]) -> None:
    today = datetime.now(UTC).date()
    assert len(emails(gr, **{"query[createdOn][from]": today.isoformat()})) == 4
    assert emails(gr, **{"query[createdOn][to]": (today - timedelta(days=1)).isoformat()}) == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    assert emails(gr, **{"query[changedOn][from]": later}) == []
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert len(emails(gr, **{"query[changedOn][from]": earlier, "query[changedOn][to]": later})) == 4
    assert_error(gr.api.get("/contacts", params={"query[createdOn][from]": "yesterday"}), 400, 1000)


def test_the_changed_on_watermark_is_inclusive_to_the_second(gr: GetResponseHarness) -> None:
    contact_id = gr.create("mark@example.com")
    changed_on = gr.api.get(f"/contacts/{contact_id}").json()["changedOn"]
    found = emails(gr, **{"query[changedOn][from]": changed_on, "query[changedOn][to]": changed_on})
    assert found == ["mark@example.com"]


@pytest.mark.parametrize(
    "params",
    [
        {"query[phone]": "1"},
        {"query[createdOn]": "2024-01-01"},
        {"query[tags]": "x"},
        {"sort[scoring]": "ASC"},
        {"sort[email]": "up"},
        {"additionalFlags": "fuzzy"},
        {"perPage": "1001"},
        {"perPage": "0"},
        {"page": "x"},
    ],
)
def test_unsupported_search_parameters_are_400_1000(gr: GetResponseHarness, params: dict[str, str]) -> None:
    body = assert_error(gr.api.get("/contacts", params=params), 400, 1000)
    if any(key.startswith("query[") for key in params):
        assert body["context"]["errorDescription"] == "Not allowed search field"


def test_sorting_and_paging(gr: GetResponseHarness, people: dict[str, str]) -> None:
    ascending = emails(gr, **{"sort[email]": "ASC"})
    assert ascending == sorted(ascending) and len(ascending) == 4
    assert emails(gr, **{"sort[email]": "DESC"}) == ascending[::-1]
    by_name = gr.api.get("/contacts", params={"sort[name]": "asc"}).json()
    assert [c["name"] for c in by_name] == ["Ann Smith", "Annabel Jones", "Bob Smith", "Carl"]
    page = gr.api.get("/contacts", params={"sort[email]": "ASC", "perPage": "3", "page": "2"})
    assert [c["email"] for c in page.json()] == ascending[3:]
    assert (page.headers["CurrentPage"], page.headers["TotalPages"], page.headers["TotalCount"]) == (
        "2",
        "2",
        "4",
    )
    beyond = gr.api.get("/contacts", params={"perPage": "3", "page": "9"})
    assert beyond.status_code == 200 and beyond.json() == []


def test_list_elements_carry_no_tags_or_custom_fields(gr: GetResponseHarness) -> None:
    gr.create(
        "lean@example.com",
        tags=[{"tagId": seed.VIP_TAG_ID}],
        customFieldValues=[{"customFieldId": seed.COMPANY_FIELD_ID, "value": ["Acme"]}],
    )
    (element,) = gr.api.get("/contacts").json()
    assert "tags" not in element and "customFieldValues" not in element
    assert set(element) == DETAIL_KEYS - {"tags", "customFieldValues", "geolocation"}
    projected = gr.api.get("/contacts", params={"fields": "email"}).json()
    assert set(projected[0]) == {"contactId", "email"}
