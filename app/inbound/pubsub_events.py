"""Change Data Capture events as the Pub/Sub API delivers them (api-contracts A5, A2, C2): Avro
binary with a schema fetched by id, into the payload every way in shares, then through the one
reader of the CDC rules (change_events.payload_change_events).

What differs from CometD, and is undone here before the shared rules of change_events.py run:
- the payload is Avro: decoded with fastavro against the event's schema (attributes such as
  `uuid` and `doc` are ignored by the decoder);
- `changedFields`, `nulledFields` and `diffFields` are hex bitmaps over the schema's field
  positions: `0x650004E0` over the top-level fields (bit i is `fields[i]`, ChangeEventHeader is 0),
  `P-0xHH` over the fields of the record at top-level position P, reported as `Parent.Child`. A
  compound parent's own bit is left out: its components name what changed. Names are accepted as
  they are, should a list already hold names;
- every field is present on every event: on UPDATE an unchanged field is null, so only the
  changed (and nulled) fields count; on CREATE and UNDELETE a null is an empty field and is left
  out, as CometD leaves it out;
- date-times are epoch milliseconds (a `long` whose `doc` says DateTime, or named `...Date`):
  written back as `2024-05-01T10:00:00.000Z`, the CometD form, and Avro dates as `2024-05-01`.

The event id is `cdc:<transactionKey>:<sequenceNumber>:<recordId>`, which the header always holds
here, as other ways in name the same change; the opaque replay id travels in
`detail.pubsub_replay_id` (hex), never read as a number.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import fastavro

from app.inbound.change_events import ParsedChangeEvents, iso_from_epoch_ms, payload_change_events
from app.inbound.errors import InboundRejected

_BITMAP = re.compile(r"(?:(\d+)-)?0x([0-9A-Fa-f]+)")
_HEADER = "ChangeEventHeader"


@dataclass(frozen=True)
class AvroSchema:
    """One event schema, as `GetSchema` returns it: parsed once, cached by id by the caller."""

    schema_id: str
    fields: list[dict[str, Any]]  # the top-level fields in schema order (bitmap positions)
    parsed: Any  # fastavro's parsed form
    records: dict[str, list[dict[str, Any]]]  # named record types: their fields

    @classmethod
    def from_json(cls, schema_id: str, schema_json: str) -> AvroSchema:
        raw = json.loads(schema_json)
        is_record = isinstance(raw, dict) and raw.get("type") == "record"
        if not is_record or not isinstance(raw.get("fields"), list):
            raise ValueError(f"schema {schema_id} is not an Avro record schema")
        records: dict[str, list[dict[str, Any]]] = {}
        _collect_records(raw, records)
        return cls(schema_id, raw["fields"], fastavro.parse_schema(raw), records)

    def decode(self, payload: bytes) -> dict[str, Any]:
        record = fastavro.schemaless_reader(io.BytesIO(payload), self.parsed)
        if not isinstance(record, dict):
            raise ValueError(f"a payload of schema {self.schema_id} is not a record")
        return record

    def nested_fields(self, position: int) -> list[dict[str, Any]]:
        """The fields of the record at a top-level position (its union unwrapped); [] for a scalar."""
        return _record_fields(self.fields[position]["type"], self.records)


def _collect_records(node: Any, records: dict[str, list[dict[str, Any]]]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_records(item, records)
    elif isinstance(node, dict):
        if node.get("type") == "record" and isinstance(node.get("fields"), list):
            records[str(node.get("name"))] = node["fields"]
            records[f"{node.get('namespace')}.{node.get('name')}"] = node["fields"]
            for child in node["fields"]:
                _collect_records(child.get("type"), records)
        elif isinstance(node.get("type"), (dict, list)):
            _collect_records(node["type"], records)


def _record_fields(avro_type: Any, records: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    for option in avro_type if isinstance(avro_type, list) else [avro_type]:
        if isinstance(option, dict) and option.get("type") == "record":
            fields: list[dict[str, Any]] = option["fields"]
            return fields
        if isinstance(option, str) and option in records:
            return list(records[option])
    return []


def bitmap_names(schema: AvroSchema, entries: list[str]) -> list[str]:
    """Field names of a bitmap list (`['0x650004E0', '3-0x02']` -> [..., 'Name.LastName']); an
    entry that is not a bitmap is taken as a name. A compound record's own bit is dropped."""
    names: list[str] = []
    for entry in entries:
        match = _BITMAP.fullmatch(entry)
        if match is None:
            names.append(entry)
            continue
        parent, bits = match.group(1), int(match.group(2), 16)
        if parent is None:
            for position, avro_field in enumerate(schema.fields):
                if bits >> position & 1 and position > 0 and not schema.nested_fields(position):
                    names.append(avro_field["name"])
            if bits >> len(schema.fields):
                raise ValueError(f"bitmap {entry} names a field beyond the schema's {len(schema.fields)}")
            continue
        position = int(parent)
        if not 0 < position < len(schema.fields) or not schema.nested_fields(position):
            raise ValueError(f"bitmap {entry} names position {position}, which is not a compound field")
        children = schema.nested_fields(position)
        if bits >> len(children):
            raise ValueError(f"bitmap {entry} names a field beyond the {len(children)} of its record")
        parent_name = schema.fields[position]["name"]
        names.extend(f"{parent_name}.{child['name']}" for i, child in enumerate(children) if bits >> i & 1)
    return list(dict.fromkeys(names))


def _is_datetime(avro_field: Mapping[str, Any]) -> bool:
    doc = str(avro_field.get("doc") or "")
    return doc.endswith("DateTime") or (not doc and str(avro_field.get("name", "")).endswith("Date"))


def _iso(value: Any, avro_field: Mapping[str, Any]) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and _is_datetime(avro_field):
        return iso_from_epoch_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _body(schema: AvroSchema, record: Mapping[str, Any], *, keep_nulls: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for position, avro_field in enumerate(schema.fields):
        name = avro_field["name"]
        if position == 0 or name == _HEADER:
            continue
        value = record.get(name)
        children = schema.nested_fields(position)
        if children and isinstance(value, Mapping):
            inner = {c["name"]: _iso(value.get(c["name"]), c) for c in children}
            inner = {k: v for k, v in inner.items() if keep_nulls or v is not None}
            if inner:
                body[name] = inner
        elif value is not None or (keep_nulls and not children):
            body[name] = _iso(value, avro_field)
    return body


def pubsub_payload(schema: AvroSchema, payload: bytes) -> dict[str, Any]:
    """The event as every other way in holds it: `{"ChangeEventHeader": {...}, ...fields}`, with
    field names for bitmaps and ISO date-times. Raises InboundRejected(400) for an event that
    cannot be read against its schema."""
    try:
        record = schema.decode(payload)
        header = dict(record[_HEADER])
        changed = bitmap_names(schema, list(header.get("changedFields") or []))
        nulled = bitmap_names(schema, list(header.get("nulledFields") or []))
        header["changedFields"] = list(dict.fromkeys(changed + nulled))
        header["nulledFields"] = nulled
        header["diffFields"] = bitmap_names(schema, list(header.get("diffFields") or []))
    except (ValueError, KeyError, TypeError, EOFError) as exc:
        problem = f"a Pub/Sub event of schema {schema.schema_id} cannot be read: {exc}"
        raise InboundRejected(400, "bad_pubsub_event", problem[:500]) from None
    # An UPDATE's unchanged fields are null: kept here, the shared rules keep only the changed ones.
    keep_nulls = header.get("changeType") == "UPDATE" and bool(header["changedFields"])
    return {_HEADER: header, **_body(schema, record, keep_nulls=keep_nulls)}


def pubsub_change_events(
    schema: AvroSchema,
    payload: bytes,
    replay_id: bytes,
    *,
    connection_id: str,
    client_id: str,
    received_at: datetime,
) -> ParsedChangeEvents:
    """One Pub/Sub event through the shared CDC rules; its replay id (hex) and schema id in each
    event's `detail`."""
    parsed = payload_change_events(
        pubsub_payload(schema, payload),
        where=f"Pub/Sub event {replay_id.hex()}",
        replay_id=None,  # ids from transactionKey and sequenceNumber, whatever transport carried them
        connection_id=connection_id,
        client_id=client_id,
        received_at=received_at,
        via="pubsub",
    )
    extra = {"pubsub_replay_id": replay_id.hex(), "schema_id": schema.schema_id}
    events = [e.model_copy(update={"detail": {**e.detail, **extra}}) for e in parsed.events]
    return ParsedChangeEvents(events, parsed.echoes)
