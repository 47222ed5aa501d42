"""The vendor registry: clients for the connections a process uses, one client (so one HTTP
session, and for GetResponse one rate limiter per account) per connection, made on first use from
the sealed credentials stored with the connection. The consumers, the poller, the jobs and the
control API's validation all take their clients from here."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.errors import Unauthorized
from app.clients.getresponse import GetResponseClient
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_auth import salesforce_credentials
from app.crypto import SecretBox
from app.db.connections import connected_by_id
from app.db.models import Connection
from app.settings import Settings


class Vendors:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.box = SecretBox(settings)
        self._salesforce: dict[uuid.UUID, SalesforceClient] = {}
        self._getresponse: dict[uuid.UUID, GetResponseClient] = {}
        self._lock = asyncio.Lock()

    async def _connection(self, connection_id: uuid.UUID) -> Connection:
        async with self.sessions() as session:
            connection = await connected_by_id(session, connection_id)
        if connection is None:
            raise Unauthorized(f"connection {connection_id} is not connected", vendor="salesforce")
        return connection

    async def salesforce(self, connection_id: uuid.UUID) -> SalesforceClient:
        async with self._lock:
            client = self._salesforce.get(connection_id)
            if client is None:
                connection = await self._connection(connection_id)
                client = SalesforceClient(
                    salesforce_credentials(self.box.open(connection.credentials)),
                    call_options_client=self.settings.salesforce_client_id,
                    reserve_fraction=self.settings.salesforce_api_reserve_fraction,
                )
                self._salesforce[connection_id] = client
            return client

    async def getresponse(self, connection_id: uuid.UUID) -> GetResponseClient:
        async with self._lock:
            client = self._getresponse.get(connection_id)
            if client is None:
                connection = await self._connection(connection_id)
                credentials = self.box.open(connection.credentials)
                client = GetResponseClient(
                    api_key=credentials.get("api_key"),
                    oauth_token=credentials.get("oauth_token"),
                    base_url=connection.api_base_url,
                    domain=connection.settings.get("max_domain"),
                    account=f"{connection.api_base_url}|{connection.external_id}",
                )
                self._getresponse[connection_id] = client
            return client

    async def close(self) -> None:
        for sf in self._salesforce.values():
            await sf.close()
        for gr in self._getresponse.values():
            await gr.close()
        self._salesforce.clear()
        self._getresponse.clear()
