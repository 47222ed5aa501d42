"""Change Data Capture events, as a relay forwards them in CometD JSON, into `ChangeEvent`s
(api-contracts A2, C2, C3).

A body is one CometD event `{"schema", "payload": {"ChangeEventHeader": {...}, ...}, "event":
{"replayId"}}`, a CometD message wrapping one in `data`, or a JSON array of either. Pub/Sub API
payloads (bitmap `changedFields` like `0x650004E0`) are refused here: their UPDATE bodies hold
every field, null when unchanged, which would read as nulls. The Pub/Sub subscriber decodes them
first (app/inbound/pubsub_events.py: Avro, bitmaps to names) and then comes through
`events_of_message` like a CometD event: one set of header and body rules for every transport.

Each record id of each event becomes one `ChangeEvent`:
- kind: CREATE -> created, UPDATE -> updated, DELETE -> deleted, UNDELETE -> undeleted; the gap
  events GAP_CREATE/UPDATE/DELETE/UNDELETE -> `reread` with `detail.reread = "record"`: they carry
  no data, the consumer reads the record itself;
- GAP_OVERFLOW (record id `000000000000000AAA`) and a wildcard record id such as `00Q*` name no
  record: `reread` with `detail.reread = "entity"`, keyed by that pseudo id: the consumer re-reads
  every record of `object_type` modified recently, up to `source_timestamp` (the commit);
- fields: compound fields are flattened (`Name.FirstName` -> `FirstName`, `Address.City` -> `City`,
  `MailingAddress.City` -> `MailingCity`); an UPDATE keeps only the fields in `changedFields`
  (which includes LastModifiedDate), with explicit nulls; a DELETE or gap carries none;
- event id: `cdc:<replayId>` (plus `:<recordId>` when the event names several records, so that
  each record's event stays distinct), else `cdc:<transactionKey>:<sequenceNumber>:<recordId>`;
- source timestamp: `commitTimestamp` (epoch ms); origin: `changeOrigin`.

An event whose `changeOrigin` names our own client id (`;client=<salesforce_client_id>`, from the
`Sforce-Call-Options` header of our writes) is our echo: counted, not published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.json_payload import decode_json
from app.inbound.timestamps import from_epoch_ms

OVERFLOW_RECORD_ID = "000000000000000AAA"
KINDS = {"CREATE": Kind.CREATED, "UPDATE": Kind.UPDATED, "DELETE": Kind.DELETED, "UNDELETE": Kind.UNDELETED}
GAP_TYPES = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE"})
OVERFLOW = "GAP_OVERFLOW"
_PUBSUB_BITMAP = re.compile(r"(?:\d+-)?0x[0-9A-Fa-f]+")
# A record id, or a key-prefix wildcard such as `00Q*` (A2, recordIds).
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?|[A-Za-z0-9]{3}\*")


class ChangeEventHeader(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entityName: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=80)
    recordIds: list[str] = Field(min_length=1)
    changeType: str
    changeOrigin: str | None = None
    transactionKey: str | None = Field(None, max_length=100)
    sequenceNumber: int | None = None
    commitTimestamp: int = Field(ge=0, le=253_402_300_799_999)  # up to the year 9999
    commitNumber: int | None = None
    commitUser: str | None = None
    changedFields: list[str] = Field(default_factory=list)
    nulledFields: list[str] = Field(default_factory=list)


class ReplayPosition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    replayId: int | None = None


class CometDEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payload: dict[str, Any]
    event: ReplayPosition | None = None


@dataclass(frozen=True)
class ParsedChangeEvents:
    events: list[ChangeEvent]
    echoes: int  # record events left out because our own write caused them


def is_our_echo(change_origin: str | None, client_id: str) -> bool:
    """`com/salesforce/api/rest/62.0;client=sfgr-sync` is ours when the `client` option equals our
    id exactly: `client=sfgr-sync-staging` or a `sfgr-sync` elsewhere in the string is not."""
    if not change_origin:
        return False
    _, *options = change_origin.split(";")
    for option in options:
        name, separator, value = option.partition("=")
        if separator and name.strip() == "client" and value == client_id:
            return True
    return False


def flat_field_name(compound: str, component: str) -> str:
    """The flat field of a compound's component: Lead `Address.City` is `City`, Contact
    `MailingAddress.City` is `MailingCity`, `Name.FirstName` is `FirstName` (A2 "Compound fields")."""
    prefix = compound.removesuffix("Address") if compound.endswith("Address") else ""
    return prefix + component


def flatten_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in payload.items():
        if name == "ChangeEventHeader":
            continue
        if isinstance(value, Mapping):
            for component, inner in value.items():
                fields[flat_field_name(name, component)] = inner
        else:
            fields[name] = value
    return fields


def flat_changed_fields(changed: list[str]) -> list[str]:
    names = [flat_field_name(*name.split(".", 1)) if "." in name else name for name in changed]
    return list(dict.fromkeys(names))


def _bad(message: str, reason: str = "bad_event") -> InboundRejected:
    return InboundRejected(400, reason, message)


def _items(document: Any) -> list[Any]:
    items = document if isinstance(document, list) else [document]
    unwrapped = []
    for item in items:
        # A relay may forward the whole CometD message: {"channel": "/data/...", "data": {event}}.
        if isinstance(item, dict) and "payload" not in item and isinstance(item.get("data"), dict):
            item = item["data"]
        unwrapped.append(item)
    return unwrapped


def _validated(item: Any, index: int) -> tuple[CometDEvent, ChangeEventHeader]:
    try:
        event = CometDEvent.model_validate(item)
        header = ChangeEventHeader.model_validate(event.payload.get("ChangeEventHeader"))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
            for error in exc.errors()[:3]
        )
        raise _bad(f"event {index} is not a CometD change event ({problems})") from None
    if any(_PUBSUB_BITMAP.fullmatch(name) for name in header.changedFields):
        raise _bad(
            f"event {index} carries Pub/Sub API bitmaps in changedFields; "
            "only CometD JSON events are accepted",
            "pubsub_payload",
        )
    return event, header


def _event_id(replay_id: int | None, header: ChangeEventHeader, record_id: str, index: int) -> str:
    if replay_id is not None:
        return f"cdc:{replay_id}" if len(header.recordIds) == 1 else f"cdc:{replay_id}:{record_id}"
    if header.transactionKey is None or header.sequenceNumber is None:
        raise _bad(f"event {index} has neither a replayId nor a transactionKey and sequenceNumber")
    return f"cdc:{header.transactionKey}:{header.sequenceNumber}:{record_id}"


def _kind_and_scope(header: ChangeEventHeader, record_id: str, index: int) -> tuple[Kind, str | None]:
    change_type = header.changeType
    if change_type in KINDS:
        if record_id.endswith("*"):
            return Kind.REREAD, "entity"
        return KINDS[change_type], None
    if change_type == OVERFLOW or (change_type in GAP_TYPES and record_id.endswith("*")):
        return Kind.REREAD, "entity"
    if change_type in GAP_TYPES:
        return Kind.REREAD, "record"
    raise _bad(f"event {index} has changeType {change_type[:40]!r}, which is not a change or gap event",
               "unknown_change_type")


@dataclass(frozen=True)
class ChangeMessage:
    """One CDC event, whatever carried it: its header, its body (compound fields nested, as both
    transports send them), and the transport's own position and extras."""

    header: ChangeEventHeader
    payload: Mapping[str, Any]
    replay_id: int | None = None  # CometD's numeric replayId; Pub/Sub ids are bytes (in `extra`)
    extra: Mapping[str, Any] = field(default_factory=dict)


def events_of_message(
    message: ChangeMessage, *, connection_id: str, client_id: str, received: datetime, index: int = 1
) -> list[ChangeEvent] | None:
    """The `ChangeEvent`s of one CDC event, one per record id; None when the event is our echo.
    Every transport goes through here, so the header and body rules live in one place."""
    header = message.header
    bad_ids = [r for r in header.recordIds if not _RECORD_ID.fullmatch(r)]
    if bad_ids:
        raise _bad(f"event {index} has record ids that are not Salesforce ids: {bad_ids[:3]!r:.120}")
    if is_our_echo(header.changeOrigin, client_id):
        return None
    changed = flat_changed_fields(header.changedFields)
    fields = flatten_fields(message.payload)
    if header.changeType == "UPDATE" and changed:
        fields = {name: value for name, value in fields.items() if name in changed}
    elif header.changeType not in {"CREATE", "UNDELETE", "UPDATE"}:
        fields = {}
    detail: dict[str, Any] = {"change_type": header.changeType}
    for key, value in (
        ("replay_id", message.replay_id), ("transaction_key", header.transactionKey),
        ("sequence_number", header.sequenceNumber), ("commit_number", header.commitNumber),
        ("commit_user", header.commitUser),
    ):
        if value is not None:
            detail[key] = value
    detail.update(message.extra)
    email = fields.get("Email")
    events = []
    for record_id in header.recordIds:
        kind, scope = _kind_and_scope(header, record_id, index)
        events.append(
            ChangeEvent(
                event_id=_event_id(message.replay_id, header, record_id, index),
                source=Source.SALESFORCE,
                transport=Transport.CHANGE_DATA_CAPTURE,
                kind=kind,
                connection_id=connection_id,
                object_type=header.entityName,
                record_id=record_id,
                email=email if isinstance(email, str) and email and scope is None else None,
                fields=dict(fields) if scope is None else {},
                changed_fields=changed if header.changeType == "UPDATE" else None,
                source_timestamp=from_epoch_ms(header.commitTimestamp),
                received_at=received,
                origin=header.changeOrigin or None,
                detail={**detail, "reread": scope} if scope else dict(detail),
            )
        )
    return events


def parse_change_events(
    body: bytes, *, connection_id: str, client_id: str, received_at: datetime | None = None
) -> ParsedChangeEvents:
    received = received_at or datetime.now(UTC)
    events: list[ChangeEvent] = []
    echoes = 0
    for index, item in enumerate(_items(decode_json(body)), start=1):
        cometd, header = _validated(item, index)
        message = ChangeMessage(header, cometd.payload, cometd.event.replayId if cometd.event else None)
        found = events_of_message(
            message, connection_id=connection_id, client_id=client_id, received=received, index=index
        )
        if found is None:
            echoes += len(header.recordIds)
        else:
            events.extend(found)
    return ParsedChangeEvents(events, echoes)
