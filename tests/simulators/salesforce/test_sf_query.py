"""SOQL over REST: /query, /queryAll, paging (api-contracts A3 "SOQL")."""

from __future__ import annotations

from typing import Any

from tests.simulators.salesforce.harness import API, SalesforceSim


def _q(sim: SalesforceSim, soql: str, path: str = "/query", **headers: str) -> Any:
    response = sim.api.get(path, params={"q": soql}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _bulk(sim: SalesforceSim, count: int, **values: Any) -> list[str]:
    made: list[str] = []
    for start in range(0, count, 200):
        records = [
            {"attributes": {"type": "Lead"}, "LastName": f"L{start + i:04d}", "Company": "C", **values}
            for i in range(min(200, count - start))
        ]
        response = sim.api.post("/composite/sobjects", json={"allOrNone": True, "records": records})
        made += [r["id"] for r in response.json()]
    return made


def test_query_selects_fields_with_attributes_and_canonical_names(sim: SalesforceSim) -> None:
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com", LeadSource="Web")
    body = _q(
        sim, "select id, name, EMAIL, leadsource, lastmodifieddate from lead where email = 'PAT@EXAMPLE.COM'"
    )
    assert body["totalSize"] == 1 and body["done"] is True and "nextRecordsUrl" not in body
    record = body["records"][0]
    assert list(record) == ["attributes", "Id", "Name", "Email", "LeadSource", "LastModifiedDate"]
    assert record["attributes"] == {"type": "Lead", "url": f"{API}/sobjects/Lead/{lead_id}"}
    assert record["Name"] == "Pat Lee" and record["LastModifiedDate"].endswith("+0000")


def test_query_filters_on_timestamps_with_unquoted_date_times(sim: SalesforceSim) -> None:
    old = sim.create(Email="old@example.com")
    stamp = sim.record("Lead", old)["SystemModstamp"]
    sim.http.post("/_sim/clock", json={"advance_seconds": 2})
    new = sim.create(Email="new@example.com")
    # SOQL for the simulator, not SQL: string-built queries are what the sync service sends too.
    after = "SELECT Id FROM Lead WHERE SystemModstamp > {} ORDER BY SystemModstamp ASC"
    for literal in (stamp, stamp.replace("+0000", "Z")):
        assert [r["Id"] for r in _q(sim, after.format(literal))["records"]] == [new]
    both = "SELECT Id FROM Lead WHERE LastModifiedDate >= {} AND Email IN ('old@example.com', 'NEW@example.com') "
    assert [r["Id"] for r in _q(sim, both.format(stamp) + "ORDER BY Email DESC")["records"]] == [old, new]
    quoted_literal = f"SELECT Id FROM Lead WHERE SystemModstamp > '{stamp}'"  # noqa: S608 - SOQL, not SQL
    quoted = sim.api.get("/query", params={"q": quoted_literal})
    assert quoted.status_code == 400 and quoted.json()[0]["errorCode"] == "INVALID_FIELD"


def test_an_unencoded_plus_in_a_date_time_is_a_malformed_query(sim: SalesforceSim) -> None:
    raw = "/query?q=SELECT+Id+FROM+Lead+WHERE+SystemModstamp+>+2024-05-01T10:00:00.000+0000"
    response = sim.api.get(raw)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_hides_deleted_records_and_query_all_shows_them(sim: SalesforceSim) -> None:
    kept, gone = sim.create(), sim.create()
    assert sim.api.delete(f"/sobjects/Lead/{gone}").status_code == 204
    assert [r["Id"] for r in _q(sim, "SELECT Id FROM Lead")["records"]] == [kept]
    assert _q(sim, "SELECT Id FROM Lead WHERE IsDeleted = true")["totalSize"] == 0
    rows = _q(sim, "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", "/queryAll")["records"]
    assert rows == [
        {"attributes": {"type": "Lead", "url": f"{API}/sobjects/Lead/{gone}"}, "Id": gone, "IsDeleted": True}
    ]


def test_count_limit_and_boolean_filters(sim: SalesforceSim) -> None:
    sim.create(HasOptedOutOfEmail=True)
    sim.create()
    sim.create("Contact", GRdeleted__c=True)
    assert _q(sim, "SELECT COUNT() FROM Lead") == {"totalSize": 2, "done": True, "records": []}
    assert _q(sim, "SELECT COUNT() FROM Lead WHERE HasOptedOutOfEmail = TRUE")["totalSize"] == 1
    assert _q(sim, "SELECT Id FROM Contact WHERE GRdeleted__c = true")["totalSize"] == 1
    assert len(_q(sim, "SELECT Id FROM Lead LIMIT 1")["records"]) == 1


def test_results_page_through_next_records_url(sim: SalesforceSim) -> None:
    made = _bulk(sim, 450)
    first = _q(
        sim, "SELECT Id, LastName FROM Lead ORDER BY LastName", **{"Sforce-Query-Options": "batchSize=200"}
    )
    assert first["totalSize"] == 450 and first["done"] is False and len(first["records"]) == 200
    next_url = first["nextRecordsUrl"]
    assert next_url.startswith(f"{API}/query/01g") and next_url.endswith("-200")
    seen = [r["Id"] for r in first["records"]]
    while next_url:
        page = sim.http.get(next_url, headers={"Authorization": f"Bearer {sim.token}"}).json()
        seen += [r["Id"] for r in page["records"]]
        next_url = page.get("nextRecordsUrl")
        assert page["done"] is (next_url is None)
    assert seen == made


def test_the_default_batch_is_2000_and_small_batch_sizes_are_raised_to_200(sim: SalesforceSim) -> None:
    _bulk(sim, 2001)
    default = _q(sim, "SELECT Id FROM Lead")
    assert len(default["records"]) == 2000 and default["nextRecordsUrl"].endswith("-2000")
    tiny = _q(sim, "SELECT Id FROM Lead", **{"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200


def test_a_bad_query_locator_is_refused(sim: SalesforceSim) -> None:
    response = sim.api.get("/query/01g5g00000000000AAA-2000")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_malformed_queries_are_400_malformed_query(sim: SalesforceSim) -> None:
    for soql in ("SELECT FROM Lead", "SELECT Id FROM Lead WHERE Email = 'unterminated", "DELETE FROM Lead"):
        response = sim.api.get("/query", params={"q": soql})
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"
    assert sim.api.get("/query").json()[0]["errorCode"] == "MALFORMED_QUERY"
    unknown = sim.api.get("/query", params={"q": "SELECT Id FROM Opportunity"})
    assert unknown.json()[0]["errorCode"] == "INVALID_TYPE"


def test_ids_filter_in_15_or_18_character_form(sim: SalesforceSim) -> None:
    first, second, _ = sim.create(), sim.create(), sim.create()
    body = _q(sim, f"SELECT Id FROM Lead WHERE Id IN ('{first[:15]}', '{second}') ORDER BY Id")  # noqa: S608
    assert [r["Id"] for r in body["records"]] == [first, second]
    assert _q(sim, f"SELECT Id FROM Lead WHERE Id != '{first}'")["totalSize"] == 2  # noqa: S608
