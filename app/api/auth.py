"""Bearer-token authentication of the control API, declared once as `Annotated` aliases.

    @router.post("/v1/resync", responses=AUTH_RESPONSES)
    async def start(caller: ResyncWriter, ...): ...            # needs resync:write (or syncs:admin)

    router = APIRouter(dependencies=[Depends(require_scope(Scope.READ))])   # a whole router

Missing, unknown or revoked token: 401 with `WWW-Authenticate: Bearer`; a valid token without the
scope: 403. Both answer `{"detail": "..."}` naming the problem. Scopes imply others as
`app.control.tokens.granted` says: syncs:admin > resync:write > read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import ResourcesDep
from app.control import tokens
from app.control.tokens import Scope

__all__ = [
    "AUTH_RESPONSES",
    "Admin",
    "Caller",
    "Reader",
    "ResyncWriter",
    "Scope",
    "require_scope",
]

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
    """A dependency that admits a live token granting `scope`; make it once per scope and reuse it,
    so that FastAPI evaluates it once per request."""

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


_REQUIRE_ADMIN = require_scope(Scope.SYNCS_ADMIN)
_REQUIRE_RESYNC = require_scope(Scope.RESYNC_WRITE)
_REQUIRE_READ = require_scope(Scope.READ)

Admin = Annotated[Caller, Depends(_REQUIRE_ADMIN)]
ResyncWriter = Annotated[Caller, Depends(_REQUIRE_RESYNC)]
Reader = Annotated[Caller, Depends(_REQUIRE_READ)]


def _error(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


# Add to every control route (`responses=AUTH_RESPONSES`) so that the schema shows both refusals.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error(
        "no token, an unknown one, or a revoked one (with `WWW-Authenticate: Bearer`)",
        "the API token is not known (wrong or mistyped token)",
    ),
    403: _error(
        "the token lacks the scope this endpoint needs",
        "this endpoint needs the scope resync:write; the token has: read",
    ),
}
