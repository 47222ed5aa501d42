"""The Integrations page: the Salesforce org and the GetResponse account, connecting and
disconnecting them, and the inbound URLs (shown once, after a connect)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr, ValidationError

from app.api.control_errors import public_base
from app.api.deps import (
    DiscoveryDep,
    ResourcesDep,
    SessionDep,
    SettingsDep,
    UiAdminForm,
    UiViewer,
    VendorHostsDep,
    VendorsDep,
)
from app.control import audit_entries, connections, discovery, getresponse_connect, salesforce_connect
from app.control.errors import ControlError
from app.control.getresponse_connect import GetResponseConnect
from app.control.salesforce_oauth import Environment
from app.crypto import SecretBox
from app.ui.templating import render

router = APIRouter(prefix="/ui/integrations", include_in_schema=False)
CALLBACK_PATH = "/ui/integrations/salesforce/callback"
Kind = Literal["salesforce", "getresponse"]

WHAT_DISCONNECT_DOES = {
    "salesforce": (
        "Salesforce's refresh token is revoked and every sync that uses the org is cancelled: no change "
        "travels either way from then on. Kept: the links between people, their decision logs and dead "
        "letters, so that connecting the org again and creating a sync carries on where it stopped."
    ),
    "getresponse": (
        "The API key is forgotten and every sync that uses the account is cancelled: no change travels "
        "either way from then on. Kept: the links between people, their decision logs and dead letters."
    ),
}


async def _health(session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep, kind: Kind) -> str:
    """Whether the vendor answers with the stored credential, by one discovery read (kept for a
    short while, like every discovery answer)."""
    try:
        if kind == "getresponse":
            lists = await discovery.getresponse_lists(session, vendors, cache)
            return f"answering ({len(lists)} list{'s' if len(lists) != 1 else ''} visible)"
        await discovery.salesforce_campaigns(session, vendors, cache, "")
        return "answering"
    except ControlError as exc:
        return exc.message


async def _page(
    request: Request,
    viewer: UiViewer,
    session: SessionDep,
    vendors: VendorsDep,
    cache: DiscoveryDep,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    found = await connections.list_connections(session)
    latest = {}
    for connection in sorted(found, key=lambda c: (c.state == "connected", c.updated_at)):
        latest[connection.kind] = connection
    health = {
        kind: await _health(session, vendors, cache, kind)
        for kind, connection in latest.items()
        if connection.state == "connected"
    }
    return render(
        request,
        "integrations.html",
        viewer,
        status_code=status_code,
        section="integrations",
        salesforce=latest.get("salesforce"),
        getresponse=latest.get("getresponse"),
        health=health,
        **context,
    )


@router.get("", response_class=HTMLResponse)
async def integrations(
    request: Request, viewer: UiViewer, session: SessionDep, vendors: VendorsDep, cache: DiscoveryDep
) -> HTMLResponse:
    return await _page(request, viewer, session, vendors, cache)


@router.post("/salesforce/connect")
async def connect_salesforce(
    request: Request,
    viewer: UiAdminForm,
    session: SessionDep,
    vendors: VendorsDep,
    cache: DiscoveryDep,
    settings: SettingsDep,
    environment: Annotated[Environment, Form()] = "production",
) -> Response:
    try:
        url = await salesforce_connect.start_authorization(
            session,
            SecretBox(settings),
            settings,
            environment=environment,
            default_redirect_uri=public_base(settings, request) + CALLBACK_PATH,
            started_by=viewer.caller.actor,
        )
    except ControlError as exc:
        return await _page(
            request, viewer, session, vendors, cache, status_code=exc.status, error=exc.message
        )
    return RedirectResponse(url, status_code=303)


@router.get("/salesforce/callback", response_class=HTMLResponse)
async def salesforce_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> HTMLResponse:
    """Salesforce sends the browser back here; the one-time state authenticates the request (a
    SameSite=Strict cookie does not come along on a redirect from another site)."""
    try:
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
    except ControlError as exc:
        return render(
            request, "connected.html", None, status_code=exc.status, error=exc.message, kind="salesforce"
        )
    await audit_entries.connected(session, actor, connected.connection, {"grant": "oauth_web_server"})
    inbound = [
        ("Outbound Message endpoint URL", connected.inbound.outbound_message_url),
        ("Event Relay: the API destination's endpoint", connected.inbound.event_relay_url),
        ("Event Relay: the API key name (a header)", connected.inbound.event_relay_key_header),
        ("Event Relay: the API key value", connected.inbound.event_relay_key),
        ("Change events URL (a custom CometD relay)", connected.inbound.change_events_url),
        ("Change events secret (that relay's HMAC key)", connected.inbound.change_events_secret),
    ]
    return render(
        request,
        "connected.html",
        None,
        kind="salesforce",
        connection=connected.connection,
        inbound=inbound,
        next_steps=connected.next_steps,
    )


@router.post("/getresponse/connect", response_class=HTMLResponse)
async def connect_getresponse(
    request: Request,
    viewer: UiAdminForm,
    session: SessionDep,
    vendors: VendorsDep,
    cache: DiscoveryDep,
    settings: SettingsDep,
    hosts: VendorHostsDep,
    api_key: Annotated[str, Form()] = "",
    max_domain: Annotated[str, Form()] = "",
    api_base_url: Annotated[str, Form()] = "",
    account_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    try:
        body = GetResponseConnect(
            api_key=SecretStr(api_key.strip()) if api_key.strip() else None,
            oauth_token=None,
            api_base_url=api_base_url.strip() or None,
            domain=max_domain.strip() or None,
            account_id=account_id.strip() or None,
        )
    except ValidationError as exc:
        problem = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        return await _page(
            request, viewer, session, vendors, cache, status_code=422, error=f"GetResponse: {problem}"
        )
    try:
        connected = await getresponse_connect.connect_getresponse(
            session, SecretBox(settings), body, public_base=public_base(settings, request),
            hosts=hosts,
        )
    except ControlError as exc:
        return await _page(
            request, viewer, session, vendors, cache, status_code=exc.status, error=exc.message
        )
    asked = body.model_dump(mode="json")
    await audit_entries.connected(session, viewer.caller.actor, connected.connection, asked)
    return render(
        request,
        "connected.html",
        viewer,
        kind="getresponse",
        connection=connected.connection,
        inbound=[("Webhook URL", connected.inbound.webhook_url)],
        next_steps=[*connected.warnings, *connected.next_steps],
    )


@router.get("/{kind}/disconnect", response_class=HTMLResponse)
async def confirm_disconnect(request: Request, kind: Kind, viewer: UiViewer) -> HTMLResponse:
    return render(
        request,
        "confirm.html",
        viewer,
        section="integrations",
        heading=f"Disconnect {'Salesforce' if kind == 'salesforce' else 'GetResponse'}?",
        explanation=WHAT_DISCONNECT_DOES[kind],
        action=f"/ui/integrations/{kind}/disconnect",
        confirm_label="Disconnect",
        back="/ui/integrations",
        danger=True,
    )


@router.post("/{kind}/disconnect", response_class=HTMLResponse)
async def disconnect(
    request: Request,
    kind: Kind,
    viewer: UiAdminForm,
    session: SessionDep,
    vendors: VendorsDep,
    cache: DiscoveryDep,
    resources: ResourcesDep,
) -> HTMLResponse:
    try:
        done = await connections.disconnect(session, SecretBox(resources.settings), kind=kind, force=False)
    except ControlError as exc:
        return await _page(
            request, viewer, session, vendors, cache, status_code=exc.status, error=exc.message
        )
    await audit_entries.disconnected(session, viewer.caller.actor, done, force=False)
    cancelled = len(done.cancelled_syncs)
    message = (
        f"{'Salesforce' if kind == 'salesforce' else 'GetResponse'} is disconnected ({done.revocation}); "
        f"{cancelled} sync{'s' if cancelled != 1 else ''} cancelled, links kept."
    )
    return await _page(request, viewer, session, vendors, cache, message=message)
