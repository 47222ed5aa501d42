"""Save-time validation and its error bodies (api-contracts A3 error table, C4, C5)."""

from __future__ import annotations

import pytest

from tests.simulators.salesforce.harness import SalesforceSim


def test_required_fields_are_listed_in_one_error(sim: SalesforceSim) -> None:
    response = sim.api.post("/sobjects/Lead/", json={"Email": "pat@example.com"})
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "Required fields are missing: [LastName, Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName", "Company"],
        }
    ]
    contact = sim.api.post("/sobjects/Contact/", json={"FirstName": "Pat"})
    assert contact.json()[0]["fields"] == ["LastName"]


def test_an_empty_string_is_null_and_cannot_fill_a_required_field(sim: SalesforceSim) -> None:
    lead_id = sim.create(Phone="123")
    assert sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Phone": ""}).status_code == 204
    assert sim.record("Lead", lead_id)["Phone"] is None
    blanked = sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Company": ""})
    assert blanked.status_code == 400
    assert blanked.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


@pytest.mark.parametrize(
    ("field", "limit"), [("LastName", 80), ("FirstName", 40), ("Company", 255), ("Phone", 40), ("Title", 128)]
)
def test_text_longer_than_the_field_is_string_too_long(sim: SalesforceSim, field: str, limit: int) -> None:
    assert (
        sim.api.post(
            "/sobjects/Lead/", json={"LastName": "L", "Company": "C", field: "x" * limit}
        ).status_code
        == 201
    )
    response = sim.api.post(
        "/sobjects/Lead/", json={"LastName": "L", "Company": "C", field: "x" * (limit + 1)}
    )
    assert response.status_code == 400
    error = response.json()[0]
    assert error["errorCode"] == "STRING_TOO_LONG" and error["fields"] == [field]
    assert f"(max length={limit})" in error["message"]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a@@b.com", "a b@c.com", ".a@b.com"])
def test_malformed_emails_are_invalid_email_address(sim: SalesforceSim, email: str) -> None:
    response = sim.api.post("/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": email})
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": f"Email: invalid email address: {email}",
            "errorCode": "INVALID_EMAIL_ADDRESS",
            "fields": ["Email"],
        }
    ]


def test_an_80_character_email_is_the_limit(sim: SalesforceSim) -> None:
    local = "p" * (80 - len("@example.com"))
    assert (
        sim.api.post(
            "/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": f"{local}@example.com"}
        ).status_code
        == 201
    )
    too_long = sim.api.post(
        "/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": f"{local}x@example.com"}
    )
    assert too_long.json()[0]["errorCode"] == "STRING_TOO_LONG"


def test_read_only_fields_and_wrong_json_types_are_refused(sim: SalesforceSim) -> None:
    read_only = sim.api.post("/sobjects/Lead/", json={"LastName": "L", "Company": "C", "IsConverted": True})
    assert read_only.status_code == 400
    assert read_only.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert read_only.json()[0]["fields"] == ["IsConverted"]
    lead_id = sim.create()
    for body in ({"LastModifiedDate": "2024-05-01T10:00:00.000+0000"}, {"Id": lead_id}):
        assert (
            sim.api.patch(f"/sobjects/Lead/{lead_id}", json=body).json()[0]["errorCode"]
            == "INVALID_FIELD_FOR_INSERT_UPDATE"
        )
    wrong_type = sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"HasOptedOutOfEmail": "yes"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    number = sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Phone": 48600100200})
    assert number.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    not_an_object = sim.api.post("/sobjects/Lead/", json=[{"LastName": "L"}])
    assert not_an_object.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_field_names_are_case_insensitive_and_stored_canonically(sim: SalesforceSim) -> None:
    lead_id = sim.create(lastname="lower", EMAIL="pat@example.com")
    record = sim.record("Lead", lead_id)
    assert record["LastName"] == "lower" and record["Email"] == "pat@example.com"


def test_converted_leads_are_read_only(sim: SalesforceSim) -> None:
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com", Country="PL")
    converted = sim.http.post(f"/_sim/records/Lead/{lead_id}/convert")
    assert converted.status_code == 200
    contact_id = converted.json()["convertedContactId"]
    lead = sim.record("Lead", lead_id)
    assert lead["IsConverted"] is True and lead["ConvertedContactId"] == contact_id
    assert lead["Status"] == "Closed - Converted" and lead["ConvertedDate"]
    contact = sim.record("Contact", contact_id)
    assert contact["Email"] == "pat@example.com" and contact["MailingCountry"] == "PL"
    response = sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Email": "new@example.com"})
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "cannot reference converted lead",
            "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
            "fields": [],
        }
    ]
    assert sim.http.post(f"/_sim/records/Lead/{lead_id}/convert").status_code == 400


def test_the_duplicate_rule_on_email_blocks_with_the_misspelled_duplicate_resut(sim: SalesforceSim) -> None:
    first = sim.create(Email="pat@example.com")
    assert sim.create(Email="PAT@example.com")  # rule off by default
    sim.configure(duplicate_rule_on_email=True)
    response = sim.api.post(
        "/sobjects/Lead/", json={"LastName": "L", "Company": "C", "Email": "Pat@Example.com"}
    )
    assert response.status_code == 400
    error = response.json()[0]
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert "duplicateResult" not in error
    result = error["duplicateResut"]
    assert result["allowSave"] is True and result["duplicateRuleEntityType"] == "Lead"
    matched = [m["record"]["Id"] for m in result["matchResults"][0]["matchRecords"]]
    assert first in matched
    bypass = sim.api.post(
        "/sobjects/Lead/",
        json={"LastName": "L", "Company": "C", "Email": "pat@example.com"},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert bypass.status_code == 201
    other = sim.create(Email="other@example.com")
    renamed = sim.api.patch(f"/sobjects/Lead/{other}", json={"Email": "pat@example.com"})
    assert renamed.json()[0]["errorCode"] == "DUPLICATES_DETECTED"


def test_owner_must_be_a_user_of_the_org(sim: SalesforceSim) -> None:
    response = sim.api.post(
        "/sobjects/Lead/", json={"LastName": "L", "Company": "C", "OwnerId": "005000000000001AAA"}
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
