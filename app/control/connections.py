"""Connections as the control API shows and changes them: one Salesforce org and one GetResponse
account at a time (design.md "Connect"), their inbound endpoints, and disconnecting.

Connecting is in `salesforce_connect.py` and `getresponse_connect.py`; both end in `store`, which
keeps a reconnected org's or account's inbound secrets, so that the Outbound Message, CDC relay
and webhook settings made in the vendors' UIs keep working.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.errors import Transient, VendorError
from app.clients.salesforce_auth import RefreshTokenGrant, salesforce_credentials
from app.clients.transport import new_session
from app.clients.vendor_hosts import VendorHosts
from app.control import salesforce_oauth
from app.control.errors import (
    BadRequest,
    Conflict,
    ControlError,
    Invalid,
    NotFound,
    Problem,
    VendorUnavailable,
)
from app.crypto import SecretBox
from app.db import audit, connections, syncs
from app.db.connections import GETRESPONSE, SALESFORCE
from app.db.models import Connection
from app.domain.states import ConnectionState
from app.inbound.authentication import (
    CHANGE_EVENTS_SECRET,
    EVENT_RELAY_KEY,
    OUTBOUND_KEY,
    PREVIOUS_EVENT_RELAY_KEY,
    PREVIOUS_EVENT_RELAY_KEY_UNTIL,
    WEBHOOK_SECRET,
)
from app.settings import Settings

Kind = Literal["salesforce", "getresponse"]
VENDOR_TIMEOUT_S = 15.0
# Connection settings safe to show; credentials and inbound secrets are never shown after a connect.
_PUBLIC_SETTINGS = ("environment", "login_url", "max_domain", "username", "user_id", "account_id_source")


CONNECTION_EXAMPLE: dict[str, Any] = {
    "id": "5b0c4f8e-3c0e-4a8e-9d55-0d7f3c1f2a10",
    "kind": "salesforce",
    "external_id": "00D5g0000SfGrSmEQK",
    "api_base_url": "https://acme.my.salesforce.com",
    "auth_kind": "oauth_web_server",
    "state": "connected",
    "settings": {"environment": "production", "login_url": "https://login.salesforce.com"},
    "created_at": "2026-11-26T10:00:00Z",
    "updated_at": "2026-11-26T10:00:00Z",
    "connected_by": "marketing-ops admin (authorized in Salesforce)",
}


class ConnectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [CONNECTION_EXAMPLE]})

    id: uuid.UUID
    kind: Kind
    external_id: str = Field(description="Salesforce org id (18 characters) or GetResponse account id")
    api_base_url: str = Field(description="Salesforce instance URL, or GetResponse API base URL")
    auth_kind: str = Field(description="oauth_web_server, jwt_bearer, client_credentials, api_key or oauth")
    state: ConnectionState
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    connected_by: str | None = Field(
        default=None,
        description="who made the last connect, as the audit log names them (None: not recorded)",
    )

    @field_validator("settings", mode="before")
    @classmethod
    def _public_only(cls, settings: dict[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (settings or {}).items() if k in _PUBLIC_SETTINGS}


class SalesforceInbound(BaseModel):
    """Where Salesforce delivers, with the secrets; shown once, in the answer to a connect."""

    outbound_message_url: str = Field(
        description="Endpoint URL of the Outbound Messages (workflow or flow), with its ?key="
    )
    event_relay_url: str = Field(description="The endpoint of the EventBridge API destination (Event Relay)")
    event_relay_key_header: str = Field(description="The API destination's API key name (a header)")
    event_relay_key: str = Field(description="The API destination's API key value")
    change_events_url: str = Field(description="Where a custom CDC relay posts CometD change events")
    change_events_secret: str = Field(description="The custom relay's HMAC key for X-Sfgr-Signature")


class EventRelayKey(BaseModel):
    """A new Event Relay key, shown once: set it as the API key value of the API destination's
    connection; the previous key keeps working until `previous_key_valid_until`."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "event_relay_url": "https://sfgr.example.com/v1/salesforce/event-relay",
                    "event_relay_key_header": "X-Sfgr-Api-Key",
                    "event_relay_key": "mJ3...",
                    "previous_key_valid_until": "2026-11-30T11:00:00Z",
                }
            ]
        }
    }

    event_relay_url: str
    event_relay_key_header: str
    event_relay_key: str
    previous_key_valid_until: datetime | None = Field(
        description="until when the replaced key is accepted too; null when there was none"
    )


class GetResponseInbound(BaseModel):
    """The webhook URL to enter in GetResponse (Webhooks > Create webhook); shown once."""

    webhook_url: str


class Disconnected(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "connection": CONNECTION_EXAMPLE | {"state": "disconnected"},
                    "token_revoked": True,
                    "revocation": "the refresh token was revoked at https://login.salesforce.com",
                    "cancelled_syncs": ["0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50"],
                }
            ]
        }
    }

    connection: ConnectionRead
    token_revoked: bool
    revocation: str = Field(description="what happened to the vendor-side credential")
    cancelled_syncs: list[uuid.UUID] = Field(description="syncs that used it, now cancelled; links are kept")


# The inbound secrets of each kind of connection, by name: the one place a new one is added (it is
# then generated at the first connect, kept across reconnects and rotated with the others by
# `rotate-inbound-secrets`).
INBOUND_SECRET_NAMES: dict[Kind, tuple[str, ...]] = {
    "salesforce": (OUTBOUND_KEY, CHANGE_EVENTS_SECRET, EVENT_RELAY_KEY),
    "getresponse": (WEBHOOK_SECRET,),
}


def new_inbound_secrets(kind: Kind) -> dict[str, str]:
    return {n: secrets.token_urlsafe(32) for n in INBOUND_SECRET_NAMES[kind]}


def inbound_secrets_for(kind: Kind, existing: dict[str, Any] | None) -> dict[str, Any]:
    """The secrets of a connection: the existing ones when the same org or account connects again
    (with a rotation's previous secrets, while they last), and a new one for each it lacks (an org
    connected before Event Relay existed gains its key)."""
    kept = dict(existing or {})
    return kept | {n: v for n, v in new_inbound_secrets(kind).items() if not kept.get(n)}


def event_relay_url(public_base: str) -> str:
    return f"{public_base.rstrip('/')}/v1/salesforce/event-relay"


def salesforce_inbound(public_base: str, secrets_: dict[str, Any], *, key_header: str) -> SalesforceInbound:
    base = public_base.rstrip("/")
    return SalesforceInbound(
        outbound_message_url=f"{base}/v1/salesforce/outbound-messages?key={secrets_[OUTBOUND_KEY]}",
        event_relay_url=event_relay_url(base),
        event_relay_key_header=key_header,
        event_relay_key=secrets_[EVENT_RELAY_KEY],
        change_events_url=f"{base}/v1/salesforce/change-events",
        change_events_secret=secrets_[CHANGE_EVENTS_SECRET],
    )


def getresponse_inbound(public_base: str, secrets_: dict[str, Any]) -> GetResponseInbound:
    return GetResponseInbound(
        webhook_url=f"{public_base.rstrip('/')}/v1/getresponse/webhooks?secret={secrets_[WEBHOOK_SECRET]}"
    )


async def store(
    session: AsyncSession,
    box: SecretBox,
    *,
    kind: Kind,
    external_id: str,
    api_base_url: str,
    auth_kind: str,
    credentials: dict[str, Any],
    settings: dict[str, Any],
) -> tuple[Connection, dict[str, Any]]:
    """Saves the connection (refused while another org or account of `kind` is connected) and
    commits; returns it with its inbound secrets."""
    current = await connections.latest_connected(session, kind)
    if current is not None and current.external_id != external_id:
        label = "Salesforce org" if kind == SALESFORCE else "GetResponse account"
        raise Conflict(
            f"{label} {current.external_id} is connected; disconnect it first "
            f"(DELETE /v1/connections/{kind}) to connect {external_id}"
        )
    previous = await connections.connection_by_external_id(session, kind, external_id)
    existing = box.open(previous.inbound_secret) if previous is not None and previous.inbound_secret else None
    inbound = inbound_secrets_for(kind, existing)
    connection_id = await connections.save_connection(
        session,
        box,
        kind=kind,
        external_id=external_id,
        api_base_url=api_base_url,
        auth_kind=auth_kind,
        credentials=credentials,
        inbound_secrets=inbound,
        settings=settings,
    )
    await session.commit()
    row = await connections.connection_by_id(session, connection_id)
    assert row is not None
    return row, inbound


async def rotate_event_relay_key(
    session: AsyncSession, box: SecretBox, settings: Settings, *, public_base: str
) -> EventRelayKey:
    """A new Event Relay key for the connected org; the key it replaces stays valid for
    SFGR_EVENT_RELAY_KEY_GRACE_S, long enough to update the API destination's connection (a 401
    in between would lose events: EventBridge does not retry it)."""
    row = await connections.latest_connected(session, SALESFORCE)
    if row is None:
        raise NotFound("no Salesforce connection is connected")
    current = box.open(row.inbound_secret) if row.inbound_secret else {}
    rotated = dict(current) | {EVENT_RELAY_KEY: secrets.token_urlsafe(32)}
    valid_until: datetime | None = None
    if current.get(EVENT_RELAY_KEY) and settings.event_relay_key_grace_s > 0:
        valid_until = datetime.now(UTC) + timedelta(seconds=settings.event_relay_key_grace_s)
        rotated |= {
            PREVIOUS_EVENT_RELAY_KEY: current[EVENT_RELAY_KEY],
            PREVIOUS_EVENT_RELAY_KEY_UNTIL: valid_until.isoformat(),
        }
    else:
        rotated.pop(PREVIOUS_EVENT_RELAY_KEY, None)
        rotated.pop(PREVIOUS_EVENT_RELAY_KEY_UNTIL, None)
    # Not a new version of the connection (`updated_at` stays): its credentials did not change, so
    # no process needs to rebuild its vendor clients; the api's secrets cache takes it within 5 s.
    row.inbound_secret = box.seal(rotated)
    await session.commit()
    return EventRelayKey(
        event_relay_url=event_relay_url(public_base),
        event_relay_key_header=settings.event_relay_key_header,
        event_relay_key=rotated[EVENT_RELAY_KEY],
        previous_key_valid_until=valid_until,
    )


async def list_connections(session: AsyncSession) -> list[ConnectionRead]:
    found = [ConnectionRead.model_validate(r) for r in await connections.all_connections(session)]
    for connection in found:
        entries = await audit.newest_entries(
            session, limit=1, action=f"connection.connect.{connection.kind}", target_id=str(connection.id)
        )
        connection.connected_by = entries[0].actor_name if entries else None
    return found


def refuse_foreign_url(hosts: VendorHosts, vendor: Kind, field: str, url: str) -> None:
    """422 naming the request field and the rule, before anything calls `url`."""
    reason = hosts.refusal(vendor, url)
    if reason is not None:
        raise Invalid([Problem(field, f"{field} {reason}", "vendor_host")])


def vendor_refusal(what: str, exc: VendorError) -> ControlError:
    """A vendor's answer to a connect, as the caller should see it: 502 when it may work next time."""
    if isinstance(exc, Transient):
        return VendorUnavailable(f"{what}: {exc.reason}; nothing was stored, try again")
    return BadRequest(f"{what}: {exc.reason}")


async def disconnect(
    session: AsyncSession, box: SecretBox, *, kind: Kind, force: bool = False
) -> Disconnected:
    """Revokes what can be revoked at the vendor, marks the connection disconnected (dropping its
    credentials, keeping its inbound secrets for a reconnect), cancels every sync that uses it and
    keeps their links (audit). A revocation that fails for want of an answer changes nothing,
    unless `force`."""
    row = await connections.latest_connected(session, kind)
    if row is None:
        raise NotFound(f"no {kind} connection is connected")
    revoked, revocation = await _revoke(box, row, force=force)
    row.state = ConnectionState.DISCONNECTED
    row.updated_at = func.now()
    # Nothing uses a disconnected connection's credentials again (a reconnect brings its own), so
    # none is kept at rest, revoked or not: an API key or private key left here would outlive it.
    row.credentials = box.seal({})
    cancelled_ids = await syncs.cancel_syncs_using(session, row.id)
    await session.commit()
    await session.refresh(row)
    return Disconnected(
        connection=ConnectionRead.model_validate(row),
        token_revoked=revoked,
        revocation=revocation,
        cancelled_syncs=cancelled_ids,
    )


async def _revoke(box: SecretBox, row: Connection, *, force: bool) -> tuple[bool, str]:
    if row.kind == GETRESPONSE:
        return False, (
            "GetResponse API keys and tokens cannot be revoked through the API: delete the key in "
            "GetResponse (Integrations and API) if it should stop working"
        )
    credentials = salesforce_credentials(box.open(row.credentials))
    if not isinstance(credentials, RefreshTokenGrant):
        # JWT bearer and client credentials hold no long-lived token (A4, C7): access is granted by
        # the connected app's pre-authorization, which only the org's admin can withdraw.
        return False, (
            f"nothing to revoke for the {credentials.grant} grant; withdraw the connected app's "
            "pre-authorization in Salesforce to stop it for good"
        )
    login = credentials.token_url.removesuffix("/services/oauth2/token")
    revoke_url = str(row.settings.get("revoke_url") or salesforce_oauth.endpoint(login, "revoke"))
    refresh_token = credentials.refresh_token.get_secret_value()
    try:
        async with new_session(VENDOR_TIMEOUT_S) as http:
            known = await salesforce_oauth.revoke(http, revoke_url, refresh_token)
    except VendorError as exc:
        if not force:
            raise VendorUnavailable(
                f"Salesforce did not revoke the refresh token ({exc.reason}); nothing was disconnected: "
                "try again, or add ?force=true to disconnect without revoking"
            ) from exc
        return False, f"revocation failed ({exc.reason}); disconnected anyway (force)"
    if known:
        return True, f"the refresh token was revoked at {revoke_url}"
    return True, f"{revoke_url} no longer knew the refresh token (expired or already revoked)"
