"""Sync configurations against the simulators' live metadata: every problem is a 422 with its
field path and nothing is stored; a valid one is active (or draft, for a first sync); a list has
one sync; cancel stops it; a change is validated like a new sync."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest

from app.db.session import create_engine, session_factory
from app.db.syncs import SyncDirectory
from devstack.defaults import DEMO_MAPPING
from tests.integration.control.harness import MAIN_LIST, SECOND_LIST, Api, sql

MAPPING: dict[str, Any] = DEMO_MAPPING.model_dump(mode="json")
VALID: dict[str, Any] = {
    "name": "Newsletter <-> Leads and Contacts",
    "campaign_id": MAIN_LIST,
    "salesforce_objects": ["Lead", "Contact"],
    "create_as": "Lead",
    "lead_source": "GetResponse",
    "preferred_system": "salesforce",
    "marker_field": "GRdeleted__c",
    "set_opt_out": True,
    "mapping": MAPPING,
}


def with_fields(*replacements: tuple[str, dict[str, Any] | None], skipped: list[str] | None = None) -> dict[str, Any]:
    """VALID's mapping with the named mappings replaced (None: removed)."""
    fields = copy.deepcopy(MAPPING["fields"])
    for name, replacement in replacements:
        fields = [f for f in fields if f["name"] != name]
        if replacement is not None:
            fields.append(replacement)
    return {**VALID, "mapping": {**MAPPING, "fields": fields, "skipped": skipped or []}}


@pytest.fixture
async def connected(api: Api, salesforce_url: str, getresponse_url: str) -> Api:
    await api.connect_salesforce(salesforce_url)
    await api.connect_getresponse(getresponse_url)
    return api


async def sync_count(api: Api) -> int:
    return len(await sql(api.settings, "SELECT id FROM syncs"))


CASES = [
    pytest.param({**VALID, "campaign_id": "GrNope"}, "campaign_id",
                 "GetResponse list GrNope does not exist; the lists are: sfgr_main (Gr7Mn), sfgr_second (Gr7Sc)",
                 id="unknown list"),
    pytest.param(with_fields(("email", None)), "mapping",
                 "Email must be mapped to the GetResponse email field for Leads.", id="email not mapped"),
    pytest.param(with_fields(("company", None)), "mapping",
                 "Company is required on Leads: map it to a GetResponse field.", id="company not mapped"),
    pytest.param(
        with_fields(("phone", {"name": "phone", "salesforce": "Phone",
                               "getresponse": {"custom_field_id": "cfEmp", "type": "number"}})),
        "mapping",
        "Lead.Phone holds phone values, which GetResponse field 'employees' of type number cannot store: map it "
        "to a phone field or to a text field.",
        id="phone to a number field",
    ),
    pytest.param(
        with_fields(("country", {"name": "country", "salesforce": "Country", "objects": ["Lead"],
                                 "getresponse": {"custom_field_id": "cfPhn", "type": "phone"}})),
        "mapping",
        "Lead.Country holds country values, which GetResponse field 'phone' of type phone cannot store: map it "
        "to a country field or to a text field.",
        id="country to a phone field",
    ),
    pytest.param(with_fields(("name", None)), "mapping",
                 "Lead.LastName is required in Salesforce: map it, or list it as skipped.",
                 id="required field neither mapped nor skipped"),
    pytest.param({**VALID, "marker_field": "Email"}, "marker_field",
                 "Lead.Email is of type email, not a checkbox (boolean)", id="marker not a checkbox"),
    pytest.param({**VALID, "marker_field": "Gone__c"}, "marker_field",
                 "Lead.Gone__c does not exist in Salesforce", id="marker missing"),
    pytest.param({**VALID, "lead_source": "Carrier pigeon"}, "lead_source",
                 "'Carrier pigeon' is not an active value of Lead.LeadSource; the values are: Web, Phone Inquiry, "
                 "Partner Referral, Purchased List, Other, GetResponse", id="lead source not in the picklist"),
    pytest.param({**VALID, "salesforce_objects": ["Contact"], "create_as": "Lead"}, "create_as",
                 "people from GetResponse would become Leads, which this sync does not read back: add it to "
                 "salesforce_objects or create the other type", id="create_as not synced"),
    pytest.param({**VALID, "soql_filter": "LeadSource = "}, "soql_filter", "Lead: salesforce 400 MALFORMED_QUERY",
                 id="malformed soql filter"),
    pytest.param({**VALID, "salesforce_campaign_id": "701000000000001"}, "salesforce_campaign_id",
                 "no Campaign 701000000000001 in the connected Salesforce org", id="campaign missing"),
    pytest.param({**VALID, "salesforce_campaign_id": "701000000000001", "soql_filter": "LeadSource = "},
                 "salesforce_campaign_id", "no Campaign 701000000000001", id="campaign missing, filter too"),
]


@pytest.mark.parametrize(("body", "path", "message"), CASES)
async def test_a_sync_with_a_problem_is_422_naming_it_and_nothing_is_stored(
    connected: Api, body: dict[str, Any], path: str, message: str
) -> None:
    response = await connected.post("/v1/syncs", json=body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(p["loc"] == ["body", path] and p["msg"].startswith(message) for p in problems), problems
    assert await sync_count(connected) == 0


async def test_every_problem_is_reported_at_once(connected: Api) -> None:
    body = {**with_fields(("email", None), ("company", None)), "marker_field": "Email", "lead_source": "Nope"}
    response = await connected.post("/v1/syncs", json=body)
    assert response.status_code == 422
    paths = sorted(p["loc"][1] for p in response.json()["detail"])
    assert paths == ["lead_source", "mapping", "mapping", "mapping", "marker_field", "marker_field"]


async def test_a_body_that_is_not_a_sync_is_422_from_the_schema(connected: Api) -> None:
    response = await connected.post("/v1/syncs", json={**VALID, "salesforce_objects": ["Account"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "salesforce_objects"]


async def test_a_valid_sync_is_active_at_once_and_readable(connected: Api) -> None:
    response = await connected.post("/v1/syncs", json=VALID)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"] == "active" and created["next_step"] is None
    assert created["mapping"] == MAPPING
    assert (await connected.get(f"/v1/syncs/{created['id']}")).json() == created
    assert [s["id"] for s in (await connected.get("/v1/syncs")).json()] == [created["id"]]


async def test_a_sync_for_a_first_sync_waits_in_draft(connected: Api) -> None:
    created = (await connected.post("/v1/syncs", json={**VALID, "first_sync": True})).json()
    assert created["state"] == "draft"
    assert created["next_step"] == f"start the first sync: POST /v1/syncs/{created['id']}/first-sync"


async def test_a_list_has_one_sync_until_it_is_cancelled(connected: Api) -> None:
    first = (await connected.post("/v1/syncs", json=VALID)).json()
    second = await connected.post("/v1/syncs", json={**VALID, "name": "again"})
    assert second.status_code == 409
    assert second.json()["detail"] == f"GetResponse list {MAIN_LIST} already has sync {first['id']}; cancel it first"
    assert (await connected.post(f"/v1/syncs/{first['id']}/cancel")).status_code == 200
    assert (await connected.post("/v1/syncs", json={**VALID, "name": "again"})).status_code == 201


async def test_a_cancelled_sync_is_not_live_for_the_consumers_and_cannot_change(connected: Api) -> None:
    created = (await connected.post("/v1/syncs", json=VALID)).json()
    cancelled = await connected.post(f"/v1/syncs/{created['id']}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    assert (await connected.post(f"/v1/syncs/{created['id']}/cancel")).json()["state"] == "cancelled"
    engine = create_engine(connected.settings)
    try:
        directory = SyncDirectory(session_factory(engine))
        seen = await directory.by_id(uuid.UUID(created["id"]))
        assert seen is not None and not seen.live
        assert await directory.for_campaign(MAIN_LIST) is None
    finally:
        await engine.dispose()
    changed = await connected.patch(f"/v1/syncs/{created['id']}", json={"name": "x"})
    assert changed.status_code == 409


async def test_a_change_is_validated_like_a_new_sync(connected: Api) -> None:
    created = (await connected.post("/v1/syncs", json=VALID)).json()
    path = f"/v1/syncs/{created['id']}"
    refused = await connected.patch(path, json={"marker_field": "Phone", "preferred_system": "getresponse"})
    assert refused.status_code == 422
    assert (await connected.get(path)).json()["preferred_system"] == "salesforce"
    changed = await connected.patch(path, json={"preferred_system": "getresponse", "soql_filter": "LeadSource != null"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["preferred_system"] == "getresponse"
    assert changed.json()["soql_filter"] == "LeadSource != null"
    cleared = await connected.patch(path, json={"soql_filter": None})
    assert cleared.json()["soql_filter"] is None
    assert (await connected.patch(path, json={"campaign_id": SECOND_LIST})).status_code == 422
    assert (await connected.patch(path, json={"name": None})).status_code == 422


async def test_unknown_sync_is_404(connected: Api) -> None:
    missing = uuid.uuid4()
    assert (await connected.get(f"/v1/syncs/{missing}")).status_code == 404
    assert (await connected.post(f"/v1/syncs/{missing}/cancel")).status_code == 404


async def test_a_sync_needs_both_connections(api: Api) -> None:
    response = await api.post("/v1/syncs", json=VALID)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "connect the Salesforce org and the GetResponse account first (/v1/connections)"
    )


async def test_a_sync_whose_group_is_a_campaign_and_a_filter_is_stored_with_both(
    connected: Api, salesforce_url: str
) -> None:
    async with httpx.AsyncClient(base_url=salesforce_url) as sf:
        created = await sf.post("/_sim/records/Campaign", json={"Name": "Spring webinar", "IsActive": True})
        assert created.status_code < 300, created.text
    campaign_id = created.json()["id"]
    body = {**VALID, "salesforce_campaign_id": campaign_id, "soql_filter": "LeadSource = 'Web'"}
    response = await connected.post("/v1/syncs", json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["salesforce_campaign_id"], response.json()["soql_filter"]) == (
        campaign_id, "LeadSource = 'Web'"
    )


async def test_a_campaign_id_that_is_not_one_is_422_from_the_schema(connected: Api) -> None:
    response = await connected.post("/v1/syncs", json={**VALID, "salesforce_campaign_id": "00Q000000000001"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "salesforce_campaign_id"]


@pytest.mark.parametrize("soql_filter", ["LeadSource='Web') OR (Id != null", "LeadSource = 'Web' LIMIT 1"])
async def test_a_soql_filter_that_is_not_one_where_condition_is_422_and_stores_nothing(
    connected: Api, soql_filter: str
) -> None:
    api = connected
    created = await api.post("/v1/syncs", json={**VALID, "soql_filter": soql_filter})
    assert created.status_code == 422, created.text
    [problem] = created.json()["detail"]
    assert problem["loc"] == ["body", "soql_filter"]
    assert "soql_filter must be one WHERE condition" in problem["msg"]
    assert await sync_count(api) == 0

    sync_id = (await api.post("/v1/syncs", json=VALID)).json()["id"]
    patched = await api.patch(f"/v1/syncs/{sync_id}", json={"soql_filter": soql_filter})
    assert patched.status_code == 422, patched.text
    assert patched.json()["detail"][0]["loc"] == ["body", "soql_filter"]
