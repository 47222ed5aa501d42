"""Event Relay deliveries (api-contracts A6): Salesforce relays a change event to Amazon
EventBridge, whose API destination POSTs it to us inside EventBridge's envelope:

    {"version": "0", "id": "<uuid>", "detail-type": "LeadChangeEvent",
     "source": "aws.partner/salesforce.com/<orgId>/<channelId>", "account": "...", "time": "...",
     "region": "...", "resources": [], "detail": {"payload": {"ChangeEventHeader": {...}, ...}}}

One envelope per request. `detail.payload` is read by the one CDC reader
(`change_events.payload_change_events`), in whichever form it comes. The org in `source` must be
the connected org. Whether `detail-type` names the event, and what else `detail` holds, are
UNCONFIRMED, so neither is relied on: the header says what the event is, and the event id comes
from its `transactionKey` and `sequenceNumber` (the envelope's `id` is not known to stay the same
across EventBridge's retries), else from a `replayId` in `detail`, else from that `id`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.db.connections import InboundSecrets
from app.inbound.change_events import ParsedChangeEvents, payload_change_events
from app.inbound.errors import InboundRejected
from app.inbound.json_payload import decode_json

SOURCE_PREFIX = "aws.partner/salesforce.com/"


class EnvelopeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payload: dict[str, Any]
    replayId: int | Annotated[str, Field(min_length=1, max_length=100)] | None = None


class EventBridgeEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    source: str = Field(max_length=300)
    detail: EnvelopeDetail


def _bad(message: str) -> InboundRejected:
    return InboundRejected(400, "bad_envelope", message)


def _envelope(body: bytes) -> EventBridgeEnvelope:
    document = decode_json(body)
    if not isinstance(document, dict):
        raise _bad("the body must be one EventBridge event (a JSON object), as an API destination sends it")
    try:
        return EventBridgeEnvelope.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:3]
        )
        raise _bad(f"not an EventBridge event with the change event in detail.payload ({problems})") from None


def source_org_id(source: str) -> str:
    """`aws.partner/salesforce.com/00D.../0YL...` -> `00D...`; 400 for any other source."""
    org_id, _, channel = source.removeprefix(SOURCE_PREFIX).partition("/")
    if not source.startswith(SOURCE_PREFIX) or not org_id or not channel:
        raise _bad(
            f"source {source[:80]!r} is not a Salesforce partner event source "
            f"({SOURCE_PREFIX}<orgId>/<channelId>)"
        )
    return org_id


def check_org(connection: InboundSecrets, org_id: str) -> None:
    """The event's org must be the connection's. Whether `source` holds the 15- or the
    18-character org id is not documented; the 15-character id is the same org when it equals the
    first 15 characters exactly (case counts: it is the case-sensitive form of the id)."""
    if org_id == connection.external_id or (len(org_id) == 15 and connection.external_id[:15] == org_id):
        return
    raise InboundRejected(
        403, "wrong_org", f"the event's source names org {org_id[:40]!r}, not the connected org"
    )


def _replay_id(envelope: EventBridgeEnvelope) -> int | str | None:
    """None when the header numbers the event (`transactionKey`, `sequenceNumber`): the event id
    then comes from them."""
    header = envelope.detail.payload.get("ChangeEventHeader")
    if isinstance(header, dict) and header.get("transactionKey") and header.get("sequenceNumber") is not None:
        return None
    return envelope.detail.replayId or f"eventbridge:{envelope.id}"


def parse_event_relay(
    body: bytes, *, connection: InboundSecrets, client_id: str, received_at: datetime | None = None
) -> ParsedChangeEvents:
    """Raises InboundRejected: 400 for a body that is no Event Relay event, 403 for another org's."""
    envelope = _envelope(body)
    check_org(connection, source_org_id(envelope.source))
    return payload_change_events(
        envelope.detail.payload,
        where="the event",
        replay_id=_replay_id(envelope),
        connection_id=str(connection.connection_id),
        client_id=client_id,
        received_at=received_at or datetime.now(UTC),
        via="event_relay",
    )
