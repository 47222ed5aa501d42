"""Connecting a Salesforce org (api-contracts A4): the OAuth web-server flow with PKCE, the JWT
bearer grant for headless installs, and client credentials against a My Domain.

Each path gets one token before anything is stored, to prove the grant works and to learn the
org id from the identity URL; the connection then stores only what refreshes access: the refresh
token (web server), or the grant's own parameters (JWT, client credentials), sealed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import aiohttp
import jwt
from pydantic import BaseModel, Field, SecretStr, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.errors import VendorError
from app.clients.salesforce_auth import (
    ClientCredentialsGrant,
    JwtBearerGrant,
    RefreshTokenGrant,
    SalesforceCredentials,
    token_form,
)
from app.clients.transport import new_session
from app.clients.vendor_hosts import VendorHosts
from app.control import salesforce_oauth
from app.control.audit import Actor
from app.control.connections import (
    CONNECTION_EXAMPLE,
    VENDOR_TIMEOUT_S,
    ConnectionRead,
    SalesforceInbound,
    refuse_foreign_url,
    salesforce_inbound,
    store,
    vendor_refusal,
)
from app.control.errors import BadRequest, Conflict, ControlError
from app.control.salesforce_oauth import Environment, GrantedToken
from app.crypto import SecretBox
from app.db import oauth_states
from app.settings import Settings

CALLBACK_PATH = "/v1/connections/salesforce/callback"


def _https_origin(value: str | None) -> str | None:
    """The origin of an absolute URL; whether its host may be called is checked by the service
    (`refuse_foreign_url`), which knows SFGR_ALLOWED_VENDOR_HOSTS."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError("must be an absolute URL such as https://acme.my.salesforce.com")
    return f"{parts.scheme}://{parts.netloc}"


class JwtConnect(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "consumer_key": "3MVG9...",
                    "username": "integration@acme.example",
                    "private_key_pem": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
                    "environment": "production",
                }
            ]
        }
    }

    consumer_key: str = Field(min_length=1, description="the connected app's consumer key (JWT iss)")
    username: str = Field(min_length=1, description="the pre-authorized integration user (JWT sub)")
    private_key_pem: SecretStr = Field(description="RSA private key, PEM, whose certificate the app holds")
    environment: Environment = Field("production", description="login host: production or sandbox")
    my_domain_url: str | None = Field(
        None,
        description="e.g. https://acme.my.salesforce.com: then both the JWT audience and the token host",
    )

    _origin = field_validator("my_domain_url")(_https_origin)


class ClientCredentialsConnect(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "client_id": "3MVG9...",
                    "client_secret": "9F1C...",
                    "my_domain_url": "https://acme.my.salesforce.com",
                }
            ]
        }
    }

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    my_domain_url: str = Field(description="the org's My Domain: this grant is refused at login hosts (A4)")
    environment: Environment = "production"

    _origin = field_validator("my_domain_url")(_https_origin)


class SalesforceConnected(BaseModel):
    """The connection, and (once, here only) where Salesforce must deliver, with the secrets."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "connection": CONNECTION_EXAMPLE,
                    "inbound": {
                        "outbound_message_url": "https://sfgr.example.com/v1/salesforce/outbound-messages?key=Xy7...",
                        "event_relay_url": "https://sfgr.example.com/v1/salesforce/event-relay",
                        "event_relay_key_header": "X-Sfgr-Api-Key",
                        "event_relay_key": "mJ3...",
                        "change_events_url": "https://sfgr.example.com/v1/salesforce/change-events",
                        "change_events_secret": "q2V...",
                    },
                    "next_steps": ["Outbound Messages (Lead, Contact): set the endpoint URL to ..."],
                }
            ]
        }
    }

    connection: ConnectionRead
    inbound: SalesforceInbound
    next_steps: list[str]


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _oauth_app(settings: Settings) -> tuple[str, str | None]:
    if not settings.salesforce_oauth_client_id:
        raise Conflict(
            "the OAuth web-server flow is not configured: set SFGR_SALESFORCE_OAUTH_CLIENT_ID (and "
            "SFGR_SALESFORCE_OAUTH_CLIENT_SECRET) to the connected app's consumer key and secret"
        )
    secret = settings.salesforce_oauth_client_secret
    return settings.salesforce_oauth_client_id, secret.get_secret_value() if secret else None


async def start_authorization(
    session: AsyncSession,
    box: SecretBox,
    settings: Settings,
    *,
    environment: Environment,
    default_redirect_uri: str,
    started_by: Actor,
) -> str:
    """Stores a new state with its PKCE verifier and who started it; returns the login host's
    authorize URL."""
    client_id, _ = _oauth_app(settings)
    redirect_uri = settings.salesforce_oauth_redirect_uri or default_redirect_uri
    login = salesforce_oauth.login_url(settings, environment)
    verifier, challenge = salesforce_oauth.pkce_pair()
    state = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await oauth_states.drop_expired_states(session, now=now)
    await oauth_states.add_state(
        session,
        state_hash=_hash(state),
        environment=environment,
        login_url=login,
        redirect_uri=redirect_uri,
        code_verifier=box.seal({"code_verifier": verifier}),
        expires_at=now + timedelta(seconds=settings.oauth_state_ttl_s),
        started_by=started_by.as_json(),
    )
    await session.commit()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": salesforce_oauth.WEB_SERVER_SCOPES,
        "state": state,
    }
    return f"{salesforce_oauth.endpoint(login, 'authorize')}?{urlencode(query)}"


async def finish_authorization(
    session: AsyncSession,
    box: SecretBox,
    settings: Settings,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
    error_description: str | None,
    public_base: str,
) -> tuple[SalesforceConnected, Actor]:
    """The callback: takes the state (once), exchanges the code and stores the refresh token.
    Returns the connection and the actor to audit it under: whoever started the authorization."""
    pending = None
    if state:
        pending = await oauth_states.take_state(session, _hash(state), now=datetime.now(UTC))
        await session.commit()
    if pending is None:
        raise BadRequest(
            "unknown or expired state: start again at GET /v1/connections/salesforce/authorize "
            f"(a state is valid for {settings.oauth_state_ttl_s} s and for one callback)"
        )
    if error or not code:
        raise BadRequest(
            f"Salesforce did not authorize: {error or 'no code in the callback'}"
            + (f": {error_description}" if error_description else "")
        )
    client_id, client_secret = _oauth_app(settings)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": box.open(pending.code_verifier)["code_verifier"],
    }
    if client_secret:
        form["client_secret"] = client_secret
    token_url = salesforce_oauth.endpoint(pending.login_url, "token")
    async with new_session(VENDOR_TIMEOUT_S) as http:
        try:
            granted = await salesforce_oauth.request_token(http, token_url, form)
        except VendorError as exc:
            raise vendor_refusal("Salesforce refused the authorization code", exc) from exc
        if granted.refresh_token is None:
            raise BadRequest(
                "Salesforce granted no refresh token: add the 'refresh_token, offline_access' scope to "
                "the connected app's OAuth scopes, then authorize again"
            )
        credentials = RefreshTokenGrant(
            token_url=token_url,
            client_id=client_id,
            client_secret=SecretStr(client_secret) if client_secret else None,
            refresh_token=SecretStr(granted.refresh_token),
        )
        try:
            connected = await _store(
                session, box, settings, granted, credentials, "oauth_web_server", pending.environment,
                pending.login_url, public_base,
            )
        except ControlError:
            # Not stored (another org is connected): leave no live grant behind.
            await _revoke_quietly(http, pending.login_url, granted.refresh_token)
            raise
    return connected, Actor.oauth_callback(Actor.from_json(pending.started_by))


async def connect_jwt(
    session: AsyncSession, box: SecretBox, settings: Settings, body: JwtConnect, *, public_base: str
) -> SalesforceConnected:
    if body.my_domain_url is not None:
        hosts = VendorHosts.from_settings(settings)
        refuse_foreign_url(hosts, "salesforce", "my_domain_url", body.my_domain_url)
    login = salesforce_oauth.login_url(settings, body.environment)
    host = body.my_domain_url or login
    credentials = JwtBearerGrant(
        token_url=salesforce_oauth.endpoint(host, "token"),
        consumer_key=body.consumer_key,
        username=body.username,
        private_key_pem=body.private_key_pem,
        audience=host,
    )
    return await _connect_with_grant(
        session, box, settings, credentials, "jwt_bearer", body.environment, host, public_base, body.username
    )


async def connect_client_credentials(
    session: AsyncSession,
    box: SecretBox,
    settings: Settings,
    body: ClientCredentialsConnect,
    *,
    public_base: str,
) -> SalesforceConnected:
    refuse_foreign_url(VendorHosts.from_settings(settings), "salesforce", "my_domain_url", body.my_domain_url)
    credentials = ClientCredentialsGrant(
        token_url=salesforce_oauth.endpoint(body.my_domain_url, "token"),
        client_id=body.client_id,
        client_secret=body.client_secret,
    )
    return await _connect_with_grant(
        session, box, settings, credentials, "client_credentials", body.environment, body.my_domain_url,
        public_base,
    )


async def _connect_with_grant(
    session: AsyncSession,
    box: SecretBox,
    settings: Settings,
    credentials: SalesforceCredentials,
    auth_kind: str,
    environment: str,
    host: str,
    public_base: str,
    username: str | None = None,
) -> SalesforceConnected:
    try:
        form = token_form(credentials)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise BadRequest(f"private_key_pem is not an RSA private key in PEM form ({exc})") from exc
    async with new_session(VENDOR_TIMEOUT_S) as http:
        try:
            granted = await salesforce_oauth.request_token(http, credentials.token_url, form)
        except VendorError as exc:
            raise vendor_refusal(f"Salesforce refused the {credentials.grant} grant", exc) from exc
    return await _store(
        session, box, settings, granted, credentials, auth_kind, environment, host, public_base, username
    )


async def _store(
    session: AsyncSession,
    box: SecretBox,
    app_settings: Settings,
    granted: GrantedToken,
    credentials: SalesforceCredentials,
    auth_kind: str,
    environment: str,
    login: str,
    public_base: str,
    username: str | None = None,
) -> SalesforceConnected:
    # Every later call goes to the instance URL, which the token endpoint's answer names.
    refused = VendorHosts.from_settings(app_settings).refusal("salesforce", granted.instance_url)
    if refused is not None:
        raise BadRequest(f"the token answer's instance_url {refused}; nothing was stored")
    settings = {
        "environment": environment,
        "login_url": login,
        "revoke_url": salesforce_oauth.endpoint(login, "revoke"),
        "user_id": granted.user_id,
    }
    if username:
        settings["username"] = username
    row, inbound = await store(
        session,
        box,
        kind="salesforce",
        external_id=granted.org_id,
        api_base_url=granted.instance_url,
        auth_kind=auth_kind,
        credentials=credentials.model_dump(mode="json") | _secrets_of(credentials),
        settings=settings,
    )
    shown = salesforce_inbound(public_base, inbound, key_header=app_settings.event_relay_key_header)
    return SalesforceConnected(
        connection=ConnectionRead.model_validate(row),
        inbound=shown,
        next_steps=[
            f"Outbound Messages (Lead, Contact): set the endpoint URL to {shown.outbound_message_url}",
            f"CDC through Event Relay: an EventBridge API destination to {shown.event_relay_url} with "
            f"API key authorization, key name {shown.event_relay_key_header}, value event_relay_key",
            f"A custom CDC relay (CometD JSON): post to {shown.change_events_url}, signing with the "
            "change_events_secret",
            "These secrets are shown only in this answer; connecting the same org again keeps them.",
        ],
    )


def _secrets_of(credentials: SalesforceCredentials) -> dict[str, str]:
    """model_dump masks SecretStr values; the sealed credentials need them in clear."""
    fields: dict[str, str] = {}
    for name, value in credentials:
        if isinstance(value, SecretStr):
            fields[name] = value.get_secret_value()
    return fields


async def _revoke_quietly(http: aiohttp.ClientSession, login: str, token: str) -> None:
    try:
        await salesforce_oauth.revoke(http, salesforce_oauth.endpoint(login, "revoke"), token)
    except VendorError:
        pass  # best effort: the refresh token is not stored anywhere, so it is never used
