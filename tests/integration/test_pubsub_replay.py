"""The subscriber's state in Postgres: replay ids per org and channel, and one lock per org."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.crypto import SecretBox
from app.db import pubsub_replay
from app.db.connections import save_connection
from app.db.session import create_engine, session_factory, transaction
from app.settings import Settings
from tests.unit.inbound.payloads import new_id

CHANNEL = "/data/LeadChangeEvent"


async def _org(settings: Settings) -> uuid.UUID:
    box = SecretBox(settings.model_copy(update={"encryption_key": SecretStr(Fernet.generate_key().decode())}))
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            return await save_connection(
                session, box, kind="salesforce", external_id=new_id("00D"), api_base_url="https://x.example",
                auth_kind="client_credentials", credentials={},
            )
    finally:
        await engine.dispose()


async def test_a_replay_id_is_stored_as_opaque_bytes_and_forgetting_it_keeps_the_last_commit(
    settings: Settings,
) -> None:
    org = await _org(settings)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    committed = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    try:
        replay = b"\x00\xff\x10" + bytes(7)  # not a number, not text
        async with transaction(sessions) as session:
            await pubsub_replay.save_replay(session, org, CHANNEL, replay, last_commit_at=committed)
        async with transaction(sessions) as session:  # a keepalive: position only
            await pubsub_replay.save_replay(session, org, CHANNEL, replay + b"\x01")
        async with sessions() as session:
            stored = await pubsub_replay.stored_replay(session, org, CHANNEL)
            assert stored is not None
            assert stored.replay_id == replay + b"\x01" and stored.last_commit_at == committed
            assert await pubsub_replay.stored_replay(session, org, "/data/ContactChangeEvent") is None
        async with transaction(sessions) as session:
            await pubsub_replay.forget_replay(session, org, CHANNEL)
        async with sessions() as session:
            stored = await pubsub_replay.stored_replay(session, org, CHANNEL)
            assert stored is not None and stored.replay_id == b"" and stored.last_commit_at == committed
    finally:
        await engine.dispose()


async def test_one_subscriber_lock_per_org(settings: Settings) -> None:
    first_org, second_org = await _org(settings), await _org(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as one, engine.connect() as two:
            assert await pubsub_replay.try_subscriber_lock(one, first_org)
            assert not await pubsub_replay.try_subscriber_lock(two, first_org)
            assert await pubsub_replay.try_subscriber_lock(two, second_org)
            await pubsub_replay.release_subscriber_lock(one, first_org)
            assert await pubsub_replay.try_subscriber_lock(two, first_org)
    finally:
        await engine.dispose()
