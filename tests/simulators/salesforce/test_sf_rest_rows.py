"""sObject rows, describe and versions (api-contracts A3, C4)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from simulators.salesforce import ids, timefmt
from tests.simulators.salesforce.harness import API, SalesforceSim

REST_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000")


def test_the_versions_list_needs_no_session_and_lists_v50_onwards(sim: SalesforceSim) -> None:
    response = sim.http.get("/services/data/")
    assert response.status_code == 200
    versions = response.json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert versions[0]["version"] == "50.0"
    assert "sforce-limit-info" not in response.headers


@pytest.mark.parametrize("version", ["v49.0", "v20.0", "v62", "v62.1"])
def test_versions_below_50_or_malformed_are_not_found(sim: SalesforceSim, version: str) -> None:
    response = sim.http.get(
        f"/services/data/{version}/sobjects/Lead/describe", headers={"Authorization": f"Bearer {sim.token}"}
    )
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def test_create_answers_201_with_an_18_character_lead_id(sim: SalesforceSim) -> None:
    response = sim.api.post("/sobjects/Lead/", json={"LastName": "Lee", "Company": "Acme"})
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    assert ids.is_valid(body["id"], "00Q")
    contact = sim.api.post("/sobjects/Contact", json={"LastName": "Lee"})
    assert ids.is_valid(contact.json()["id"], "003")


def test_read_returns_attributes_and_salesforce_date_times(sim: SalesforceSim) -> None:
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com", Country="PL")
    response = sim.api.get(f"/sobjects/Lead/{lead_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["attributes"] == {"type": "Lead", "url": f"{API}/sobjects/Lead/{lead_id}"}
    assert body["Id"] == lead_id and body["Name"] == "Pat Lee" and body["IsDeleted"] is False
    assert body["Status"] == "Open - Not Contacted" and body["HasOptedOutOfEmail"] is False
    assert body["Address"]["country"] == "PL"
    assert REST_DATETIME.fullmatch(body["LastModifiedDate"])
    assert REST_DATETIME.fullmatch(body["SystemModstamp"])
    assert "Last-Modified" in response.headers


def test_read_with_fields_returns_those_fields_and_the_id(sim: SalesforceSim) -> None:
    lead_id = sim.create(Email="pat@example.com")
    body = sim.api.get(f"/sobjects/Lead/{lead_id}", params={"fields": "email,LastName"}).json()
    assert set(body) == {"attributes", "Email", "LastName", "Id"}
    unknown = sim.api.get(f"/sobjects/Lead/{lead_id}", params={"fields": "Email,Nope__c"})
    assert unknown.status_code == 400
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"


def test_a_15_character_id_reads_the_same_record(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    assert sim.api.get(f"/sobjects/Lead/{lead_id[:15]}").json()["Id"] == lead_id


def test_update_answers_204_with_no_body_and_bumps_the_timestamps(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    before = sim.record("Lead", lead_id)
    response = sim.api.patch(f"/sobjects/Lead/{lead_id}", json={"Email": "new@example.com"})
    assert response.status_code == 204
    assert response.content == b""
    after = sim.record("Lead", lead_id)
    assert after["Email"] == "new@example.com"
    assert after["LastModifiedDate"] >= before["LastModifiedDate"]
    assert after["SystemModstamp"] >= before["SystemModstamp"]


def test_delete_answers_204_and_the_record_is_then_entity_is_deleted(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    response = sim.api.delete(f"/sobjects/Lead/{lead_id}")
    assert response.status_code == 204 and response.content == b""
    for method in ("GET", "PATCH", "DELETE"):
        again = sim.api.request(method, f"/sobjects/Lead/{lead_id}", json={} if method == "PATCH" else None)
        assert again.status_code == 404
        assert again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert sim.record("Lead", lead_id)["IsDeleted"] is True


def test_unknown_malformed_and_mistyped_ids(sim: SalesforceSim) -> None:
    unknown = ids.to18("00Q5g0000000001")
    response = sim.api.get(f"/sobjects/Lead/{unknown}")
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    malformed = sim.api.patch("/sobjects/Lead/not-an-id-at-all", json={"Email": "a@b.co"})
    assert malformed.status_code == 400
    assert malformed.json()[0]["errorCode"] == "MALFORMED_ID"
    wrong_checksum = sim.api.get(f"/sobjects/Lead/{unknown[:15]}AAA")
    assert wrong_checksum.json()[0]["errorCode"] == "MALFORMED_ID"
    contact_id = sim.create("Contact")
    assert sim.api.get(f"/sobjects/Lead/{contact_id}").json()[0]["errorCode"] == "NOT_FOUND"


def test_unknown_fields_in_a_body_are_invalid_field(sim: SalesforceSim) -> None:
    response = sim.api.post(
        "/sobjects/Lead/", json={"LastName": "Lee", "Company": "Acme", "Shoe_Size__c": 42}
    )
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "No such column 'Shoe_Size__c' on sobject of type Lead",
            "errorCode": "INVALID_FIELD",
            "fields": ["Shoe_Size__c"],
        }
    ]


def _last_modified(sim: SalesforceSim, lead_id: str) -> datetime:
    value = timefmt.parse_soql_datetime(sim.record("Lead", lead_id)["LastModifiedDate"])
    assert value is not None
    return value


def test_if_unmodified_since_refuses_writes_after_a_later_change(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    seen = _last_modified(sim, lead_id)
    sim.http.post("/_sim/clock", json={"advance_seconds": 5})
    sim.http.patch(f"/_sim/records/Lead/{lead_id}", json={"Phone": "+48600100200"})  # someone edits it later
    stale = sim.api.patch(
        f"/sobjects/Lead/{lead_id}",
        json={"Email": "late@example.com"},
        headers={"If-Unmodified-Since": timefmt.http_date(seen)},
    )
    assert stale.status_code == 412
    assert stale.json()[0]["errorCode"] == "PRECONDITION_FAILED"
    assert sim.record("Lead", lead_id)["Email"] is None


def test_if_unmodified_since_compares_whole_seconds(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    same_second = timefmt.http_date(_last_modified(sim, lead_id))  # the millis are cut off: not "after"
    fresh = sim.api.patch(
        f"/sobjects/Lead/{lead_id}",
        json={"Email": "ok@example.com"},
        headers={"If-Unmodified-Since": same_second},
    )
    assert fresh.status_code == 204
    assert sim.record("Lead", lead_id)["Email"] == "ok@example.com"


@pytest.mark.parametrize("header", ["yesterday", "2024-05-01T10:00:00Z", "Wednesday, 01-May-24 10:00:00 GMT"])
def test_an_invalid_if_unmodified_since_is_400(sim: SalesforceSim, header: str) -> None:
    lead_id = sim.create()
    invalid = sim.api.patch(
        f"/sobjects/Lead/{lead_id}", json={"Email": "x@example.com"}, headers={"If-Unmodified-Since": header}
    )
    assert invalid.status_code == 400
    assert sim.record("Lead", lead_id)["Email"] is None


def test_if_modified_since_gives_304_when_unchanged(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    last_modified = sim.api.get(f"/sobjects/Lead/{lead_id}").headers["Last-Modified"]
    assert (
        sim.api.get(f"/sobjects/Lead/{lead_id}", headers={"If-Modified-Since": last_modified}).status_code
        == 304
    )


@pytest.mark.parametrize("sobject", ["Lead", "Contact"])
def test_describe_lists_fields_with_types_and_flags(sim: SalesforceSim, sobject: str) -> None:
    response = sim.api.get(f"/sobjects/{sobject}/describe")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == sobject and body["keyPrefix"] == ("00Q" if sobject == "Lead" else "003")
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["Id"]["type"] == "id"
    assert fields["Email"]["type"] == "email" and fields["Email"]["length"] == 80
    assert fields["Phone"]["type"] == "phone"
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    assert fields["FirstName"]["length"] == 40
    assert fields["HasOptedOutOfEmail"]["type"] == "boolean"
    assert fields["HasOptedOutOfEmail"]["defaultedOnCreate"] is True
    gr = fields["GRdeleted__c"]
    assert gr["type"] == "boolean" and gr["custom"] is True
    assert fields["LeadSource"]["type"] == "picklist" and fields["LeadSource"]["picklistValues"]
    assert (
        fields["LastModifiedDate"]["type"] == "datetime" and fields["LastModifiedDate"]["updateable"] is False
    )
    required = {
        n for n, f in fields.items() if f["createable"] and not f["nillable"] and not f["defaultedOnCreate"]
    }
    assert required == ({"LastName", "Company"} if sobject == "Lead" else {"LastName"})
    if sobject == "Lead":
        assert fields["Status"]["picklistValues"][0]["value"] == "Open - Not Contacted"
        assert fields["Company"]["length"] == 255 and "Country" in fields
    else:
        assert "MailingCountry" in fields and "Country" not in fields


def test_wrong_methods_media_types_and_json_get_salesforce_errors(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    put = sim.api.put(f"/sobjects/Lead/{lead_id}", json={})
    assert put.status_code == 405
    assert put.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    text = sim.api.post("/sobjects/Lead/", content=b"LastName=Lee", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    broken = sim.api.post(
        "/sobjects/Lead/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    nowhere = sim.api.get("/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()[0]["errorCode"] == "NOT_FOUND"
    assert sim.api.get("/sobjects/Account/describe").json()[0]["errorCode"] == "NOT_FOUND"


def test_upsert_by_external_id_finds_no_external_id_field(sim: SalesforceSim) -> None:
    response = sim.api.patch("/sobjects/Lead/Email/pat@example.com", json={"LastName": "Lee"})
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"
