"""OAuth 2.0 endpoints (api-contracts A4, C7).

- `GET /services/oauth2/authorize?response_type=code&client_id&redirect_uri[&state][&scope]
  [&code_challenge[&code_challenge_method=S256]]` approves at once (no login page) as `username`
  and redirects to `redirect_uri?code=...&state=...`. PKCE is S256 only ("plain" is refused, as is
  an unknown client or a redirect_uri outside `callback_urls` when that list is set).
- `POST /services/oauth2/token` (form-encoded; client credentials in the form or HTTP Basic):
  `authorization_code` (needs the client secret, the same redirect_uri and, after a challenge, the
  matching `code_verifier`; gives a refresh token when the `refresh_token` scope is granted),
  `refresh_token` (no new refresh token), `urn:ietf:params:oauth:grant-type:jwt-bearer` and
  `client_credentials` (neither gives a refresh token). Anything else: unsupported_grant_type.
- JWT bearer: RS256 only; `iss` = client_id, `sub` = username, `aud` = the login host of
  `environment` (https://login.salesforce.com or https://test.salesforce.com) or the simulator's
  own URL (the My Domain form); `exp` required, in the future and at most 3 minutes (+10 s clock
  skew) ahead: sources say 3 to 5 minutes (UNCONFIRMED), we take the stricter. The signature is
  checked against `jwt_public_key`; when none is configured it is NOT checked (documented choice,
  so tests can sign with any key). A numeric-string `exp` is accepted, as Salesforce accepts what
  simple-salesforce sends.
- Token response: access_token, instance_url (this simulator), id (identity URL
  `<login host>/id/<org id>/<user id>`, served here), token_type Bearer, issued_at (epoch **ms** as a
  string), signature (base64 HMAC-SHA256 of id + issued_at keyed by the client secret), scope,
  and refresh_token only for the code grant.
- Errors are `{"error", "error_description"}` objects, never arrays.
- `POST|GET /services/oauth2/revoke?token=` revokes an access or refresh token (a refresh token
  takes its access tokens with it): 200 with no body, 400 unsupported_token_type when unknown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from simulators.salesforce import timefmt
from simulators.salesforce.errors import OAuthError
from simulators.salesforce.sessions import CODE_LIFETIME_S, CodeGrant, Session
from simulators.salesforce.state import SimDep, Simulator

router = APIRouter()
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_MAX_LIFETIME_S = 180
CLOCK_SKEW_S = 10
REFRESH_SCOPES = {"refresh_token", "offline_access"}


def _base(request: Request, sim: Simulator) -> str:
    return (sim.config.instance_url or str(request.base_url)).rstrip("/")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@router.get("/services/oauth2/authorize")
async def authorize(request: Request, sim: SimDep) -> Response:
    params = request.query_params
    config = sim.config
    if params.get("client_id") != config.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    redirect_uri = params.get("redirect_uri", "")
    allowed = config.callback_urls
    if not redirect_uri.startswith(("http://", "https://")) or (allowed and redirect_uri not in allowed):
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")

    def back(**query: str) -> RedirectResponse:
        if params.get("state") is not None:
            query["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(query), status_code=302)

    if params.get("response_type") != "code":
        return back(error="unsupported_response_type", error_description="response type not supported")
    challenge = params.get("code_challenge")
    if params.get("code_challenge_method", "S256") != "S256" or (challenge is not None and not challenge):
        return back(error="invalid_request", error_description="invalid code challenge")
    requested = params.get("scope", "").split()
    if any(scope not in config.oauth_scopes for scope in requested):
        return back(error="invalid_scope", error_description="the requested scope is not allowed")
    grant = CodeGrant(
        config.client_id,
        redirect_uri,
        challenge,
        requested or list(config.oauth_scopes),
        time.monotonic() + CODE_LIFETIME_S,
    )
    return back(code=sim.sessions.new_code(grant))


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form: dict[str, str] = {}
    if content_type == "application/x-www-form-urlencoded":
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        except ValueError as exc:
            raise OAuthError("invalid_client", "invalid client credentials") from exc
        form.setdefault("client_id", client_id)
        form.setdefault("client_secret", secret)
    return form


def _check_client(sim: Simulator, form: dict[str, str], *, secret_required: bool) -> None:
    if form.get("client_id") != sim.config.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret")
    if (secret_required or secret is not None) and not hmac.compare_digest(
        (secret or "").encode(), sim.config.client_secret.encode()
    ):
        raise OAuthError("invalid_client", "invalid client credentials")


def _token_body(request: Request, sim: Simulator, session: Session) -> dict[str, Any]:
    base = _base(request, sim)
    identity = f"{base}/id/{sim.config.org_id}/{session.user_id}"
    issued_at = str(session.issued_at_ms)
    digest = hmac.new(
        sim.config.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    ).digest()
    return {
        "access_token": session.token,
        "signature": base64.b64encode(digest).decode(),
        "scope": " ".join(session.scopes),
        "instance_url": base,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }


@router.post("/services/oauth2/token")
async def token(request: Request, sim: SimDep) -> JSONResponse:
    form = await _form(request)
    grant_type = form.get("grant_type")
    config = sim.config
    refresh_token: str | None = None
    if grant_type == "authorization_code":
        _check_client(sim, form, secret_required=True)
        grant = sim.sessions.take_code(form.get("code", ""))
        if grant is None or grant.client_id != config.client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        verifier = form.get("code_verifier")
        if (grant.code_challenge is None) != (verifier is None) or (
            verifier is not None and _s256(verifier) != grant.code_challenge
        ):
            raise OAuthError("invalid_grant", "invalid code verifier")
        scopes = grant.scopes
        if REFRESH_SCOPES & set(scopes):
            refresh_token = sim.sessions.new_refresh_token(config.client_id, scopes)
    elif grant_type == "refresh_token":
        _check_client(sim, form, secret_required=False)
        refresh = sim.sessions.refresh_grant(form.get("refresh_token", ""))
        if refresh is None or refresh.client_id != config.client_id:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        scopes = refresh.scopes
        session = sim.sessions.issue(
            user_id=config.user_id,
            username=config.username,
            scopes=scopes,
            refresh_token=form["refresh_token"],
        )
        return JSONResponse(_token_body(request, sim, session))
    elif grant_type == JWT_GRANT:
        _check_assertion(request, sim, form.get("assertion", ""))
        scopes = [s for s in config.oauth_scopes if s not in REFRESH_SCOPES]
    elif grant_type == "client_credentials":
        _check_client(sim, form, secret_required=True)
        scopes = [s for s in config.oauth_scopes if s not in REFRESH_SCOPES]
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    session = sim.sessions.issue(
        user_id=config.user_id, username=config.username, scopes=scopes, refresh_token=refresh_token
    )
    body = _token_body(request, sim, session)
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return JSONResponse(body)


def _check_assertion(request: Request, sim: Simulator, assertion: str) -> None:
    config = sim.config
    try:
        header = jwt.get_unverified_header(assertion)
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion")
        options = {
            "verify_exp": False,
            "verify_aud": False,
            "verify_iat": False,
            "verify_nbf": False,
            "verify_iss": False,
            "verify_signature": config.jwt_public_key is not None,
        }
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key=config.jwt_public_key or "",
            algorithms=["RS256"],
            options=options,  # type: ignore[arg-type]
        )
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    if claims.get("iss") != config.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims.get("sub") != config.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not {config.login_url, _base(request, sim)} & {str(a).rstrip("/") for a in audiences}:
        raise OAuthError("invalid_grant", "audience is invalid")
    raw_exp = claims.get("exp")
    if isinstance(raw_exp, str) and raw_exp.isdigit():
        raw_exp = int(raw_exp)
    if not isinstance(raw_exp, int) or isinstance(raw_exp, bool):
        raise OAuthError("invalid_grant", "invalid assertion")
    now = time.time()
    if raw_exp <= now:
        raise OAuthError("invalid_grant", "expired assertion")
    if raw_exp > now + JWT_MAX_LIFETIME_S + CLOCK_SKEW_S:
        raise OAuthError("invalid_grant", "assertion expiry is too far in the future")


@router.api_route("/services/oauth2/revoke", methods=["GET", "POST"])
async def revoke(request: Request, sim: SimDep) -> Response:
    form = await _form(request)
    value = form.get("token") or request.query_params.get("token", "")
    if not sim.sessions.revoke(value):
        raise OAuthError("unsupported_token_type", "this token type is not supported")
    return Response(status_code=200)


@router.get("/id/{org_id}/{user_id}")
async def identity(org_id: str, user_id: str, request: Request, sim: SimDep) -> Response:
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    value = (
        raw.strip() if scheme.lower() in {"bearer", "oauth"} else request.query_params.get("oauth_token", "")
    )
    session = sim.sessions.validate(value, sim.config.session_timeout_s) if value else None
    if session is None:
        return PlainTextResponse("Bad_OAuth_Token", status_code=403)
    if org_id != sim.config.org_id or user_id != session.user_id:
        return PlainTextResponse("Bad_Id", status_code=403)
    base = _base(request, sim)
    org15 = org_id[:15]
    return JSONResponse(
        {
            "id": f"{base}/id/{org_id}/{user_id}",
            "asserted_user": True,
            "user_id": user_id,
            "organization_id": org_id,
            "username": session.username,
            "nick_name": session.username.split("@")[0],
            "display_name": "Integration User",
            "email": session.username,
            "email_verified": True,
            "first_name": "Integration",
            "last_name": "User",
            "timezone": "GMT",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "last_modified_date": timefmt.rest(sim.clock.now()),
            "is_app_installed": True,
            "urls": {
                "enterprise": f"{base}/services/Soap/c/{{version}}/{org15}",
                "partner": f"{base}/services/Soap/u/{{version}}/{org15}",
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "query": f"{base}/services/data/v{{version}}/query/",
                "profile": f"{base}/{user_id}",
            },
        }
    )
