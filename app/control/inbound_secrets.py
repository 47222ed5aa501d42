"""Rotating a connection's inbound secrets (`POST /v1/connections/{kind}/rotate-inbound-secrets`):
new ones are issued and shown once, and the ones they replace stay valid for an overlap
(SFGR_INBOUND_SECRET_OVERLAP_S), so that Salesforce's Outbound Messages, the CDC relay and the
GetResponse webhook can be given the new ones without a delivery being refused meanwhile.

Which secrets a kind has is `INBOUND_SECRET_NAMES` (app/control/connections.py): a new one added
there is rotated here with the others. A second rotation within the overlap ends the first one's:
only the secrets it replaces stay valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.control.connections import (
    CONNECTION_EXAMPLE,
    INBOUND_SECRET_NAMES,
    ConnectionRead,
    GetResponseInbound,
    Kind,
    SalesforceInbound,
    getresponse_inbound,
    new_inbound_secrets,
    salesforce_inbound,
)
from app.control.errors import NotFound
from app.crypto import SecretBox
from app.db import connections
from app.db.connections import PREVIOUS, PREVIOUS_UNTIL, SALESFORCE


class InboundSecretsRotated(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "connection": CONNECTION_EXAMPLE | {"kind": "getresponse", "external_id": "AbC12"},
                    "inbound": {"webhook_url": "https://sfgr.example.com/v1/getresponse/webhooks?secret=Qm9..."},
                    "rotated": ["webhook_secret"],
                    "previous_valid_until": "2026-12-01T15:00:00Z",
                    "next_steps": ["Give GetResponse the new webhook URL before 2026-12-01T15:00:00Z"],
                }
            ]
        }
    }

    connection: ConnectionRead
    inbound: SalesforceInbound | GetResponseInbound = Field(description="the new secrets: shown only here")
    rotated: list[str] = Field(description="the names of the secrets replaced")
    previous_valid_until: datetime = Field(description="until when the replaced secrets are still accepted")
    next_steps: list[str]


async def rotate_inbound_secrets(
    session: AsyncSession,
    box: SecretBox,
    *,
    kind: Kind,
    overlap: timedelta,
    public_base: str,
    event_relay_key_header: str,
) -> InboundSecretsRotated:
    """Issues new secrets for the connected connection of `kind` and commits."""
    row = await connections.latest_connected(session, kind)
    if row is None:
        raise NotFound(f"no {kind} connection is connected")
    current: dict[str, Any] = box.open(row.inbound_secret) if row.inbound_secret else {}
    names = INBOUND_SECRET_NAMES[kind]
    replaced = {n: current[n] for n in names if isinstance(current.get(n), str) and current[n]}
    until = datetime.now(UTC) + overlap
    fresh = new_inbound_secrets(kind)
    # updated_at stays: it marks new credentials, which would make every process renew its client.
    row.inbound_secret = box.seal({**fresh, PREVIOUS: replaced, PREVIOUS_UNTIL: until.isoformat()})
    await session.commit()
    shown: SalesforceInbound | GetResponseInbound
    if kind == SALESFORCE:
        shown = salesforce_inbound(public_base, fresh, key_header=event_relay_key_header)
    else:
        shown = getresponse_inbound(public_base, fresh)
    where = (
        "the Outbound Messages' endpoint URL, the Event Relay API destination's key and a custom CDC "
        "relay's signing key"
        if kind == SALESFORCE
        else "the GetResponse webhook's URL"
    )
    return InboundSecretsRotated(
        connection=ConnectionRead.model_validate(row),
        inbound=shown,
        rotated=sorted(replaced),
        previous_valid_until=until,
        next_steps=[
            f"Change {where} to the new values before {until.isoformat()}; until then the old ones "
            "are accepted too. The new values are shown only in this answer."
        ],
    )
