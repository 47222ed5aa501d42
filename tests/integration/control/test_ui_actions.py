"""The admin UI's sync actions in-process: pause and resume through the same service as the API,
the job history and "replay all" of the sync page, and an audit entry for each change, written
as the API writes it, with the signed-in token as the actor."""

from __future__ import annotations

import re
import uuid

import httpx

from app.domain.sides import Side
from tests.integration.control.harness import Api, new_token, sql
from tests.integration.control.test_audit import entries
from tests.integration.control.test_dead_letters import add_letter, change_event
from tests.integration.control.test_status import created_sync
from tests.integration.control.test_ui_session import signed_in


async def csrf_of(client: httpx.AsyncClient, page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(page)).text)
    assert found is not None, f"no form on {page}"
    return found.group(1)


async def state_of(api: Api, sync_id: str) -> str:
    [row] = await sql(api.settings, "SELECT state FROM syncs WHERE id = $1", uuid.UUID(sync_id))
    return str(row["state"])


async def test_pausing_and_resuming_in_the_ui_is_audited_with_the_token_as_the_api_records_it(
    api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    sync_id = (await created_sync(api, salesforce_url, getresponse_url))["id"]
    async with signed_in(api, "http://sfgr.test") as (client, _):
        confirm = await client.get(f"/ui/syncs/{sync_id}/pause")
        assert "applied in the order they came" in confirm.text
        csrf = await csrf_of(client, f"/ui/syncs/{sync_id}/pause")
        paused = await client.post(f"/ui/syncs/{sync_id}/pause", data={"csrf": csrf})
        assert paused.status_code == 303
        assert await state_of(api, sync_id) == "paused"
        page = (await client.get(f"/ui/syncs/{sync_id}")).text
        assert "Resume the sync" in page and "Pause the sync" not in page
        resumed = await client.post(f"/ui/syncs/{sync_id}/resume", data={"csrf": csrf})
        assert resumed.status_code == 303
    assert await state_of(api, sync_id) == "active"

    log = (await entries(api, target_id=sync_id))[:2]  # the sync's creation comes before

    [token] = await sql(api.settings, "SELECT id FROM api_tokens WHERE name = 'test admin'")
    assert [(e["action"], e["target_kind"], e["change"]) for e in log] == [
        ("sync.resume", "sync", {"changes_resent": 0}), ("sync.pause", "sync", {})]
    assert {(e["actor_kind"], e["actor_id"], e["actor_name"]) for e in log} == {
        ("token", str(token["id"]), "test admin")}


async def test_replay_all_of_a_cause_goes_through_the_bulk_service_and_is_audited(
    api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    sync_id = (await created_sync(api, salesforce_url, getresponse_url))["id"]
    letters = [await add_letter(api, change_event(Side.SALESFORCE, f"00Q00000000000{n}AAA").model_dump(mode="json"),
                                uuid.UUID(sync_id)) for n in range(2)]
    async with signed_in(api, "http://sfgr.test") as (client, _):
        csrf = await csrf_of(client, f"/ui/syncs/{sync_id}")
        answer = await client.post(
            f"/ui/syncs/{sync_id}/dead-letters/replay",
            data={"csrf": csrf, "error_class": "Permanent", "reason": "getresponse 400 1000: invalid"},
        )
        assert answer.status_code == 303
        assert "2+dead+letters+replayed" in answer.headers["location"]

    [entry] = await entries(api, action="dead_letter.replay_matching")
    assert entry["actor_name"] == "test admin" and entry["target_kind"] == "dead_letter"
    assert entry["change"] == {
        "filter": {"sync_id": sync_id, "error_class": "Permanent",
                   "reason_contains": "getresponse 400 1000: invalid", "limit": 10_000},
        "ids": sorted(letters),
    }
    still_open = await sql(api.settings, "SELECT id FROM dead_letters WHERE replayed_at IS NULL")
    assert still_open == []


async def test_the_sync_page_shows_its_jobs_and_a_reader_no_pause_button(
    api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    sync_id = (await created_sync(api, salesforce_url, getresponse_url))["id"]
    started = await api.post("/v1/resync", json={"sync_id": sync_id, "scope": {"whole_sync": True}})
    assert started.status_code == 202
    reader = await new_token(api.settings, "read", name="reader")
    async with signed_in(api, "http://sfgr.test") as (client, _):
        page = (await client.get(f"/ui/syncs/{sync_id}")).text
        assert 'id="jobs"' in page and "resync, reconcile" in page
        assert "Pause the sync" in page
    api.admin_token, admin = reader, api.admin_token
    try:
        async with signed_in(api, "http://sfgr.test") as (client, _):
            page = (await client.get(f"/ui/syncs/{sync_id}")).text
            assert 'id="jobs"' in page
            assert "Pause the sync" not in page and "/pause" not in page
    finally:
        api.admin_token = admin
