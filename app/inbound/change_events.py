"""Change Data Capture events into `ChangeEvent`s: the one reader of the CDC header and body rules
(api-contracts A2, A6, C2, C3), shared by every way change events arrive.

`payload_change_events` reads one event payload (`{"ChangeEventHeader": {...}, ...fields}`), as
every way in holds it (the CometD relay endpoint, the Event Relay endpoint, a Pub/Sub API client);
`parse_change_events` reads the CometD relay's body: one CometD event `{"schema", "payload",
"event": {"replayId"}}`, a CometD message wrapping one in `data`, or a JSON array of either.

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
- source timestamp: `commitTimestamp` (epoch ms, or an ISO date-time); origin: `changeOrigin`.

Both forms a payload may take are read (A2 "Body contents by operation"; A6 leaves the choice
UNCONFIRMED for Event Relay): field names or hex bitmaps in `changedFields`/`nulledFields`, and
date-times as ISO strings or epoch milliseconds. What cannot be read for certain is never guessed:
the event becomes a `reread` of its records (`detail.unreadable` says why), and the consumer reads
the record itself. That is the case for
- bitmaps (`0x650004E0`, `4-0x10`), which only the event's Avro schema can decode (a caller that
  holds the schema decodes them into names before calling this module);
- `diffFields`: those values are text diffs, not values;
- an UPDATE without `changedFields` that holds a null: in CometD form a null is a field cleared, in
  Pub/Sub form a field unchanged;
- a whole number in a payload whose date-times are epoch ms (or cannot be told apart): it may be a
  date-time or a number. `CreatedDate` and `LastModifiedDate` are date-times on every object, so
  in epoch form they are rewritten to the ISO form CometD uses.

An event whose `changeOrigin` names our own client id (`;client=<salesforce_client_id>`, from the
`Sforce-Call-Options` header of our writes) is our echo: counted, not published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.json_payload import decode_json
from app.inbound.timestamps import from_epoch_ms, parse_vendor_datetime

OVERFLOW_RECORD_ID = "000000000000000AAA"
KINDS = {"CREATE": Kind.CREATED, "UPDATE": Kind.UPDATED, "DELETE": Kind.DELETED, "UNDELETE": Kind.UNDELETED}
GAP_TYPES = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE"})
OVERFLOW = "GAP_OVERFLOW"
# The date-time fields of every object; a change event's other date-times depend on the object.
SYSTEM_DATETIMES = ("CreatedDate", "LastModifiedDate")
_BITMAP = re.compile(r"(?:\d+-)?0x[0-9A-Fa-f]+")
# A record id, or a key-prefix wildcard such as `00Q*` (A2, recordIds).
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?|[A-Za-z0-9]{3}\*")
_LATEST_MS = 253_402_300_799_999  # the end of the year 9999


class ChangeEventHeader(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entityName: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=80)
    recordIds: list[str] = Field(min_length=1)
    changeType: str
    changeOrigin: str | None = None
    transactionKey: str | None = Field(None, max_length=100)
    sequenceNumber: int | None = None
    commitTimestamp: int = Field(ge=0, le=_LATEST_MS)  # epoch ms; an ISO date-time is read into it
    commitNumber: int | None = None
    commitUser: str | None = None
    changedFields: list[str] = Field(default_factory=list)
    nulledFields: list[str] = Field(default_factory=list)
    diffFields: list[str] = Field(default_factory=list)

    @field_validator("commitTimestamp", mode="before")
    @classmethod
    def _epoch_ms(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().isdigit():
            return int(parse_vendor_datetime(value).timestamp() * 1000)
        return value


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


def iso_from_epoch_ms(value: int) -> str:
    """`1714557600000` -> `2024-05-01T10:00:00.000Z`, the form CometD sends (A2)."""
    return from_epoch_ms(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value % 1000:03d}Z"


def _bad(message: str, reason: str = "bad_event") -> InboundRejected:
    return InboundRejected(400, reason, message)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
        for error in exc.errors()[:3]
    )


def _items(document: Any) -> list[Any]:
    items = document if isinstance(document, list) else [document]
    unwrapped = []
    for item in items:
        # A relay may forward the whole CometD message: {"channel": "/data/...", "data": {event}}.
        if isinstance(item, dict) and "payload" not in item and isinstance(item.get("data"), dict):
            item = item["data"]
        unwrapped.append(item)
    return unwrapped


def _header(payload: Mapping[str, Any], where: str) -> ChangeEventHeader:
    try:
        header = ChangeEventHeader.model_validate(payload.get("ChangeEventHeader"))
    except ValidationError as exc:
        raise _bad(f"{where} is not a change event (ChangeEventHeader: {_problems(exc)})") from None
    bad_ids = [r for r in header.recordIds if not _RECORD_ID.fullmatch(r)]
    if bad_ids:
        raise _bad(f"{where} has record ids that are not Salesforce ids: {bad_ids[:3]!r:.120}")
    return header


def _event_id(replay_id: int | str | None, header: ChangeEventHeader, record_id: str, where: str) -> str:
    if replay_id is not None:
        return f"cdc:{replay_id}" if len(header.recordIds) == 1 else f"cdc:{replay_id}:{record_id}"
    if header.transactionKey is None or header.sequenceNumber is None:
        raise _bad(f"{where} has neither a replayId nor a transactionKey and sequenceNumber")
    return f"cdc:{header.transactionKey}:{header.sequenceNumber}:{record_id}"


def _kind_and_scope(header: ChangeEventHeader, record_id: str, where: str) -> tuple[Kind, str | None]:
    change_type = header.changeType
    if change_type in KINDS:
        if record_id.endswith("*"):
            return Kind.REREAD, "entity"
        return KINDS[change_type], None
    if change_type == OVERFLOW or (change_type in GAP_TYPES and record_id.endswith("*")):
        return Kind.REREAD, "entity"
    if change_type in GAP_TYPES:
        return Kind.REREAD, "record"
    raise _bad(f"{where} has changeType {change_type[:40]!r}, which is not a change or gap event",
               "unknown_change_type")


def _datetimes_in_epoch_ms(fields: Mapping[str, Any]) -> bool | None:
    """Whether the payload's date-times are epoch ms (True) or ISO strings (False), as its system
    date-times show; None when it carries none to tell by."""
    for name in SYSTEM_DATETIMES:
        value = fields.get(name)
        if isinstance(value, str):
            return False
        if isinstance(value, int) and not isinstance(value, bool):
            return True
    return None


def _whole_numbers(fields: Mapping[str, Any]) -> list[str]:
    return [name for name, value in fields.items()
            if isinstance(value, int) and not isinstance(value, bool) and name not in SYSTEM_DATETIMES]


def _readable_fields(
    header: ChangeEventHeader, payload: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The fields the event carries for certain (see the module's docstring), with date-times in
    ISO form; or why they cannot be read."""
    change_type = header.changeType
    if change_type not in {"CREATE", "UNDELETE", "UPDATE"}:
        return {}, None
    if any(_BITMAP.fullmatch(n) for n in (*header.changedFields, *header.nulledFields, *header.diffFields)):
        return {}, "changedFields or nulledFields are bitmaps, which only the event's Avro schema decodes"
    if header.diffFields:
        return {}, f"diffFields {header.diffFields[:3]!r:.80} hold text diffs, not values"
    fields = flatten_fields(payload)
    if change_type == "UPDATE":
        changed = flat_changed_fields(header.changedFields)
        if changed:
            fields = {name: value for name, value in fields.items() if name in changed}
        elif any(value is None for value in fields.values()):
            return {}, "an UPDATE without changedFields holds nulls: cleared or unchanged cannot be told"
    in_epoch_ms = _datetimes_in_epoch_ms(fields)
    if in_epoch_ms is not False:
        numbers = _whole_numbers(fields)
        if numbers:
            return {}, f"{numbers[:3]!r:.80} may be epoch-ms date-times or numbers"
    for name in SYSTEM_DATETIMES:
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LATEST_MS:
            fields[name] = iso_from_epoch_ms(value)
    return fields, None


def payload_change_events(
    payload: Mapping[str, Any],
    *,
    where: str,
    replay_id: int | str | None,
    connection_id: str,
    client_id: str,
    received_at: datetime,
    via: str,
) -> ParsedChangeEvents:
    """One change event payload (`{"ChangeEventHeader": {...}, ...fields}`), one `ChangeEvent` per
    record id. `where` names the event in a 400's message ("event 2"); `replay_id` is the event's
    position in its channel, when the transport gives one (opaque: only its text is used); `via`
    the way it came (`cometd_relay`, `event_relay`, `pubsub`), kept in `detail.via` for the
    propagation metric's `path`."""
    header = _header(payload, where)
    if is_our_echo(header.changeOrigin, client_id):
        return ParsedChangeEvents([], len(header.recordIds))
    fields, unreadable = _readable_fields(header, payload)
    detail: dict[str, Any] = {"change_type": header.changeType, "via": via}
    for key, value in (
        ("replay_id", replay_id), ("transaction_key", header.transactionKey),
        ("sequence_number", header.sequenceNumber), ("commit_number", header.commitNumber),
        ("commit_user", header.commitUser), ("unreadable", unreadable),
    ):
        if value is not None:
            detail[key] = value
    changed = flat_changed_fields(header.changedFields) if header.changeType == "UPDATE" else None
    email = fields.get("Email")
    events = []
    for record_id in header.recordIds:
        kind, scope = _kind_and_scope(header, record_id, where)
        if unreadable and scope is None:
            kind, scope = Kind.REREAD, "record"
        events.append(
            ChangeEvent(
                event_id=_event_id(replay_id, header, record_id, where),
                source=Source.SALESFORCE,
                transport=Transport.CHANGE_DATA_CAPTURE,
                kind=kind,
                connection_id=connection_id,
                object_type=header.entityName,
                record_id=record_id,
                email=email if isinstance(email, str) and email and scope is None else None,
                fields=dict(fields) if scope is None else {},
                changed_fields=changed if scope is None else None,
                source_timestamp=from_epoch_ms(header.commitTimestamp),
                received_at=received_at,
                origin=header.changeOrigin or None,
                detail={**detail, "reread": scope} if scope else dict(detail),
            )
        )
    return ParsedChangeEvents(events, 0)


def parse_change_events(
    body: bytes, *, connection_id: str, client_id: str, received_at: datetime | None = None
) -> ParsedChangeEvents:
    """The CometD relay's body (see the module's docstring); raises InboundRejected(400)."""
    received = received_at or datetime.now(UTC)
    events: list[ChangeEvent] = []
    echoes = 0
    for index, item in enumerate(_items(decode_json(body)), start=1):
        try:
            cometd = CometDEvent.model_validate(item)
        except ValidationError as exc:
            raise _bad(f"event {index} is not a CometD change event ({_problems(exc)})") from None
        parsed = payload_change_events(
            cometd.payload, where=f"event {index}", replay_id=cometd.event.replayId if cometd.event else None,
            connection_id=connection_id, client_id=client_id, received_at=received, via="cometd_relay",
        )
        events.extend(parsed.events)
        echoes += parsed.echoes
    return ParsedChangeEvents(events, echoes)
