"""Salesforce OAuth: the stored credentials of a connection, and getting an access token from
them (api-contracts A4).

Three grants are stored; the web-server (authorization code) flow ends in a `RefreshTokenGrant`:

- `client_credentials`: client id + secret, runs as the app's "run as" user; the token URL must be
  the org's My Domain (A4, UNCONFIRMED that login hosts refuse it);
- `refresh_token`: client id (+ secret) + the refresh token from the web-server flow;
- `jwt_bearer`: consumer key, username, RS256 private key and audience; no secret is sent.

Only the refresh grant has a long-lived secret that outlives the access token; the JWT and client
credentials grants simply ask again (C7: they give no refresh token).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import aiohttp
import jwt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

from app.clients.errors import Permanent
from app.clients.salesforce_errors import VENDOR, token_error
from app.clients.transport import exchange
from app.clients.vendor_hosts import VendorHosts

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class _Grant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: str = Field(description="e.g. https://acme.my.salesforce.com/services/oauth2/token")


class ClientCredentialsGrant(_Grant):
    grant: Literal["client_credentials"] = "client_credentials"
    client_id: str
    client_secret: SecretStr


class RefreshTokenGrant(_Grant):
    grant: Literal["refresh_token"] = "refresh_token"
    client_id: str
    client_secret: SecretStr | None = None
    refresh_token: SecretStr


class JwtBearerGrant(_Grant):
    grant: Literal["jwt_bearer"] = "jwt_bearer"
    consumer_key: str
    username: str
    private_key_pem: SecretStr
    audience: str = Field(
        description="https://login.salesforce.com, https://test.salesforce.com or My Domain"
    )
    # Salesforce wants a short-lived assertion: "about 3 minutes" (A4, UNCONFIRMED exactly).
    lifetime_s: int = Field(150, gt=0, le=180)


SalesforceCredentials = Annotated[
    ClientCredentialsGrant | RefreshTokenGrant | JwtBearerGrant, Field(discriminator="grant")
]
_CREDENTIALS: TypeAdapter[SalesforceCredentials] = TypeAdapter(SalesforceCredentials)


def salesforce_credentials(data: Mapping[str, Any]) -> SalesforceCredentials:
    """Credentials from a connection's stored (unsealed) mapping; `grant` names the kind."""
    return _CREDENTIALS.validate_python(dict(data))


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    instance_url: str
    issued_at_ms: int | None = None


def token_form(credentials: SalesforceCredentials) -> dict[str, str]:
    if isinstance(credentials, ClientCredentialsGrant):
        return {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret.get_secret_value(),
        }
    if isinstance(credentials, RefreshTokenGrant):
        form = {
            "grant_type": "refresh_token",
            "client_id": credentials.client_id,
            "refresh_token": credentials.refresh_token.get_secret_value(),
        }
        if credentials.client_secret is not None:
            form["client_secret"] = credentials.client_secret.get_secret_value()
        return form
    return {"grant_type": JWT_GRANT_TYPE, "assertion": jwt_assertion(credentials)}


def jwt_assertion(credentials: JwtBearerGrant, *, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": credentials.consumer_key,
        "sub": credentials.username,
        "aud": credentials.audience,
        "exp": issued + credentials.lifetime_s,
    }
    return jwt.encode(claims, credentials.private_key_pem.get_secret_value(), algorithm="RS256")


async def fetch_token(
    session: aiohttp.ClientSession, credentials: SalesforceCredentials, hosts: VendorHosts | None = None
) -> AccessToken:
    """A new access token; its `instance_url` (where every later call goes) is checked against
    `hosts` first."""
    reply = await exchange(session, VENDOR, "POST", credentials.token_url, form=token_form(credentials))
    if not reply.ok:
        raise token_error(reply.status, reply.body)
    body = reply.body if isinstance(reply.body, Mapping) else {}
    access_token, instance_url = body.get("access_token"), body.get("instance_url")
    if not isinstance(access_token, str) or not isinstance(instance_url, str):
        raise Permanent("token response without access_token or instance_url", vendor=VENDOR)
    if hosts is not None:
        hosts.check(VENDOR, "the token answer's instance_url", instance_url)
    issued_at = body.get("issued_at")
    # issued_at is epoch milliseconds as a string (C7), not seconds.
    issued_at_ms = int(issued_at) if isinstance(issued_at, str) and issued_at.isdigit() else None
    return AccessToken(access_token, instance_url.rstrip("/"), issued_at_ms)
