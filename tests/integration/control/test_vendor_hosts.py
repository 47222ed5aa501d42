"""The control API calls vendors only: a URL of another host is a 422 naming the field and the
rule, made before any call; a token answer's instance_url must be a vendor host too; redirects
are answers, never followed. The "foreign host" here is a small server of the test's own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from app.clients.errors import Permanent
from app.clients.vendors import Vendors
from app.crypto import SecretBox
from app.db.connections import GETRESPONSE, save_connection
from app.db.session import create_engine, session_factory, transaction
from app.settings import Settings
from tests.fixtures.simulators import GR_API_KEY, SF_CLIENT_ID, SF_CLIENT_SECRET
from tests.integration.control.harness import Api, running_api, sql

SECRET_PAGE = "internal-admin-page-7f3a"


@dataclass
class ForeignHost:
    """A server that is not a vendor: it records each request and answers as `answer` says."""

    url: str = ""
    requests: list[str] = field(default_factory=list)
    answer: web.Response | None = None


@asynccontextmanager
async def foreign_host() -> AsyncIterator[ForeignHost]:
    host = ForeignHost()

    async def anything(request: web.Request) -> web.StreamResponse:
        host.requests.append(f"{request.method} {request.path}")
        return host.answer or web.Response(status=404, text=json.dumps({"message": SECRET_PAGE}),
                                           content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    host.url = f"http://127.0.0.1:{port}"
    try:
        yield host
    finally:
        await runner.cleanup()


@pytest.fixture
async def foreign() -> AsyncIterator[ForeignHost]:
    async with foreign_host() as host:
        yield host


@pytest.fixture
async def vendors_only_api(control_settings: Settings) -> AsyncIterator[Api]:
    """The api as production runs it: no SFGR_ALLOWED_VENDOR_HOSTS."""
    async with running_api(control_settings.model_copy(update={"allowed_vendor_hosts": ""})) as running:
        yield running


async def test_a_getresponse_api_base_url_of_another_host_is_422_and_never_called(
    vendors_only_api: Api, foreign: ForeignHost
) -> None:
    response = await vendors_only_api.post("/v1/connections/getresponse",
                                           json={"api_key": GR_API_KEY, "api_base_url": f"{foreign.url}/v3"})

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "api_base_url"]
    assert problem["type"] == "vendor_host"
    assert "must use https" in problem["msg"] and "api.getresponse.com" in problem["msg"]
    assert foreign.requests == []
    assert SECRET_PAGE not in response.text


@pytest.mark.parametrize("url", ["https://metadata.internal/v3", "https://api.getresponse.com.evil.example/v3",
                                 "https://api.getresponse.com:8443/v3"])
async def test_an_https_url_of_a_host_that_is_not_getresponses_is_422(vendors_only_api: Api, url: str) -> None:
    response = await vendors_only_api.post("/v1/connections/getresponse",
                                           json={"api_key": GR_API_KEY, "api_base_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "api_base_url"]


@pytest.mark.parametrize("path", ["/v1/connections/salesforce/client-credentials", "/v1/connections/salesforce/jwt"])
async def test_a_salesforce_my_domain_of_another_host_is_422_and_never_called(
    vendors_only_api: Api, foreign: ForeignHost, path: str
) -> None:
    body = {"client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET, "my_domain_url": foreign.url}
    if path.endswith("jwt"):
        body = {"consumer_key": SF_CLIENT_ID, "username": "u@example.com", "private_key_pem": "x",
                "my_domain_url": foreign.url}

    response = await vendors_only_api.post(path, json=body)

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "my_domain_url"]
    assert "*.my.salesforce.com" in problem["msg"]
    assert foreign.requests == []


async def test_an_instance_url_of_another_host_in_the_token_answer_is_refused_and_nothing_stored(
    api: Api, foreign: ForeignHost
) -> None:
    foreign.answer = web.json_response({
        "access_token": "00D!x", "instance_url": "https://evil.example", "token_type": "Bearer",
        "id": "https://login.salesforce.com/id/00D5g0000SfGrSmEQK/0055g00000SfGrUAAV",
    })

    response = await api.post("/v1/connections/salesforce/client-credentials",
                              json={"client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET,
                                    "my_domain_url": foreign.url})

    assert response.status_code == 400, response.text
    assert "instance_url names host 'evil.example'" in response.json()["detail"]
    assert await sql(api.settings, "SELECT id FROM connections") == []


async def test_a_redirect_from_a_token_endpoint_is_not_followed(api: Api, foreign: ForeignHost) -> None:
    async with foreign_host() as target:
        foreign.answer = web.Response(status=307, headers={"Location": f"{target.url}/services/oauth2/token"})

        response = await api.post("/v1/connections/salesforce/client-credentials",
                                  json={"client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET,
                                        "my_domain_url": foreign.url})

        assert response.status_code == 400, response.text
        assert "HTTP 307" in response.json()["detail"]
        assert foreign.requests == ["POST /services/oauth2/token"]
        assert target.requests == []


async def test_a_stored_connection_of_another_host_gets_no_client_and_is_never_called(
    vendors_only_api: Api, foreign: ForeignHost
) -> None:
    """A connection stored before hosts were checked (or written around the API) is refused by
    every process that would call it: the poller, the consumers, the jobs."""
    settings = vendors_only_api.settings
    engine = create_engine(settings)
    vendors = Vendors(settings, session_factory(engine))
    try:
        async with transaction(session_factory(engine)) as session:
            connection_id = await save_connection(
                session, SecretBox(settings), kind=GETRESPONSE, external_id="acct-foreign",
                api_base_url=f"{foreign.url}/v3", auth_kind="api_key", credentials={"api_key": "k"},
            )
        with pytest.raises(Permanent, match="api_base_url must use https"):
            await vendors.getresponse(connection_id)
    finally:
        await vendors.close()
        await engine.dispose()
    assert foreign.requests == []
