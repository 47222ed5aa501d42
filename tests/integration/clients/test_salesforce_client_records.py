"""SalesforceClient against the Salesforce simulator: rows, conditional updates, SOQL paging,
sObject Collections with partial failure, and duplicate rules (api-contracts A3, C4, C5, C7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clients.errors import DuplicatesDetected, NotFound, Permanent, PreconditionFailed, Transient
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_formats import parse_datetime
from tests.fixtures.simulators import Sim


def lead(n: int = 0, **extra: object) -> dict[str, object]:
    return {"LastName": f"Lee{n}", "Company": "Acme", "Email": f"pat{n}@example.com", **extra}


async def test_a_lead_is_created_read_updated_and_deleted(sf: SalesforceClient) -> None:
    lead_id = await sf.create("Lead", lead(1))
    record = await sf.get("Lead", lead_id)
    assert record["Email"] == "pat1@example.com"
    assert record["attributes"]["type"] == "Lead"
    created = parse_datetime(record["LastModifiedDate"])
    await sf.update("Lead", lead_id, {"FirstName": "Pat"})
    assert await sf.get("Lead", lead_id, fields=["FirstName"]) == {
        "attributes": record["attributes"],
        "FirstName": "Pat",
        "Id": lead_id,
    }
    assert parse_datetime((await sf.get("Lead", lead_id))["LastModifiedDate"]) >= created
    await sf.delete("Lead", lead_id)
    with pytest.raises(NotFound) as gone:
        await sf.get("Lead", lead_id)
    assert gone.value.code == "ENTITY_IS_DELETED"


async def test_an_unknown_record_is_not_found(sf: SalesforceClient) -> None:
    with pytest.raises(NotFound) as missing:
        await sf.get("Lead", "00Q5g00000ZZZZZ")  # 15 characters: no checksum to get right
    assert missing.value.status == 404


async def test_a_validation_error_is_permanent_and_names_its_fields(sf: SalesforceClient) -> None:
    with pytest.raises(Permanent) as refused:
        await sf.create("Lead", {"LastName": "Lee"})
    assert refused.value.code == "REQUIRED_FIELD_MISSING"
    assert refused.value.fields == ("Company",)


async def test_a_conditional_update_is_refused_when_someone_changed_the_record_since(
    sf: SalesforceClient, sf_sim: Sim
) -> None:
    lead_id = await sf.create("Lead", lead(2))
    read_at = parse_datetime((await sf.get("Lead", lead_id))["LastModifiedDate"])
    # A person edits the record in the UI two seconds later (If-Unmodified-Since has whole seconds).
    sf_sim.control("POST", "/_sim/clock", json={"advance_seconds": 2})
    sf_sim.control("PATCH", f"/_sim/records/Lead/{lead_id}", json={"Phone": "+1 555 0100"})
    with pytest.raises(PreconditionFailed) as refused:
        await sf.update("Lead", lead_id, {"Phone": "+48600100200"}, if_unmodified_since=read_at)
    assert refused.value.status == 412
    current = await sf.get("Lead", lead_id)
    assert current["Phone"] == "+1 555 0100"
    await sf.update(
        "Lead",
        lead_id,
        {"Phone": "+48600100200"},
        if_unmodified_since=parse_datetime(current["LastModifiedDate"]),
    )
    assert (await sf.get("Lead", lead_id))["Phone"] == "+48600100200"


async def test_a_conditional_update_goes_through_when_nothing_changed(sf: SalesforceClient) -> None:
    lead_id = await sf.create("Lead", lead(3))
    read_at = parse_datetime((await sf.get("Lead", lead_id))["LastModifiedDate"])
    await sf.update("Lead", lead_id, {"FirstName": "Pat"}, if_unmodified_since=read_at + timedelta(seconds=1))
    assert (await sf.get("Lead", lead_id))["FirstName"] == "Pat"


async def test_a_query_follows_next_records_url_across_pages(sf: SalesforceClient, sf_sim: Sim) -> None:
    results = await sf.create_many("Lead", [lead(n) for n in range(450)])
    assert all(r.ok for r in results)
    assert len(sf_sim.calls("/services/data/v62.0/composite/sobjects")) == 3  # 200 + 200 + 50
    rows = [row async for row in sf.query("SELECT Id, Email FROM Lead", batch_size=200)]
    assert len(rows) == 450
    assert {row["Id"] for row in rows} == {r.id for r in results}
    pages = [c for c in sf_sim.calls("/services/data/v62.0/query") if c["method"] == "GET"]
    assert len(pages) == 3


async def test_query_all_also_returns_deleted_rows(sf: SalesforceClient) -> None:
    kept, deleted = await sf.create("Lead", lead(4)), await sf.create("Lead", lead(5))
    await sf.delete("Lead", deleted)
    soql = "SELECT Id, IsDeleted FROM Lead"
    assert [r["Id"] async for r in sf.query(soql)] == [kept]
    assert {r["Id"]: r["IsDeleted"] async for r in sf.query_all(soql)} == {kept: False, deleted: True}


async def test_a_collection_with_a_bad_record_reports_it_and_saves_the_others(sf: SalesforceClient) -> None:
    results = await sf.create_many("Lead", [lead(6), {"LastName": "NoCompany"}, lead(7)])
    assert [r.ok for r in results] == [True, False, True]
    failed = results[1].error
    assert isinstance(failed, Permanent)
    assert (failed.code, failed.fields, results[1].id) == ("REQUIRED_FIELD_MISSING", ("Company",), None)
    saved = [r.id for r in results if r.ok]
    assert all(isinstance(i, str) for i in saved)

    await sf.delete("Lead", saved[1])  # type: ignore[arg-type]
    updates = await sf.update_many("Lead", [{"Id": i, "FirstName": "Kim"} for i in saved])
    assert updates[0].ok and updates[0].id == saved[0]
    assert isinstance(updates[1].error, NotFound) and updates[1].id == saved[1]
    assert (await sf.get("Lead", saved[0]))["FirstName"] == "Kim"  # type: ignore[arg-type]

    deletes = await sf.delete_many(saved)  # type: ignore[arg-type]
    assert deletes[0].ok and isinstance(deletes[1].error, NotFound)


async def test_all_or_none_keeps_valid_records_retryable_when_another_fails(sf: SalesforceClient) -> None:
    results = await sf.create_many("Lead", [lead(8), {"LastName": "NoCompany"}], all_or_none=True)
    assert type(results[0].error) is Transient
    assert results[0].error.code == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert type(results[1].error) is Permanent
    assert [r async for r in sf.query("SELECT Id FROM Lead")] == []


async def test_update_many_needs_every_id(sf: SalesforceClient) -> None:
    with pytest.raises(ValueError):
        await sf.update_many("Lead", [{"FirstName": "Kim"}])


async def test_a_duplicate_rule_refusal_names_the_matching_record(sf: SalesforceClient, sf_sim: Sim) -> None:
    sf_sim.configure(duplicate_rule_on_email=True)
    original = await sf.create("Lead", lead(9))
    with pytest.raises(DuplicatesDetected) as refused:
        await sf.create("Lead", lead(9, LastName="Other"))
    assert refused.value.code == "DUPLICATES_DETECTED"
    assert refused.value.matched_ids == (original,)
    results = await sf.create_many("Lead", [lead(9, LastName="Third")])
    assert isinstance(results[0].error, DuplicatesDetected)


async def test_describe_and_limits_answer_the_vendors_documents(sf: SalesforceClient) -> None:
    described = await sf.describe("Lead")
    assert "Email" in {f["name"] for f in described["fields"]}
    limits = await sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
