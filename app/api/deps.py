"""Every dependency a route may take, declared once as an `Annotated` alias; what they hand out is
made once in the application's lifespan (`app.state.resources`).

    @router.post("/v1/resync", responses=AUTH_RESPONSES)
    async def start(caller: ResyncWriter, session: SessionDep, bus: BusDep): ...

Missing, unknown or revoked token: 401 with `WWW-Authenticate: Bearer`; a valid token without the
scope: 403. Both answer `{"detail": "..."}` naming the problem. Scopes imply others as
`app.control.tokens.granted` says: syncs:admin > resync:write > read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bus import Bus
from app.clients.vendor_hosts import VendorHosts
from app.clients.vendors import Vendors
from app.control import tokens
from app.control.audit import Actor
from app.control.discovery import DiscoveryCache
from app.control.tokens import Scope
from app.inbound.secrets import InboundSecretsCache
from app.outbox import OutboxRelay
from app.settings import Settings
from app.ui.session import COOKIE, CSRF_FIELD, SessionSigner, UiSession, csrf_matches


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


def get_vendor_hosts(settings: SettingsDep) -> VendorHosts:
    """The hosts vendor URLs may name (app/clients/vendor_hosts.py), for the UI's connect forms."""
    return VendorHosts.from_settings(settings)


VendorHostsDep = Annotated[VendorHosts, Depends(get_vendor_hosts)]
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

    @property
    def actor(self) -> Actor:
        """The caller as the audit log names it."""
        return Actor("token", self.token_id, self.name)


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
        if found.expired(datetime.now(UTC)):
            assert found.expires_at is not None
            raise _unauthenticated(
                f"the API token '{found.name}' expired at {found.expires_at.isoformat()}", "invalid_token"
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


# The admin UI (/ui): the same tokens, carried by a signed session cookie (app/ui/session.py).


# Why the sign-in page is shown, by the code its address carries (never free text from a link).
SIGN_IN_REASONS = {
    "required": "Sign in with an API token to continue.",
    "revoked": "The token you signed in with was revoked: sign in with another one.",
    "signed-out": "You are signed out.",
}


class SignInRequired(Exception):
    """No live session: the UI answers with its sign-in page, never a JSON 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(SIGN_IN_REASONS[reason])
        self.reason = reason


class UiRefused(Exception):
    """A page or a form the caller may not use (scope, CSRF): shown as a page with the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UiCaller:
    caller: Caller
    session: UiSession

    def can(self, scope: Scope | str) -> bool:
        return Scope(scope) in self.caller.scopes


def get_signer(resources: ResourcesDep) -> SessionSigner:
    return SessionSigner(resources.settings)


SignerDep = Annotated[SessionSigner, Depends(get_signer)]


def get_ui_session(request: Request, signer: SignerDep) -> UiSession | None:
    return signer.loads(request.cookies.get(COOKIE))


UiSessionDep = Annotated[UiSession | None, Depends(get_ui_session)]


async def get_ui_caller(resources: ResourcesDep, session: UiSessionDep) -> UiCaller:
    if session is None or session.token_id is None:
        raise SignInRequired("required")
    try:
        token_id = uuid.UUID(session.token_id)
    except ValueError:
        raise SignInRequired("required") from None
    async with resources.sessions() as db:
        found = await tokens.token_by_id(db, token_id)
    if found is None or found.revoked_at is not None:
        raise SignInRequired("revoked")
    caller = Caller(token_id=str(found.id), name=found.name, scopes=tokens.granted(found.scopes))
    return UiCaller(caller=caller, session=session)


UiViewer = Annotated[UiCaller, Depends(get_ui_caller)]


def ui_form_as(scope: Scope) -> Callable[..., Awaitable[UiCaller]]:
    """A dependency for the UI's forms: a signed-in caller with `scope`, whose form carries the
    session's CSRF token."""

    async def dependency(request: Request, viewer: UiViewer) -> UiCaller:
        form = await request.form()
        presented = form.get(CSRF_FIELD)
        if not csrf_matches(viewer.session, presented if isinstance(presented, str) else None):
            raise UiRefused(
                403, "The form's security token is missing or out of date: reload the page and try again."
            )
        if not viewer.can(scope):
            raise UiRefused(
                403,
                f"This needs the scope {scope.value}; your token '{viewer.caller.name}' does not have it.",
            )
        return viewer

    dependency.__name__ = f"ui_form_as_{scope.value.replace(':', '_')}"
    return dependency


UiAdminForm = Annotated[UiCaller, Depends(ui_form_as(Scope.SYNCS_ADMIN))]
UiResyncForm = Annotated[UiCaller, Depends(ui_form_as(Scope.RESYNC_WRITE))]
