"""Salesforce OAuth as the control API drives it (api-contracts A4, C7): the web-server flow with
PKCE, one token request to prove a JWT or client-credentials grant works, and revocation.

`app.clients.salesforce_auth.fetch_token` keeps only what API calls need; connecting also needs
the identity URL (`id`, which names the org) and the refresh token, so the token answer is read
here in full, through the same transport and the same OAuth error mapping.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from app.clients.errors import Permanent
from app.clients.salesforce_errors import VENDOR, token_error
from app.clients.transport import exchange
from app.settings import Settings

Environment = Literal["production", "sandbox"]
# `id` is https://<login host>/id/<18-char org id>/<user id> (A4 "Token response fields").
_IDENTITY = re.compile(r"/id/(?P<org>00D[A-Za-z0-9]{15})/(?P<user>005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)/?$")
# `refresh_token` in the requested scopes is what makes the code grant return a refresh token.
WEB_SERVER_SCOPES = "api refresh_token"


def login_url(settings: Settings, environment: Environment) -> str:
    if environment == "sandbox":
        return settings.salesforce_sandbox_login_url.rstrip("/")
    return settings.salesforce_login_url.rstrip("/")


def endpoint(base_url: str, name: Literal["authorize", "token", "revoke"]) -> str:
    return f"{base_url.rstrip('/')}/services/oauth2/{name}"


def pkce_pair() -> tuple[str, str]:
    """A code verifier (86 characters, within RFC 7636's 43..128) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class GrantedToken:
    access_token: str
    instance_url: str
    org_id: str
    user_id: str
    refresh_token: str | None


def org_of_identity(identity_url: str) -> tuple[str, str] | None:
    """(org id, user id) named by an identity URL, or None when it is not one."""
    found = _IDENTITY.search(identity_url)
    return (found["org"], found["user"]) if found else None


async def request_token(http: aiohttp.ClientSession, token_url: str, form: Mapping[str, str]) -> GrantedToken:
    """POST the form to the token endpoint; raises the `VendorError` of `token_error` when refused."""
    reply = await exchange(http, VENDOR, "POST", token_url, form=form)
    if not reply.ok:
        raise token_error(reply.status, reply.body)
    body: Mapping[str, Any] = reply.body if isinstance(reply.body, Mapping) else {}
    access_token, instance_url, identity = body.get("access_token"), body.get("instance_url"), body.get("id")
    named = org_of_identity(identity) if isinstance(identity, str) else None
    if not isinstance(access_token, str) or not isinstance(instance_url, str) or named is None:
        raise Permanent(
            "the token answer lacks access_token, instance_url or an identity URL naming the org",
            vendor=VENDOR,
            details={k: v for k, v in body.items() if k not in ("access_token", "refresh_token")},
        )
    refresh_token = body.get("refresh_token")
    return GrantedToken(
        access_token=access_token,
        instance_url=instance_url.rstrip("/"),
        org_id=named[0],
        user_id=named[1],
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
    )


async def revoke(http: aiohttp.ClientSession, revoke_url: str, token: str) -> bool:
    """Revokes a refresh or access token: True once revoked, False when Salesforce no longer knew
    it (400: expired or already revoked, which is just as final); raises `Transient` otherwise."""
    reply = await exchange(http, VENDOR, "POST", revoke_url, form={"token": token})
    if reply.ok:
        return True
    if reply.status == 400:
        return False
    raise token_error(reply.status, reply.body)
