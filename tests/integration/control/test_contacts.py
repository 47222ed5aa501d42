"""Finding a person's link and reading their decision log, newest first and paged."""

from __future__ import annotations

import json
import uuid

from tests.integration.control.harness import SECOND_LIST, Api, sql, stored_sync


async def add_link(api: Api, sync_id: uuid.UUID, email: str, number: int = 0) -> int:
    base = {"phone": {"value": "+48600100200", "at": "2026-11-26T10:00:00.000Z", "source": "salesforce"}}
    [row] = await sql(
        api.settings,
        "INSERT INTO contact_links (sync_id, state, salesforce_id, salesforce_object, getresponse_contact_id, "
        "email_normalized, base, pending_changes, lookup_attempts, removed_from_list, version) VALUES "
        "($1, 'linked', $4, 'Lead', $5, $2, $3, '{}', 0, false, 1) RETURNING id",
        sync_id, email, json.dumps(base), f"00Q5g00000AbCdE{number:03d}", f"pVyR{number}",
    )
    link_id: int = row["id"]
    return link_id


async def add_decision(api: Api, link_id: int, sync_id: uuid.UUID, field: str, old: object, new: object) -> None:
    await sql(
        api.settings,
        "INSERT INTO decisions (link_id, sync_id, event_id, field, old_value, new_value, winner, rule, write_to, "
        "reason) VALUES ($1, $2, 'ev', $3, $4, $5, 'salesforce', 'one_side_changed', 'getresponse', "
        "'changed in Salesforce only')",
        link_id, sync_id, field, json.dumps({"value": old}), json.dumps({"value": new}),
    )


async def test_a_link_is_found_by_email_as_the_sync_compares_it(api: Api) -> None:
    sync = await stored_sync(api.settings)
    link_id = await add_link(api, sync.id, "pat@example.com")
    found = (await api.get("/v1/contacts", params={"email": "  Pat@Example.COM ", "sync_id": str(sync.id)})).json()
    assert [link["id"] for link in found] == [link_id]
    assert found[0]["base"]["phone"]["value"] == "+48600100200"
    assert (await api.get("/v1/contacts", params={"email": "nobody@example.com"})).json() == []


async def test_decisions_are_newest_first_unboxed_and_paged(api: Api) -> None:
    sync = await stored_sync(api.settings)
    link_id = await add_link(api, sync.id, "pat@example.com")
    await add_decision(api, link_id, sync.id, "phone", None, "+48600100200")
    await add_decision(api, link_id, sync.id, "name", "Pat", "Pat Lee")
    await add_decision(api, link_id, sync.id, "phone", "+48600100200", None)

    page = (await api.get(f"/v1/contacts/{link_id}/decisions", params={"limit": 2})).json()
    assert page["link"]["id"] == link_id
    assert [(d["field"], d["old_value"], d["new_value"]) for d in page["items"]] == [
        ("phone", "+48600100200", None),
        ("name", "Pat", "Pat Lee"),
    ]
    assert page["items"][0]["write_to"] == ["getresponse"]
    rest = (
        await api.get(f"/v1/contacts/{link_id}/decisions", params={"limit": 2, "before_id": page["next_before_id"]})
    ).json()
    assert [(d["field"], d["old_value"]) for d in rest["items"]] == [("phone", None)]
    assert rest["next_before_id"] is None


async def test_decisions_of_an_unknown_link_are_404(api: Api) -> None:
    response = await api.get("/v1/contacts/424242/decisions")
    assert response.status_code == 404
    assert "GET /v1/contacts?email=" in response.json()["detail"]


async def test_a_sync_s_decisions_are_newest_first_with_each_person_s_email_and_paged(api: Api) -> None:
    sync, other = await stored_sync(api.settings), await stored_sync(api.settings, SECOND_LIST)
    pat, kim = await add_link(api, sync.id, "pat@example.com"), await add_link(api, sync.id, "kim@example.com", 1)
    await add_decision(api, pat, sync.id, "phone", None, "+48600100200")
    await add_decision(api, kim, sync.id, "name", "Kim", "Kim Park")
    await add_decision(api, await add_link(api, other.id, "lou@example.com"), other.id, "name", "Lou", "Lu")
    await add_decision(api, pat, sync.id, "name", "Pat", "Pat Lee")

    page = (await api.get(f"/v1/syncs/{sync.id}/decisions", params={"limit": 2})).json()
    assert [(d["email"], d["field"], d["new_value"]) for d in page["items"]] == [
        ("pat@example.com", "name", "Pat Lee"),
        ("kim@example.com", "name", "Kim Park"),
    ]
    assert page["items"][1]["link_id"] == kim and page["items"][1]["write_to"] == ["getresponse"]
    rest = (
        await api.get(f"/v1/syncs/{sync.id}/decisions", params={"limit": 2, "before_id": page["next_before_id"]})
    ).json()
    assert [(d["email"], d["old_value"]) for d in rest["items"]] == [("pat@example.com", None)]
    assert rest["next_before_id"] is None
    assert (await api.get(f"/v1/syncs/{uuid.uuid4()}/decisions")).status_code == 404
