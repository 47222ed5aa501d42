"""The vendor registry: clients for the connections a process uses, one client (so one HTTP
session, and for GetResponse one rate limiter per account) per connection, made on first use from
the sealed credentials stored with the connection. The consumers, the poller, the jobs and the
control API's validation all take their clients from here.

A connection changes under a running process: connecting the same org or account again (a new
API key, a new refresh token) rewrites its row, and disconnecting marks it disconnected. So the
registry re-reads a connection's version (`app.db.connections.connection_version`: one small row)
when its client is asked for and `connection_recheck_s` has passed since the last look; never more
often, whatever the number of events. A changed connection's client is retired and a new one made
from the new credentials; the GetResponse account's limiter is not the client's but the registry's
(by API base and account id), so the new client keeps the budget, the pauses and the calls in
flight of the old one. A disconnected connection's client is
retired too, and asking for it raises `Unauthorized` until the connection is connected again.

Callers take their client per event (or per job), so a retired client is only in the hands of work
that started before the change: a call in flight on it ends as `Transient`, and a later one raises
`Transient` (new credentials: retrying takes the new client) or `Unauthorized` (disconnected).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clients.breaker import AccountBreakers, BreakerPolicy, account_breakers
from app.clients.errors import Unauthorized, Vendor
from app.clients.getresponse import GetResponseClient
from app.clients.limits import AccountLimiter, AccountLimits
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_auth import salesforce_credentials
from app.clients.shared_limits import SharedBudget
from app.clients.transport import Retirement
from app.clients.vendor_hosts import VendorHosts
from app.crypto import SecretBox
from app.db.connections import ConnectionVersion, connection_version, connection_with_version
from app.db.models import Connection
from app.domain.states import ConnectionState
from app.logs import get_logger
from app.settings import Settings

log = get_logger(__name__)

C = TypeVar("C", SalesforceClient, GetResponseClient)


@dataclass
class _Held(Generic[C]):
    """What the registry knows of one connection: its version when last read, when that was, and
    its client (None while the connection is not connected, or does not exist)."""

    version: ConnectionVersion | None
    client: C | None
    checked_at: float


class Vendors:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.box = SecretBox(settings)
        # A connection stored before hosts were checked, with a host no longer allowed, gets no client.
        self.hosts = VendorHosts.from_settings(settings)
        self.recheck_s = settings.connection_recheck_s
        self._clock = clock
        self._salesforce: dict[uuid.UUID, _Held[SalesforceClient]] = {}
        self._getresponse: dict[uuid.UUID, _Held[GetResponseClient]] = {}
        self._limiters: dict[str, AccountLimiter] = {}
        self._budgets: list[SharedBudget] = []
        self._lock = asyncio.Lock()

    async def salesforce(self, connection_id: uuid.UUID) -> SalesforceClient:
        return await self._current(self._salesforce, connection_id, "salesforce", self._new_salesforce)

    async def getresponse(self, connection_id: uuid.UUID) -> GetResponseClient:
        return await self._current(self._getresponse, connection_id, "getresponse", self._new_getresponse)

    async def close(self) -> None:
        for sf in self._salesforce.values():
            if sf.client is not None:
                await sf.client.close()
        for gr in self._getresponse.values():
            if gr.client is not None:
                await gr.client.close()
        self._salesforce.clear()
        self._getresponse.clear()
        for budget in self._budgets:
            await budget.stop()
        self._budgets.clear()
        self._limiters.clear()

    async def _current(
        self,
        held: dict[uuid.UUID, _Held[C]],
        connection_id: uuid.UUID,
        vendor: Vendor,
        make: Callable[[Connection], C],
    ) -> C:
        async with self._lock:
            now = self._clock()
            entry = held.get(connection_id)
            if entry is None or now - entry.checked_at >= self.recheck_s:
                entry = held[connection_id] = await self._checked(entry, connection_id, vendor, make, now)
            if entry.client is None:
                raise Unauthorized(f"connection {connection_id} is not connected", vendor=vendor)
            return entry.client

    async def _checked(
        self,
        entry: _Held[C] | None,
        connection_id: uuid.UUID,
        vendor: Vendor,
        make: Callable[[Connection], C],
        now: float,
    ) -> _Held[C]:
        """The connection as it is now: `entry` itself when nothing changed, else a new client (or
        none) in place of the old one, which is retired."""
        async with self.sessions() as session:
            if entry is not None:
                version = await connection_version(session, connection_id)
                if version == entry.version:
                    entry.checked_at = now
                    return entry
            found = await connection_with_version(session, connection_id)
        connection, version = found if found is not None else (None, None)
        connected = connection is not None and connection.state is ConnectionState.CONNECTED
        client = make(connection) if connection is not None and connected else None
        if entry is not None and entry.client is not None:
            retirement = (
                Retirement(f"connection {connection_id} was connected again", revoked=False)
                if client is not None
                else Retirement(f"connection {connection_id} is not connected", revoked=True)
            )
            await entry.client.retire(retirement)
            log.info(
                "vendor client retired",
                vendor=vendor,
                connection_id=str(connection_id),
                reason=retirement.reason,
            )
        return _Held(version, client, now)

    def _new_salesforce(self, connection: Connection) -> SalesforceClient:
        credentials = salesforce_credentials(self.box.open(connection.credentials))
        self.hosts.check("salesforce", f"connection {connection.id}'s token URL", credentials.token_url)
        return SalesforceClient(
            credentials,
            hosts=self.hosts,
            call_options_client=self.settings.salesforce_client_id,
            reserve_fraction=self.settings.salesforce_api_reserve_fraction,
            quota_retry_after_s=self.settings.salesforce_quota_recheck_s,
            breakers=self._breakers("salesforce", connection),
        )

    def _new_getresponse(self, connection: Connection) -> GetResponseClient:
        self.hosts.check("getresponse", f"connection {connection.id}'s api_base_url", connection.api_base_url)
        credentials = self.box.open(connection.credentials)
        return GetResponseClient(
            api_key=credentials.get("api_key"),
            oauth_token=credentials.get("oauth_token"),
            base_url=connection.api_base_url,
            domain=connection.settings.get("max_domain"),
            limiter=self._limiter(f"{connection.api_base_url}|{connection.external_id}"),
            breakers=self._breakers("getresponse", connection),
        )

    def _breakers(self, vendor: Vendor, connection: Connection) -> AccountBreakers:
        """The connection's circuit breakers: the process's, so that a new client keeps their state."""
        return account_breakers(f"{vendor}|{connection.id}", vendor, breaker_policy(self.settings))

    def _limiter(self, account: str) -> AccountLimiter:
        """The account's limiter, drawing on the account's shared budget from its first use."""
        limiter = self._limiters.get(account)
        if limiter is None:
            limiter = self._limiters[account] = AccountLimiter(getresponse_limits(self.settings))
            if self.settings.rate_budget_shared:
                lease_s = self.settings.rate_budget_lease_s
                budget = SharedBudget(limiter, self.sessions, account, lease_s=lease_s)
                budget.start()
                self._budgets.append(budget)
        return limiter


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(
        window_s=settings.breaker_window_s,
        min_failures=settings.breaker_min_failures,
        failure_ratio=settings.breaker_failure_ratio,
        open_s=settings.breaker_open_s,
        max_open_s=max(settings.breaker_open_s, settings.breaker_max_open_s),
    )


def getresponse_limits(settings: Settings) -> AccountLimits:
    """The account's limits from the settings, with the reserves for live work in proportion."""
    concurrency, per_second = settings.getresponse_concurrency, settings.getresponse_per_second
    return AccountLimits(
        per_second=per_second,
        per_window=settings.getresponse_per_window,
        concurrency=concurrency,
        live_reserved_concurrency=min(2, concurrency - 1),
        live_reserved_per_second=min(8, per_second // 10),
        live_reserved_window=min(1_000, settings.getresponse_per_window // 30),
    )
