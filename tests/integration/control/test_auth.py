"""Every control endpoint wants a bearer token with the right scope: 401 without a live token,
403 without the scope, each with a JSON detail that names the problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.main import create_app
from tests.integration.control.harness import Api, new_token, sql

# Reached by the browser coming back from Salesforce: its one-time state authenticates it.
UNAUTHENTICATED = {"/v1/connections/salesforce/callback"}


def _needed_scope(route: APIRoute) -> str | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("require_"):
            return name.removeprefix("require_").replace("_", ":", 1)
        pending.extend(dependency.dependencies)
    return None


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI >= 0.16x wraps included routers
        if included is not None:
            yield from _api_routes(included.routes)


def control_routes() -> Iterator[tuple[str, str, str | None]]:
    for route in _api_routes(create_app().routes):
        if not route.path.startswith("/v1/"):
            continue
        if "inbound" in route.tags or route.path in UNAUTHENTICATED:
            continue
        for method in sorted(route.methods):
            yield method, route.path, _needed_scope(route)


CONTROL_ROUTES = list(control_routes())


def _concrete(path: str) -> str:
    return (
        path.replace("{id}", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        .replace("{sync_id}", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        .replace("{link_id}", "1")
        .replace("{letter_id}", "1")
    )


def test_every_control_route_declares_the_scope_it_needs() -> None:
    assert CONTROL_ROUTES
    assert [(m, p) for m, p, scope in CONTROL_ROUTES if scope is None] == []


@pytest.mark.parametrize(("method", "path", "scope"), CONTROL_ROUTES, ids=[f"{m} {p}" for m, p, _ in CONTROL_ROUTES])
async def test_a_control_route_without_a_token_is_401_with_a_bearer_challenge(
    api: Api, method: str, path: str, scope: str
) -> None:
    response = await api.client.request(method, _concrete(path))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_an_admin_route_with_a_read_token_is_403_naming_both_scopes(api: Api) -> None:
    reader = await new_token(api.settings, "read")
    admin_routes = [(m, p) for m, p, scope in CONTROL_ROUTES if scope == "syncs:admin"]
    assert admin_routes
    for method, path in admin_routes:
        response = await api.client.request(method, _concrete(path), headers=api.bearer(reader))
        assert response.status_code == 403, (method, path)
        assert response.json() == {"detail": "this endpoint needs the scope syncs:admin; the token has: read"}
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_an_unknown_token_is_401_invalid_token(api: Api) -> None:
    response = await api.get("/v1/connections", token="sfgr_not-a-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["detail"] == "the API token is not known (wrong or mistyped token)"


async def test_a_basic_authorization_header_is_no_token(api: Api) -> None:
    response = await api.client.get("/v1/connections", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401


async def test_a_revoked_token_is_401_saying_it_was_revoked(api: Api) -> None:
    token = await new_token(api.settings, "read", name="ci")
    assert (await api.get("/v1/connections", token=token)).status_code == 200
    await sql(api.settings, "UPDATE api_tokens SET revoked_at = now() WHERE name = 'ci'")
    response = await api.get("/v1/connections", token=token)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("the API token 'ci' was revoked at ")


async def test_resync_write_implies_read_but_not_admin(api: Api) -> None:
    token = await new_token(api.settings, "resync:write")
    assert (await api.get("/v1/connections", token=token)).status_code == 200
    response = await api.post("/v1/connections/getresponse", token=token, json={})
    assert response.status_code == 403
    assert response.json()["detail"] == "this endpoint needs the scope syncs:admin; the token has: resync:write"


async def test_syncs_admin_implies_read(api: Api) -> None:
    assert (await api.get("/v1/connections")).status_code == 200


async def test_a_token_with_an_unknown_scope_grants_nothing(api: Api) -> None:
    token = await new_token(api.settings, "read", name="odd")
    await sql(api.settings, "UPDATE api_tokens SET scopes = '{everything}' WHERE name = 'odd'")
    response = await api.get("/v1/connections", token=token)
    assert response.status_code == 403
    assert response.json()["detail"] == "this endpoint needs the scope read; the token has: everything"


async def test_using_a_token_records_when_it_was_last_used(api: Api) -> None:
    token = await new_token(api.settings, "read", name="used")
    [before] = await sql(api.settings, "SELECT last_used_at FROM api_tokens WHERE name = 'used'")
    assert before["last_used_at"] is None
    await api.get("/v1/connections", token=token)
    [after] = await sql(api.settings, "SELECT last_used_at FROM api_tokens WHERE name = 'used'")
    assert after["last_used_at"] is not None
