"""Who may call the simulated API, and with which request bodies (api-contracts B5).

- `X-Auth-Token: api-key <KEY>`: the literal, lower-case `api-key ` prefix is required; a bare key,
  `Api-Key`, or `Bearer <KEY>` in that header is refused. When the header is present it decides,
  even if an `Authorization` header is there too.
- `Authorization: Bearer <token>` with one of the configured OAuth tokens.
- A GetResponse MAX account (`max_domain` set) needs `X-Domain: <domain>` on every call: the bare
  domain, compared case-insensitively, with no scheme and no `www.`. A standard account refuses a
  call that carries `X-Domain` (our choice, the stricter one: such a client is configured for the
  wrong host).
- Failures are 401 with code 1014 and `context: {"authenticationType": "auth_token" | "oauth2"}`.

POST bodies must be sent as `Content-Type: application/json` (a `charset` parameter is fine). The
vendor does not document the status for anything else; the simulator answers 400 with code 1000
(a validation error, which clients treat as permanent) rather than 415, because 1000 is a code the
vendor documents and 415 is not one it is known to send.
"""

from __future__ import annotations

from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.errors import GetResponseError, validation_error

_UNAUTHENTICATED = "Unable to authenticate request. Check credentials or authentication method details"


def _refused(kind: str, detail: str) -> GetResponseError:
    return GetResponseError(401, 1014, f"{_UNAUTHENTICATED}: {detail}", {"authenticationType": kind})


def authenticate(headers: dict[str, str], config: GetResponseSimConfig) -> GetResponseError | None:
    """None when the call may proceed; otherwise the 401 to answer. Header names are lower-case."""
    token = headers.get("x-auth-token")
    authorization = headers.get("authorization")
    if token is not None:
        kind = "auth_token"
        if token != f"api-key {config.api_key}":
            return _refused(kind, "X-Auth-Token must be 'api-key <your API key>'")
    elif authorization is not None:
        kind = "oauth2"
        scheme, _, bearer = authorization.partition(" ")
        if scheme != "Bearer" or bearer not in config.oauth_tokens:
            return _refused(kind, "invalid or expired OAuth access token")
    else:
        return _refused("auth_token", "no X-Auth-Token or Authorization header")
    domain = headers.get("x-domain")
    if config.max_domain is not None:
        if domain is None or domain.strip().lower() != config.max_domain.lower():
            return _refused(kind, "X-Domain header missing or not this GetResponse MAX account's domain")
    elif domain is not None:
        return _refused(kind, "X-Domain header sent to a standard (non-MAX) account")
    return None


def check_content_type(method: str, headers: dict[str, str]) -> GetResponseError | None:
    if method != "POST":
        return None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return validation_error(
            "POST bodies must be sent with Content-Type: application/json",
            field="Content-Type",
            kind="content_type",
        )
    return None
