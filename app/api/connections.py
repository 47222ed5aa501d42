"""`/v1/connections`: connect and disconnect the Salesforce org and the GetResponse account."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse

from app.api.auth import AUTH_RESPONSES
from app.api.control_errors import control_errors, error_responses, public_base
from app.api.deps import Admin, Reader, ResourcesDep, SessionDep, SettingsDep
from app.clients.vendor_hosts import VendorHosts
from app.control import (
    audit,
    audit_entries,
    connections,
    getresponse_connect,
    inbound_secrets,
    salesforce_connect,
)
from app.control.connections import ConnectionRead, Disconnected, EventRelayKey, Kind
from app.control.getresponse_connect import GetResponseConnect, GetResponseConnected
from app.control.inbound_secrets import InboundSecretsRotated
from app.control.salesforce_connect import (
    CALLBACK_PATH,
    ClientCredentialsConnect,
    JwtConnect,
    SalesforceConnected,
)
from app.control.salesforce_oauth import Environment
from app.crypto import SecretBox

router = APIRouter(prefix="/v1/connections", tags=["connections"])

ForceQuery = Annotated[
    bool, Query(description="disconnect even when the vendor does not confirm the revocation")
]


@router.get("", summary="List connections (never their secrets)", responses=AUTH_RESPONSES)
async def list_connections(_: Reader, session: SessionDep) -> list[ConnectionRead]:
    return await connections.list_connections(session)


@router.get(
    "/salesforce/authorize",
    summary="Start the OAuth web-server flow: redirects to the login host of the environment",
    description=(
        "Answers 302 to `<login host>/services/oauth2/authorize` with PKCE (S256) and a one-time "
        "`state` kept server-side. A browser sends no bearer token, so fetch the redirect with the "
        "token (`curl -si -H 'Authorization: Bearer ...' .../authorize | grep -i location`) and open "
        "the URL in the browser of the Salesforce user who authorizes; the callback is then "
        "authenticated by its state."
    ),
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={**AUTH_RESPONSES, 302: {"description": "to the login host"}, **error_responses(409)},
)
async def authorize(
    admin: Admin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    environment: Annotated[
        Environment, Query(description="production: login.salesforce.com; sandbox: test.salesforce.com")
    ] = "production",
) -> RedirectResponse:
    with control_errors():
        url = await salesforce_connect.start_authorization(
            session,
            SecretBox(settings),
            settings,
            environment=environment,
            default_redirect_uri=public_base(settings, request) + CALLBACK_PATH,
            started_by=admin.actor,
        )
    return RedirectResponse(url, status_code=status.HTTP_302_FOUND)


@router.get(
    "/salesforce/callback",
    summary="OAuth callback: exchanges the code, stores the refresh token, shows the inbound endpoints once",
    description="Reached by the browser coming back from Salesforce; its one-time `state` authenticates it.",
    responses=error_responses(400, 409, 502),
)
async def callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> SalesforceConnected:
    with control_errors():
        connected, actor = await salesforce_connect.finish_authorization(
            session,
            SecretBox(settings),
            settings,
            code=code,
            state=state,
            error=error,
            error_description=error_description,
            public_base=public_base(settings, request),
        )
    asked = {"grant": "oauth_web_server"}
    await audit_entries.connected(session, actor, connected.connection, asked)
    return connected


@router.post(
    "/salesforce/jwt",
    summary="Connect with the JWT bearer grant (headless installs); one token is fetched to prove it",
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH_RESPONSES, **error_responses(400, 409, 422, 502)},
)
async def connect_jwt(
    caller: Admin, body: JwtConnect, request: Request, session: SessionDep, settings: SettingsDep
) -> SalesforceConnected:
    with control_errors():
        connected = await salesforce_connect.connect_jwt(
            session, SecretBox(settings), settings, body, public_base=public_base(settings, request)
        )
    await audit_entries.connected(session, caller.actor, connected.connection, body.model_dump(mode="json"))
    return connected


@router.post(
    "/salesforce/client-credentials",
    summary="Connect with the client-credentials grant at the org's My Domain",
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH_RESPONSES, **error_responses(400, 409, 422, 502)},
)
async def connect_client_credentials(
    caller: Admin,
    body: ClientCredentialsConnect,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> SalesforceConnected:
    with control_errors():
        connected = await salesforce_connect.connect_client_credentials(
            session, SecretBox(settings), settings, body, public_base=public_base(settings, request)
        )
    await audit_entries.connected(session, caller.actor, connected.connection, body.model_dump(mode="json"))
    return connected


@router.post(
    "/salesforce/event-relay-key",
    summary="Rotate the Event Relay key: a new key, shown once; the old one works for a grace period",
    description=(
        "Set the new key as the API key value of the EventBridge connection that the API destination "
        "uses; the replaced key is accepted for SFGR_EVENT_RELAY_KEY_GRACE_S more (default an hour). "
        "An org connected before Event Relay was supported gets its first key here."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def rotate_event_relay_key(
    caller: Admin, request: Request, session: SessionDep, settings: SettingsDep, resources: ResourcesDep
) -> EventRelayKey:
    with control_errors():
        rotated = await connections.rotate_event_relay_key(
            session, SecretBox(settings), settings, public_base=public_base(settings, request)
        )
    resources.inbound_secrets.forget("salesforce")
    until = rotated.previous_key_valid_until
    await audit.record(
        session, caller.actor, action="connection.rotate_event_relay_key", target_kind="connection",
        target_id=None, change={"previous_key_valid_until": until.isoformat() if until else None},
    )
    return rotated


@router.delete(
    "/salesforce",
    summary="Disconnect the org: revoke the refresh token, cancel its syncs (links are kept)",
    responses={**AUTH_RESPONSES, **error_responses(404, 502)},
)
async def disconnect_salesforce(
    caller: Admin, session: SessionDep, settings: SettingsDep, force: ForceQuery = False
) -> Disconnected:
    with control_errors():
        disconnected = await connections.disconnect(
            session, SecretBox(settings), kind="salesforce", force=force
        )
    await audit_entries.disconnected(session, caller.actor, disconnected, force=force)
    return disconnected


@router.post(
    "/getresponse",
    summary="Connect the GetResponse account (API key or OAuth token; MAX with api_base_url and domain)",
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH_RESPONSES, **error_responses(400, 409, 422, 502)},
)
async def connect_getresponse(
    caller: Admin, body: GetResponseConnect, request: Request, session: SessionDep, settings: SettingsDep
) -> GetResponseConnected:
    with control_errors():
        connected = await getresponse_connect.connect_getresponse(
            session, SecretBox(settings), body, public_base=public_base(settings, request),
            hosts=VendorHosts.from_settings(settings),
        )
    await audit_entries.connected(session, caller.actor, connected.connection, body.model_dump(mode="json"))
    return connected


@router.delete(
    "/getresponse",
    summary="Disconnect the account and cancel its syncs (links are kept)",
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def disconnect_getresponse(
    caller: Admin, session: SessionDep, settings: SettingsDep, force: ForceQuery = False
) -> Disconnected:
    with control_errors():
        disconnected = await connections.disconnect(
            session, SecretBox(settings), kind="getresponse", force=force
        )
    await audit_entries.disconnected(session, caller.actor, disconnected, force=force)
    return disconnected


@router.post(
    "/{kind}/rotate-inbound-secrets",
    summary="Issue new inbound secrets (shown once); the old ones stay valid for an overlap",
    description=(
        "For salesforce: the Outbound Message ?key= and the CDC relay's HMAC key; for getresponse: "
        "the webhook ?secret=. The replaced secrets are accepted until `previous_valid_until` "
        "(SFGR_INBOUND_SECRET_OVERLAP_S, 24 h by default), so the senders can be updated without a "
        "refused delivery. Every api replica uses the new secrets within 5 s."
    ),
    responses={**AUTH_RESPONSES, **error_responses(404)},
)
async def rotate_inbound_secrets(
    caller: Admin, kind: Kind, request: Request, session: SessionDep, resources: ResourcesDep
) -> InboundSecretsRotated:
    settings = resources.settings
    with control_errors():
        rotated = await inbound_secrets.rotate_inbound_secrets(
            session, SecretBox(settings), kind=kind,
            overlap=timedelta(seconds=settings.inbound_secret_overlap_s),
            public_base=public_base(settings, request),
            event_relay_key_header=settings.event_relay_key_header,
        )
    resources.inbound_secrets.forget(kind)
    await audit.record(
        session, caller.actor, action=f"connection.rotate_inbound_secrets.{kind}", target_kind="connection",
        target_id=rotated.connection.id,
        change={"rotated": rotated.rotated, "previous_valid_until": rotated.previous_valid_until.isoformat()},
    )
    return rotated

