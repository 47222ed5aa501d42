"""sObject Collections (api-contracts A3, C4: HTTP 200 with per-record results and `statusCode`)."""

from __future__ import annotations

from typing import Any

from simulators.salesforce import ids
from tests.simulators.salesforce.harness import SalesforceSim


def _lead(**values: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": "Lee", "Company": "Acme", **values}


def test_create_returns_one_result_per_record_in_order(sim: SalesforceSim) -> None:
    response = sim.api.post(
        "/composite/sobjects",
        json={"records": [_lead(), {"attributes": {"type": "Contact"}, "LastName": "Kim"}]},
    )
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, True]
    assert ids.is_valid(results[0]["id"], "00Q") and ids.is_valid(results[1]["id"], "003")
    assert all(r["errors"] == [] for r in results)


def test_partial_success_without_all_or_none_uses_status_code_errors(sim: SalesforceSim) -> None:
    response = sim.api.post(
        "/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                _lead(Email="ok@example.com"),
                {"attributes": {"type": "Lead"}, "LastName": "NoCompany"},
            ],
        },
    )
    assert response.status_code == 200
    ok, failed = response.json()
    assert ok["success"] is True
    assert failed == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Company]",
                "fields": ["Company"],
            }
        ],
    }
    assert "errorCode" not in failed["errors"][0]
    assert len(sim.http.get("/_sim/records/Lead").json()) == 1


def test_all_or_none_rolls_everything_back(sim: SalesforceSim) -> None:
    response = sim.api.post(
        "/composite/sobjects", json={"allOrNone": True, "records": [_lead(), _lead(Email="broken")]}
    )
    assert response.status_code == 200
    first, second = response.json()
    assert first == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert second["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert sim.http.get("/_sim/records/Lead").json() == []


def test_update_needs_ids_and_reports_each_record(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    gone = sim.create()
    sim.api.delete(f"/sobjects/Lead/{gone}")
    response = sim.api.patch(
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Lead"}, "id": lead_id, "Email": "new@example.com"},
                {"attributes": {"type": "Lead"}, "Email": "x@example.com"},
                {"attributes": {"type": "Lead"}, "Id": gone, "Email": "y@example.com"},
            ]
        },
    )
    assert response.status_code == 200
    updated, missing, deleted = response.json()
    assert updated == {"id": lead_id, "success": True, "errors": []}
    assert missing["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert deleted["id"] == gone and deleted["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert sim.record("Lead", lead_id)["Email"] == "new@example.com"


def test_update_all_or_none_leaves_records_untouched(sim: SalesforceSim) -> None:
    lead_id = sim.create(Email="before@example.com")
    response = sim.api.patch(
        "/composite/sobjects",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": lead_id, "Email": "after@example.com"},
                {
                    "attributes": {"type": "Lead"},
                    "Id": lead_id[:3] + "5g0000000000",
                    "Email": "x@example.com",
                },
            ],
        },
    )
    results = response.json()
    assert results[0] == {
        "id": lead_id,
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": results[0]["errors"][0]["message"],
                "fields": [],
            }
        ],
    }
    assert sim.record("Lead", lead_id)["Email"] == "before@example.com"


def test_create_refuses_ids_and_unknown_types(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    response = sim.api.post(
        "/composite/sobjects",
        json={
            "records": [
                _lead(Id=lead_id),
                {"LastName": "NoType"},
                {"attributes": {"type": "Account"}, "Name": "A"},
            ]
        },
    )
    codes = [r["errors"][0]["statusCode"] for r in response.json()]
    assert codes == ["INVALID_FIELD", "INVALID_TYPE", "INVALID_TYPE"]


def test_delete_by_ids_with_per_record_results(sim: SalesforceSim) -> None:
    first, second = sim.create(), sim.create("Contact")
    sim.api.delete(f"/sobjects/Lead/{first}")
    response = sim.api.delete(
        "/composite/sobjects", params={"ids": f"{first},{second},junk", "allOrNone": "false"}
    )
    assert response.status_code == 200
    deleted_already, ok, junk = response.json()
    assert deleted_already["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert ok == {"id": second, "success": True, "errors": []}
    assert junk["success"] is False and junk["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert sim.record("Contact", second)["IsDeleted"] is True


def test_delete_all_or_none_keeps_everything(sim: SalesforceSim) -> None:
    lead_id = sim.create()
    response = sim.api.delete("/composite/sobjects", params={"ids": f"{lead_id},junk", "allOrNone": "true"})
    assert response.json()[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sim.record("Lead", lead_id)["IsDeleted"] is False


def test_more_than_200_records_is_refused_as_a_whole(sim: SalesforceSim) -> None:
    response = sim.api.post("/composite/sobjects", json={"records": [_lead() for _ in range(201)]})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sim.http.get("/_sim/records/Lead").json() == []
    many_ids = ",".join([sim.create()] * 201)
    assert sim.api.delete("/composite/sobjects", params={"ids": many_ids}).status_code == 400
    exactly = sim.api.post("/composite/sobjects", json={"records": [_lead() for _ in range(200)]})
    assert exactly.status_code == 200 and all(r["success"] for r in exactly.json())
