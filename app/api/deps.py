"""Every dependency a route may take, declared once as an `Annotated` alias; what they hand out is
made once in the application's lifespan (`app.state.resources`).

    @router.post("/v1/resync", responses=AUTH_RESPONSES)
    async def start(caller: ResyncWriter, session: SessionDep, bus: BusDep): ...

Missing, unknown or revoked token: 401 with `WWW-Authenticate: Bearer`; a valid token without the
scope: 403. Both answer `{"detail": "..."}` naming the problem. Scopes imply others as
`app.control.tokens.granted` says: syncs:admin > resync:write > read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import Bus
from app.clients.vendors import Vendors
from app.control import tokens
from app.control.discovery import DiscoveryCache
from app.control.tokens import Scope
from app.inbound.secrets import InboundSecretsCache
from app.outbox import OutboxRelay
from app.settings import Settings


@dataclass
class Resources:
    """The process's shared resources, made once at start-up (app.state.resources)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    inbound_secrets: InboundSecretsCache
    relay: OutboxRelay  # sends what the process's transactions put in the outbox (job requests)
    discovery: DiscoveryCache  # the discovery endpoints' answers, per connection, for a short while


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_settings_dep(resources: ResourcesDep) -> Settings:
    return resources.settings


def get_bus(resources: ResourcesDep) -> Bus:
    return resources.bus


def get_discovery(resources: ResourcesDep) -> DiscoveryCache:
    return resources.discovery


def get_inbound_secrets(resources: ResourcesDep) -> InboundSecretsCache:
    return resources.inbound_secrets


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    async with resources.sessions() as session:
        yield session


async def get_vendors(resources: ResourcesDep) -> AsyncIterator[Vendors]:
    """Vendor clients for one request, closed after it: the control API calls the vendors rarely,
    and a fresh client never holds credentials a connect or disconnect has since replaced."""
    vendors = Vendors(resources.settings, resources.sessions)
    try:
        yield vendors
    finally:
        await vendors.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
BusDep = Annotated[Bus, Depends(get_bus)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
InboundSecretsDep = Annotated[InboundSecretsCache, Depends(get_inbound_secrets)]
VendorsDep = Annotated[Vendors, Depends(get_vendors)]
DiscoveryDep = Annotated[DiscoveryCache, Depends(get_discovery)]


# The control API's bearer tokens.

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="A token from `sfgr tokens create --scope S`, sent as `Authorization: Bearer <token>`.",
)


@dataclass(frozen=True)
class Caller:
    """Who called: the token's id and name, and every scope it grants (implied ones included)."""

    token_id: str
    name: str
    scopes: frozenset[Scope]


def _unauthenticated(detail: str, error: str | None = None) -> HTTPException:
    challenge = f'Bearer realm="sfgr", error="{error}"' if error else 'Bearer realm="sfgr"'
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})


def require_scope(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits a live token granting `scope`; made once per scope below, so that
    FastAPI evaluates it once per request."""

    async def dependency(
        resources: ResourcesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if credentials is None or not credentials.credentials:
            raise _unauthenticated(
                "this endpoint needs an API token: send the header 'Authorization: Bearer <token>' "
                "(create one with `sfgr tokens create --scope ...`)"
            )
        async with resources.sessions() as session:
            found = await tokens.authenticate(session, credentials.credentials)
        if found is None:
            raise _unauthenticated("the API token is not known (wrong or mistyped token)", "invalid_token")
        if found.revoked_at is not None:
            raise _unauthenticated(
                f"the API token '{found.name}' was revoked at {found.revoked_at.isoformat()}", "invalid_token"
            )
        scopes = tokens.granted(found.scopes)
        if scope not in scopes:
            has = ", ".join(sorted(found.scopes)) or "no scopes"
            raise HTTPException(
                status_code=403,
                detail=f"this endpoint needs the scope {scope.value}; the token has: {has}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope.value}"'},
            )
        return Caller(token_id=str(found.id), name=found.name, scopes=scopes)

    dependency.__name__ = f"require_{scope.value.replace(':', '_')}"
    return dependency


Admin = Annotated[Caller, Depends(require_scope(Scope.SYNCS_ADMIN))]
ResyncWriter = Annotated[Caller, Depends(require_scope(Scope.RESYNC_WRITE))]
Reader = Annotated[Caller, Depends(require_scope(Scope.READ))]
