"""`sfgr tokens create|list|revoke`: the token is printed once, only its SHA-256 is stored, and a
revoked token no longer opens the API."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from app.cli import build_parser
from app.settings import Settings, get_settings
from tests.integration.control.harness import Api, sql


def sfgr(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> int:
    """`sfgr <argv>` in this process (as `main` runs it, minus its signal set-up, which only the
    main thread may do); returns the exit code."""
    monkeypatch.setenv("SFGR_DATABASE_URL", settings.database_url.get_secret_value())
    get_settings.cache_clear()
    try:
        args = build_parser().parse_args(list(argv))
        code: int = args.func(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        get_settings.cache_clear()
    return code


def test_create_prints_the_token_once_and_stores_only_its_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    code = sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "read", "--scope", "resync:write",
                "--name", "ops dashboard")
    assert code == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("sfgr_") and "\n" not in token
    assert "shown only this once" in err
    [row] = asyncio.run(sql(control_settings, "SELECT name, token_hash, scopes FROM api_tokens"))
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["scopes"] == ["read", "resync:write"]
    assert row["name"] == "ops dashboard"


def test_an_unknown_scope_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    assert sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "admin") == 2
    assert "invalid choice: 'admin'" in capsys.readouterr().err


def test_list_shows_every_token_without_secrets_and_revoke_marks_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    sfgr(monkeypatch, control_settings, "tokens", "create", "--scope", "syncs:admin", "--name", "ci")
    token = capsys.readouterr().out.strip()
    assert sfgr(monkeypatch, control_settings, "tokens", "list") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["scopes"], t["revoked_at"]) for t in listed] == [("ci", ["syncs:admin"], None)]
    assert token not in json.dumps(listed)

    assert sfgr(monkeypatch, control_settings, "tokens", "revoke", listed[0]["id"]) == 0
    revoked = json.loads(capsys.readouterr().out)
    assert revoked["revoked_at"] is not None
    assert sfgr(monkeypatch, control_settings, "tokens", "revoke", "0b9f0f2e-0000-4000-8000-000000000000") == 1


async def test_a_token_revoked_by_the_cli_is_refused_by_the_api(api: Api) -> None:
    [row] = await sql(api.settings, "SELECT id FROM api_tokens")
    assert (await api.get("/v1/connections")).status_code == 200

    def revoke() -> int:
        with pytest.MonkeyPatch.context() as monkeypatch:
            return sfgr(monkeypatch, api.settings, "tokens", "revoke", str(row["id"]))

    assert await asyncio.to_thread(revoke) == 0
    assert (await api.get("/v1/connections")).status_code == 401
