"""`sfgr keys rotate`: every stored secret is re-encrypted under SFGR_ENCRYPTION_KEY while the old
key, in SFGR_ENCRYPTION_PREVIOUS_KEYS, still decrypts; afterwards the old key is not needed."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.crypto import SecretBox
from app.db.session import create_engine, session_factory, transaction
from app.settings import Settings
from tests.fixtures.connections import save_connections
from tests.integration.control.harness import sql
from tests.integration.control.test_tokens_cli import sfgr

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


async def connections_sealed_with(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            await save_connections(
                session, SecretBox(settings), org_id="00D5g0000SfGrRotAAA", account_id="rot8",
                salesforce_auth="client_credentials", salesforce_secrets={"outbound_key": "k1"},
                getresponse_secrets={"webhook_secret": "w1"},
            )
    finally:
        await engine.dispose()


def test_rotate_reseals_every_secret_under_the_new_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    asyncio.run(connections_sealed_with(control_settings.model_copy(update={"encryption_key": SecretStr(OLD)})))
    monkeypatch.setenv("SFGR_ENCRYPTION_KEY", NEW)
    monkeypatch.setenv("SFGR_ENCRYPTION_PREVIOUS_KEYS", OLD)

    assert sfgr(monkeypatch, control_settings, "keys", "rotate") == 0

    counts = json.loads(capsys.readouterr().out)["resealed"]
    assert counts == {"connections.credentials": 2, "connections.inbound_secret": 2, "oauth_states.code_verifier": 0}
    new_only = SecretBox(control_settings.model_copy(update={"encryption_key": SecretStr(NEW)}))
    rows = asyncio.run(sql(control_settings, "SELECT kind, credentials, inbound_secret FROM connections ORDER BY kind"))
    assert [new_only.open(r["inbound_secret"]) for r in rows] == [{"webhook_secret": "w1"}, {"outbound_key": "k1"}]
    assert all(new_only.open(r["credentials"]) == {} for r in rows)


def test_rotate_without_the_old_key_changes_nothing_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], control_settings: Settings
) -> None:
    asyncio.run(connections_sealed_with(control_settings.model_copy(update={"encryption_key": SecretStr(OLD)})))
    before = asyncio.run(sql(control_settings, "SELECT credentials FROM connections ORDER BY kind"))
    monkeypatch.setenv("SFGR_ENCRYPTION_KEY", NEW)

    assert sfgr(monkeypatch, control_settings, "keys", "rotate") == 1

    assert "nothing was changed" in capsys.readouterr().err
    assert asyncio.run(sql(control_settings, "SELECT credentials FROM connections ORDER BY kind")) == before
