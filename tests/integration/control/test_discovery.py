"""Discovery against the simulators: GetResponse lists and custom fields, Salesforce fields with the
GetResponse fields each may map to (by sync validation's rules), Campaigns by name; answers kept a
short while per connection; a vendor error is a 502 naming the vendor."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.control.harness import MAIN_LIST, SECOND_LIST, Api, new_token


@pytest.fixture
async def connected(api: Api, salesforce_url: str, getresponse_url: str) -> Api:
    await api.connect_salesforce(salesforce_url)
    await api.connect_getresponse(getresponse_url)
    return api


def by_key(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


async def test_the_lists_are_listed_with_their_opt_in_type(connected: Api) -> None:
    response = await connected.get("/v1/getresponse/lists")
    assert response.status_code == 200, response.text
    lists = by_key(response.json(), "campaign_id")
    assert set(lists) == {MAIN_LIST, SECOND_LIST}
    assert lists[MAIN_LIST]["name"] == "sfgr_main"
    assert lists[MAIN_LIST]["is_default"] is True
    assert lists[MAIN_LIST]["optin_type"] in ("single", "double")


async def test_the_custom_fields_carry_type_format_and_allowed_values(connected: Api) -> None:
    response = await connected.get("/v1/getresponse/custom-fields")
    assert response.status_code == 200, response.text
    fields = by_key(response.json(), "custom_field_id")
    assert (fields["cfPhn"]["name"], fields["cfPhn"]["type"]) == ("phone", "phone")
    assert fields["cfSts"]["format"] == "single_select"
    assert len(fields["cfSts"]["values"]) >= 2


async def test_a_salesforce_field_says_which_getresponse_fields_it_may_map_to_and_why_not(connected: Api) -> None:
    response = await connected.get("/v1/salesforce/objects/Lead/fields")
    assert response.status_code == 200, response.text
    fields = by_key(response.json(), "name")
    phone = by_key(fields["Phone"]["targets"], "getresponse")
    assert phone["cfPhn"]["allowed"] is True
    assert phone["cfCmp"]["allowed"] is True  # a text field holds any phone
    assert phone["cfEmp"] == {
        "getresponse": "cfEmp", "name": "employees", "type": "number", "allowed": False,
        "reason": "Lead.Phone holds phone values, which GetResponse field 'employees' of type number cannot "
                  "store: map it to a phone field or to a text field.",
    }
    assert by_key(fields["Email"]["targets"], "getresponse")["email"]["allowed"] is True
    assert by_key(fields["Company"]["targets"], "getresponse")["email"]["allowed"] is False
    assert fields["LastName"]["required"] is True
    assert "Web" in fields["LeadSource"]["picklist_values"]
    assert fields["GRdeleted__c"]["type"] == "boolean"


async def test_the_object_must_be_lead_or_contact(connected: Api) -> None:
    response = await connected.get("/v1/salesforce/objects/Account/fields")
    assert response.status_code == 422


async def test_campaigns_are_found_by_part_of_their_name(connected: Api, salesforce_url: str) -> None:
    async with httpx.AsyncClient(base_url=salesforce_url) as sf:
        for name in ("Spring webinar", "Autumn fair", "50%_off"):
            created = await sf.post("/_sim/records/Campaign", json={"Name": name, "IsActive": True})
            assert created.status_code < 300, created.text
    found = await connected.get("/v1/salesforce/campaigns", params={"q": "webinar"})
    assert found.status_code == 200, found.text
    assert [c["name"] for c in found.json()] == ["Spring webinar"]
    assert found.json()[0]["id"].startswith("701")
    literal = await connected.get("/v1/salesforce/campaigns", params={"q": "0%_"})
    assert [c["name"] for c in literal.json()] == ["50%_off"]
    everything = await connected.get("/v1/salesforce/campaigns")
    assert [c["name"] for c in everything.json()] == ["50%_off", "Autumn fair", "Spring webinar"]


async def test_answers_are_kept_a_short_while_per_connection(connected: Api, getresponse_url: str) -> None:
    first = await connected.get("/v1/getresponse/custom-fields")
    async with httpx.AsyncClient(base_url=getresponse_url) as gr:
        (await gr.post("/_sim/faults", json={"error_rate": 1.0, "error_statuses": [500]})).raise_for_status()
    again = await connected.get("/v1/getresponse/custom-fields")
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_a_vendor_error_is_a_502_naming_the_vendor(connected: Api, salesforce_url: str) -> None:
    async with httpx.AsyncClient(base_url=salesforce_url) as sf:
        (await sf.post("/_sim/faults", json={"error_rate": 1.0, "error_statuses": [500]})).raise_for_status()
    response = await connected.get("/v1/salesforce/objects/Contact/fields")
    assert response.status_code == 502
    assert response.json()["detail"].startswith("Salesforce answered an error: ")


async def test_without_connections_discovery_says_what_to_connect(api: Api) -> None:
    response = await api.get("/v1/getresponse/lists")
    assert response.status_code == 409
    assert response.json()["detail"] == "connect the GetResponse account first (/v1/connections)"


async def test_discovery_needs_the_read_scope(connected: Api) -> None:
    assert (await connected.client.get("/v1/getresponse/lists")).status_code == 401
    reader = await new_token(connected.settings, "read", name="reader")
    assert (await connected.get("/v1/getresponse/lists", token=reader)).status_code == 200
