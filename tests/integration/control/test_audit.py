"""Who did what: every control-plane change leaves one audit entry (who, when, what, on what, the
change with its secrets redacted), read back with GET /v1/audit and `sfgr audit`; a whole-sync
overwrite needs syncs:admin; tokens may expire."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.control import tokens
from app.db.session import create_engine, session_factory
from app.domain.sides import Side
from app.settings import Settings
from tests.fixtures.simulators import GR_API_KEY, SF_CLIENT_SECRET
from tests.integration.control.harness import Api, new_token, sql, stored_sync
from tests.integration.control.test_connections import oauth_connect
from tests.integration.control.test_dead_letters import add_letter, change_event
from tests.integration.control.test_tokens_cli import sfgr


async def entries(api: Api, **query: Any) -> list[dict[str, Any]]:
    response = await api.get("/v1/audit", params=query)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["entries"]
    return found


async def test_connects_and_a_disconnect_are_recorded_with_the_token_and_no_secret(
    api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    await api.connect_salesforce(salesforce_url)
    await api.connect_getresponse(getresponse_url)
    assert (await api.delete("/v1/connections/getresponse")).status_code == 200

    log = await entries(api)

    assert [e["action"] for e in log] == [
        "connection.disconnect.getresponse", "connection.connect.getresponse", "connection.connect.salesforce"]
    [token] = await sql(api.settings, "SELECT id FROM api_tokens WHERE name = 'test admin'")
    assert {(e["actor_kind"], e["actor_id"], e["actor_name"]) for e in log} == {("token", str(token["id"]), "test admin")}
    assert all(e["target_kind"] == "connection" and e["target_id"] for e in log)
    salesforce = log[2]["change"]
    assert salesforce["client_secret"] == "[redacted]" and salesforce["my_domain_url"] == salesforce_url
    assert log[1]["change"]["api_key"] == "[redacted]"
    text = json.dumps(log)
    assert GR_API_KEY not in text and SF_CLIENT_SECRET not in text
    connected_by = {c["kind"]: c["connected_by"] for c in (await api.get("/v1/connections")).json()}
    assert connected_by == {"salesforce": "test admin", "getresponse": "test admin"}


async def test_an_oauth_connect_is_recorded_under_the_token_that_started_it(
    api: Api, salesforce_url: str
) -> None:
    """The callback comes back with the one-time state only; the state remembers who started it."""
    response = await oauth_connect(api)
    assert response.status_code == 200, response.text

    [entry] = await entries(api, action="connection.connect.salesforce")
    [token] = await sql(api.settings, "SELECT id FROM api_tokens WHERE name = 'test admin'")
    assert (entry["actor_kind"], entry["actor_id"]) == ("oauth_callback", str(token["id"]))
    assert entry["actor_name"] == "test admin (authorized in Salesforce)"
    [listed] = (await api.get("/v1/connections")).json()
    assert listed["connected_by"] == "test admin (authorized in Salesforce)"


async def test_sync_changes_and_jobs_are_recorded_and_the_log_filters_and_pages(api: Api) -> None:
    sync = await stored_sync(api.settings)
    assert (await api.post("/v1/resync", json={"sync_id": str(sync.id), "scope": {"emails": ["a@example.com"]}},
                           )).status_code == 202
    assert (await api.post(f"/v1/syncs/{sync.id}/cancel")).status_code == 200

    log = await entries(api, target_id=str(sync.id))
    assert [e["action"] for e in log] == ["sync.cancel", "job.resync"]
    assert log[1]["change"]["scope"]["emails"] == ["a@example.com"] and log[1]["change"]["job_id"]

    first = (await api.get("/v1/audit", params={"limit": 1})).json()
    assert [e["action"] for e in first["entries"]] == ["sync.cancel"]
    second = await entries(api, limit=1, before_id=first["next_before_id"])
    assert [e["action"] for e in second] == ["job.resync"]
    assert [e["action"] for e in await entries(api, action="job.resync")] == ["job.resync"]


async def test_a_refused_change_leaves_no_entry(api: Api) -> None:
    response = await api.post("/v1/connections/getresponse", json={"api_key": "k", "api_base_url": "ftp://x"})
    assert response.status_code == 422
    assert await entries(api) == []


async def test_a_reader_may_read_the_audit_log(api: Api) -> None:
    reader = await new_token(api.settings, "read")
    assert (await api.get("/v1/audit", token=reader)).status_code == 200


def test_token_commands_and_key_rotation_are_recorded_as_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    assert sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "read", "--name", "dash") == 0
    token = capsys.readouterr().out.strip()
    [row] = asyncio.run(sql(control_settings, "SELECT id FROM api_tokens WHERE name = 'dash'"))
    assert sfgr(monkeypatch, control_settings, "tokens", "revoke", str(row["id"])) == 0
    assert sfgr(monkeypatch, control_settings, "keys", "rotate") == 0
    capsys.readouterr()

    assert sfgr(monkeypatch, control_settings, "audit", "--target-kind", "token") == 0
    log = json.loads(capsys.readouterr().out)["entries"]

    assert [(e["action"], e["actor_kind"], e["target_id"]) for e in log] == [
        ("token.revoke", "cli", str(row["id"])), ("token.create", "cli", str(row["id"]))]
    assert token not in json.dumps(log)
    assert sfgr(monkeypatch, control_settings, "audit", "--action", "keys.rotate") == 0
    assert len(json.loads(capsys.readouterr().out)["entries"]) == 1


@pytest.mark.parametrize("mode", ["salesforce_wins", "getresponse_wins"])
async def test_a_whole_sync_overwrite_needs_syncs_admin(api: Api, mode: str) -> None:
    sync = await stored_sync(api.settings)
    writer = await new_token(api.settings, "resync:write")
    whole = {"sync_id": str(sync.id), "scope": {"whole_sync": True}, "mode": mode}

    refused = await api.post("/v1/resync", token=writer, json=whole)

    assert refused.status_code == 403
    assert "needs the scope syncs:admin" in refused.json()["detail"]
    assert (await api.post("/v1/resync", token=writer, json={**whole, "dry_run": True})).status_code == 202


async def test_resync_write_keeps_reconcile_and_selected_people(api: Api) -> None:
    sync = await stored_sync(api.settings)
    writer = await new_token(api.settings, "resync:write")
    some = {"sync_id": str(sync.id), "scope": {"emails": ["pat@example.com"]}, "mode": "salesforce_wins"}
    assert (await api.post("/v1/resync", token=writer, json=some)).status_code == 202


async def test_an_expired_token_is_401_naming_when_it_expired(api: Api) -> None:
    engine = create_engine(api.settings)
    try:
        async with session_factory(engine)() as session:
            issued = await tokens.create_token(session, name="short", scopes=["read"], expires_in=timedelta(hours=1))
            live = await tokens.create_token(session, name="long", scopes=["read"], expires_in=timedelta(days=90))
        await asyncio.sleep(0)
    finally:
        await engine.dispose()
    assert (await api.get("/v1/audit", token=issued.token)).status_code == 200
    await sql(api.settings, "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'")

    response = await api.get("/v1/audit", token=issued.token)

    assert response.status_code == 401
    assert "expired at" in response.json()["detail"]
    assert (await api.get("/v1/audit", token=live.token)).status_code == 200
    assert live.info.expires_at is not None
    assert abs(live.info.expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)


def test_tokens_create_takes_an_expiry_and_list_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    assert sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "read", "--expires-in", "90d") == 0
    assert "expires 20" in capsys.readouterr().err
    assert sfgr(monkeypatch, control_settings, "tokens", "list") == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["expires_at"] is not None
    assert sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "read", "--expires-in", "soon") == 2
    assert "is not a lifetime" in capsys.readouterr().err


async def test_dead_letter_replays_and_discards_are_recorded(api: Api) -> None:
    replayed = await add_letter(api, change_event(Side.SALESFORCE, "00Q5g00000AbCdEAAA").model_dump(mode="json"))
    discarded = await add_letter(api, change_event(Side.SALESFORCE, "00Q3").model_dump(mode="json"))
    assert (await api.post(f"/v1/dead-letters/{replayed}/replay")).status_code == 200
    assert (await api.delete(f"/v1/dead-letters/{discarded}")).status_code == 200
    assert (await api.delete(f"/v1/dead-letters/{discarded}")).status_code == 409  # refused: not recorded

    log = await entries(api, target_kind="dead_letter")

    assert [(e["action"], e["target_id"]) for e in log] == [
        ("dead_letter.discard", str(discarded)), ("dead_letter.replay", str(replayed))]
