"""Custom-field definitions (api-contracts B7)."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.getresponse import seed
from tests.simulators.getresponse.harness import GetResponseHarness, assert_error

DEFINITION_KEYS = {
    "customFieldId",
    "href",
    "name",
    "type",
    "valueType",
    "format",
    "fieldType",
    "hidden",
    "values",
}


def new_field(**overrides: Any) -> dict[str, Any]:
    return {"name": "favourite_color", "type": "text", "hidden": "false", "values": [], **overrides}


def test_seeded_fields_have_stable_ids_and_the_documented_shape(gr: GetResponseHarness) -> None:
    response = gr.api.get("/custom-fields", params={"perPage": "100"})
    assert response.status_code == 200
    fields = {f["customFieldId"]: f for f in response.json()}
    expected = {
        seed.PHONE_FIELD_ID: ("phone", "phone", "text"),
        seed.COUNTRY_FIELD_ID: ("country", "country", "text"),
        seed.COMPANY_FIELD_ID: ("company", "string", "text"),
        seed.PHONE_TEXT_FIELD_ID: ("phone_text", "string", "text"),
        seed.LEAD_STATUS_FIELD_ID: ("lead_status", "string", "single_select"),
    }
    for field_id, (name, data_type, field_format) in expected.items():
        field = fields[field_id]
        assert set(field) == DEFINITION_KEYS
        assert (field["name"], field["type"], field["format"], field["fieldType"]) == (
            name, data_type, field_format, field_format,
        )  # fmt: skip
        assert field["hidden"] == "false"
    assert len(fields[seed.LEAD_STATUS_FIELD_ID]["values"]) >= 2
    assert response.headers["TotalCount"] == str(len(seed.CUSTOM_FIELDS))


def test_search_by_name_and_read_one(gr: GetResponseHarness) -> None:
    found = gr.api.get("/custom-fields", params={"query[name]": "phone"}).json()
    assert {f["name"] for f in found} == {"phone", "phone_text"}
    assert gr.api.get(f"/custom-fields/{seed.COUNTRY_FIELD_ID}").json()["type"] == "country"
    body = assert_error(gr.api.get("/custom-fields/nope1"), 404, 1013)
    assert body["context"] == {"customFieldId": "nope1"}
    assert_error(gr.api.get("/custom-fields", params={"query[type]": "phone"}), 400, 1000)


def test_paging_headers_and_limits(gr: GetResponseHarness) -> None:
    response = gr.api.get("/custom-fields", params={"perPage": "3", "page": "2"})
    assert len(response.json()) == 3
    assert response.headers["CurrentPage"] == "2"
    assert response.headers["TotalPages"] == str(-(-len(seed.CUSTOM_FIELDS) // 3))
    for bad in ({"perPage": "0"}, {"perPage": "1001"}, {"perPage": "ten"}, {"page": "0"}):
        assert_error(gr.api.get("/custom-fields", params=bad), 400, 1000)


def test_create_text_field_is_201_with_string_hidden(gr: GetResponseHarness) -> None:
    response = gr.api.post("/custom-fields", json=new_field(hidden="true"))
    assert response.status_code == 201
    created = response.json()
    assert set(created) == DEFINITION_KEYS
    assert created["hidden"] == "true" and created["format"] == "text"
    assert gr.api.get(f"/custom-fields/{created['customFieldId']}").json() == created


def test_create_with_data_type_and_format(gr: GetResponseHarness) -> None:
    created = gr.api.post("/custom-fields", json=new_field(name="seats", type="number")).json()
    assert (created["type"], created["valueType"], created["format"]) == ("number", "number", "text")
    select = gr.api.post(
        "/custom-fields", json=new_field(name="tier", type="single_select", values=["gold", "silver"])
    ).json()
    assert (select["type"], select["format"], select["values"]) == (
        "string",
        "single_select",
        ["gold", "silver"],
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Favourite"},
        {"name": "has space"},
        {"name": "x" * 129},
        {"name": "email"},
        {"name": "campaign"},
        {"type": "colour"},
        {"type": "single_select", "values": ["only_one"]},
        {"type": "multi_select", "values": []},
        {"type": "radio", "values": ["a"]},
        {"type": "gender", "values": ["Other"]},
        {"type": "currency", "values": ["XXY"]},
        {"type": "number", "values": ["1"]},
        {"hidden": False},
        {"values": None},
    ],
)
def test_definition_constraints(gr: GetResponseHarness, overrides: dict[str, Any]) -> None:
    assert_error(gr.api.post("/custom-fields", json=new_field(**overrides)), 400, 1000)


def test_gender_and_currency_fields(gr: GetResponseHarness) -> None:
    gender = gr.api.post("/custom-fields", json=new_field(name="sex", type="gender")).json()
    assert gender["values"] == ["Male", "Female", "Prefer not to say"]
    currency = gr.api.post("/custom-fields", json=new_field(name="money", type="currency", values=["PLN"]))
    assert currency.status_code == 201


def test_field_names_are_unique(gr: GetResponseHarness) -> None:
    assert_error(gr.api.post("/custom-fields", json=new_field(name="company")), 409, 1008)
