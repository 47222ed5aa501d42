"""Helpers of the control-API tests: tokens, the api in-process, connecting the vendors'
simulators, and what a test reads back from Postgres."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.control import tokens
from app.crypto import SecretBox
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from app.main import create_app
from app.outbox import OutboxRelay
from app.settings import Settings
from devstack.defaults import DEMO_MAPPING
from tests.fixtures.connections import save_connections
from tests.fixtures.simulators import GR_ACCOUNT_ID, GR_API_KEY, SF_CLIENT_ID, SF_CLIENT_SECRET, SF_ORG_ID

MAIN_LIST = "Gr7Mn"
SECOND_LIST = "Gr7Sc"
ALL_SCOPES = ("syncs:admin",)


async def new_token(settings: Settings, *scopes: str, name: str = "test") -> str:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            issued = await tokens.create_token(session, name=name, scopes=scopes)
    finally:
        await engine.dispose()
    return issued.token


async def sql(settings: Settings, query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of a plain SQL query against the test's database (what the api stored)."""
    dsn = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings
    admin_token: str
    app: FastAPI

    @property
    def relay(self) -> OutboxRelay:
        """The api's outbox relay, to see what it did."""
        relay: OutboxRelay = self.app.state.resources.relay
        return relay

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    async def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.bearer(token), **kwargs)

    async def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.bearer(token), **kwargs)

    async def patch(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(path, headers=self.bearer(token), **kwargs)

    async def delete(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.client.delete(path, headers=self.bearer(token), **kwargs)

    async def connect_salesforce(self, salesforce_url: str) -> dict[str, Any]:
        """The simulated org, through the client-credentials connect (its My Domain is its URL)."""
        response = await self.post(
            "/v1/connections/salesforce/client-credentials",
            json={"client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET, "my_domain_url": salesforce_url},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def connect_getresponse(self, getresponse_url: str, **extra: Any) -> dict[str, Any]:
        response = await self.post(
            "/v1/connections/getresponse",
            json={"api_key": GR_API_KEY, "api_base_url": f"{getresponse_url}/v3", "account_id": GR_ACCOUNT_ID,
                  **extra},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The api app inside its lifespan, reached in-process through httpx's ASGI transport."""
    admin = await new_token(settings, *ALL_SCOPES, name="test admin")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sfgr.test", timeout=30) as client:
            yield Api(client, settings, admin, app)


async def configure_sim(url: str, **patch: Any) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        (await http.post(f"{url}/_sim/config", json=patch)).raise_for_status()


@dataclass(frozen=True)
class StoredSync:
    id: uuid.UUID
    salesforce_connection_id: uuid.UUID
    campaign_id: str


async def stored_sync(settings: Settings, campaign_id: str = MAIN_LIST) -> StoredSync:
    """Connections and a sync written straight to Postgres: for tests of what reads them, which
    need no vendor behind them."""
    box = SecretBox(settings)
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            salesforce, getresponse = await save_connections(
                session, box, org_id=SF_ORG_ID, account_id=GR_ACCOUNT_ID, salesforce_auth="client_credentials"
            )
            sync_id = await insert_sync(
                session, name="stored", salesforce_connection_id=salesforce, getresponse_connection_id=getresponse,
                campaign_id=campaign_id, salesforce_objects=["Lead", "Contact"], create_as="Lead",
                preferred_system="salesforce", mapping=DEMO_MAPPING,
            )
    finally:
        await engine.dispose()
    return StoredSync(sync_id, salesforce, campaign_id)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
