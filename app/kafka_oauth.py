"""SASL OAUTHBEARER for Kafka: aiokafka asks for a token provider and ships none, so this one gets
access tokens with the OAuth 2.0 client-credentials grant (RFC 6749, section 4.4) from the
identity provider's token endpoint (SFGR_KAFKA_OAUTH_TOKEN_URL: Keycloak, Azure AD, Okta, ...), and
reuses each until shortly before it expires. Hand-written: the grant is one form POST, and the
process already has aiohttp for it."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiokafka.abc import AbstractTokenProvider

from app.settings import Settings

# A token is replaced this long before it expires, so that no connection presents a stale one.
REFRESH_MARGIN_S = 30.0
TIMEOUT_S = 10.0


class TokenRefused(RuntimeError):
    """The identity provider gave no token; the message says what it answered."""


class ClientCredentialsTokens(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        if not settings.kafka_oauth_token_url or not settings.kafka_oauth_client_id:
            raise ValueError("OAUTHBEARER needs SFGR_KAFKA_OAUTH_TOKEN_URL and SFGR_KAFKA_OAUTH_CLIENT_ID")
        self.url = settings.kafka_oauth_token_url
        self.form = {"grant_type": "client_credentials", "client_id": settings.kafka_oauth_client_id}
        if settings.kafka_oauth_client_secret is not None:
            self.form["client_secret"] = settings.kafka_oauth_client_secret.get_secret_value()
        if settings.kafka_oauth_scope:
            self.form["scope"] = settings.kafka_oauth_scope
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:  # many connections at once ask for one token
            if self._token is None or time.monotonic() >= self._expires_at - REFRESH_MARGIN_S:
                self._token, lifetime = await self._fetch()
                self._expires_at = time.monotonic() + lifetime
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(self.url, data=self.form) as reply,
        ):
            text = await reply.text()
            if reply.status != 200:
                raise TokenRefused(
                    f"{self.url} answered {reply.status} to the client-credentials grant: {text[:300]}"
                )
            try:
                body = await reply.json(content_type=None)
                return str(body["access_token"]), float(body.get("expires_in", 300))
            except (ValueError, KeyError, TypeError) as exc:
                raise TokenRefused(f"{self.url} answered no access_token: {text[:300]}") from exc
