"""Helpers of the inbound endpoint tests: connections in Postgres, the api in-process, and the
messages read back from the broker."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from app.bus import Topics
from app.crypto import SecretBox
from app.db.session import create_engine, session_factory, transaction
from app.domain.events import ChangeEvent
from app.main import create_app
from app.settings import Settings
from tests.fixtures.connections import save_connections
from tests.fixtures.topics import messages_on
from tests.unit.inbound.payloads import new_id

MAX_BODY_BYTES = 256 * 1024  # the api's body limit in these tests: small, so that 413 is cheap to reach


@dataclass(frozen=True)
class Connected:
    org_id: str
    outbound_key: str
    change_events_secret: str
    event_relay_key: str
    salesforce_connection_id: str
    account_id: str
    webhook_secret: str
    getresponse_connection_id: str


async def connect(
    settings: Settings,
    *,
    org_id: str | None = None,
    account_id: str | None = None,
    outbound_key: str | None = None,
    change_events_secret: str | None = None,
    event_relay_key: str | None = None,
    webhook_secret: str | None = None,
) -> Connected:
    """Saves one Salesforce and one GetResponse connection with their inbound secrets."""
    org_id = org_id or new_id("00D")
    account_id = account_id or "acct" + "".join(random.choices(string.ascii_letters, k=8))
    secrets = {
        "outbound_key": outbound_key if outbound_key is not None else uuid.uuid4().hex,
        "change_events_secret": change_events_secret or uuid.uuid4().hex,
        "event_relay_key": event_relay_key or uuid.uuid4().hex,
        "webhook_secret": webhook_secret or uuid.uuid4().hex,
    }
    box = SecretBox(settings)
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            salesforce, getresponse = await save_connections(
                session, box, org_id=org_id, account_id=account_id, salesforce_auth="jwt_bearer",
                salesforce_secrets={"outbound_key": secrets["outbound_key"],
                                    "change_events_secret": secrets["change_events_secret"],
                                    "event_relay_key": secrets["event_relay_key"]},
                getresponse_secrets={"webhook_secret": secrets["webhook_secret"]},
            )
    finally:
        await engine.dispose()
    return Connected(
        org_id=org_id, outbound_key=secrets["outbound_key"], change_events_secret=secrets["change_events_secret"],
        event_relay_key=secrets["event_relay_key"],
        salesforce_connection_id=str(salesforce), account_id=account_id,
        webhook_secret=secrets["webhook_secret"], getresponse_connection_id=str(getresponse),
    )


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings

    @property
    def topics(self) -> Topics:
        return Topics.from_settings(self.settings)


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The api app inside its lifespan, reached in-process through httpx's ASGI transport."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sfgr.test", timeout=30) as client:
            yield Api(client, settings)


@dataclass(frozen=True)
class Published:
    """One message read back from the broker."""

    partition: int
    key: str
    event: ChangeEvent
    headers: dict[str, str]


async def published(settings: Settings, topic: str, *, within: float = 20.0) -> list[Published]:
    """Every change event on `topic` so far, in partition and offset order (see `messages_on`)."""
    return [
        Published(partition=m.partition, key=m.key, event=ChangeEvent.from_bytes(m.value), headers=m.headers)
        for m in await messages_on(settings, topic, within=within)
    ]
