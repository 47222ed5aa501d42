"""SASL OAUTHBEARER: tokens from an identity provider's token endpoint (a real HTTP server here),
by the client-credentials grant, reused until shortly before they expire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.bus import client_options
from app.kafka_oauth import REFRESH_MARGIN_S, ClientCredentialsTokens, TokenRefused
from app.settings import Settings


class IdentityProvider:
    def __init__(self) -> None:
        self.forms: list[dict[str, Any]] = []
        self.expires_in = 3600
        self.status = 200

    async def token(self, request: web.Request) -> web.Response:
        self.forms.append(dict(await request.post()))
        if self.status != 200:
            return web.json_response({"error": "invalid_client"}, status=self.status)
        return web.json_response({"access_token": f"token-{len(self.forms)}", "expires_in": self.expires_in})


@pytest.fixture
async def provider() -> AsyncIterator[tuple[IdentityProvider, str]]:
    idp = IdentityProvider()
    app = web.Application()
    app.router.add_post("/oauth/token", idp.token)
    server = TestServer(app)
    await server.start_server()
    try:
        yield idp, str(server.make_url("/oauth/token"))
    finally:
        await server.close()


def _settings(url: str) -> Settings:
    return Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_url=url,
        kafka_oauth_client_id="sfgr-sync",
        kafka_oauth_client_secret="not-a-real-secret",  # type: ignore[arg-type]
        kafka_oauth_scope="kafka",
    )


async def test_a_token_is_fetched_once_and_reused_until_it_nears_its_expiry(
    provider: tuple[IdentityProvider, str],
) -> None:
    idp, url = provider
    tokens = ClientCredentialsTokens(_settings(url))
    assert await tokens.token() == "token-1"
    assert await tokens.token() == "token-1"
    assert idp.forms == [{
        "grant_type": "client_credentials", "client_id": "sfgr-sync",
        "client_secret": "not-a-real-secret", "scope": "kafka",
    }]
    idp.expires_in = int(REFRESH_MARGIN_S)  # the next token is due for renewal at once
    tokens._expires_at = 0.0
    assert await tokens.token() == "token-2"
    assert await tokens.token() == "token-3"


async def test_a_refused_grant_says_what_the_identity_provider_answered(
    provider: tuple[IdentityProvider, str],
) -> None:
    idp, url = provider
    idp.status = 401
    with pytest.raises(TokenRefused, match=r"answered 401 .*invalid_client"):
        await ClientCredentialsTokens(_settings(url)).token()


async def test_every_kafka_client_gets_the_token_provider(provider: tuple[IdentityProvider, str]) -> None:
    _, url = provider
    options = client_options(_settings(url))
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(options["sasl_oauth_token_provider"], ClientCredentialsTokens)
    assert "sasl_plain_username" not in options


def test_oauthbearer_without_a_token_endpoint_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="SFGR_KAFKA_OAUTH_TOKEN_URL"):
        Settings(kafka_sasl_mechanism="OAUTHBEARER")
