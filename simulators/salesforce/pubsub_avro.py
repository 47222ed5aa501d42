"""Change events in the Pub/Sub API's form: an Avro schema per object and Avro binary bodies
(api-contracts A5 "Avro payloads", "Bitmap fields"; A2, C2).

- The schema is a record `<Object>ChangeEvent` in namespace `com.sforce.eventbus`, with a `uuid`
  attribute, `ChangeEventHeader` as field 0, then the object's fields in describe order: `Name`
  and the address as nested records (`["null", record]`), every body field an optional union
  with default null and a `doc` naming its type (`Data:DateTime`). `Id`, `IsDeleted`,
  `SystemModstamp` and calculated fields are not in it.
- Every field is present on every event. CREATE and UNDELETE carry the record's values; UPDATE
  carries the changed fields only, every other field null even when the record has a value (a
  compound with no changed component is null); DELETE and gap events carry nulls.
- `changedFields` and `nulledFields` are hex bitmaps: `0x...` over the top-level positions
  (ChangeEventHeader is bit 0), `P-0x...` over the components of the compound at position P.
- Date-times are epoch milliseconds, dates Avro `date` (days).
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import fastavro

from simulators.salesforce import schema, timefmt
from simulators.salesforce.event_log import LoggedEvent
from simulators.salesforce.schema import FieldDef, SObjectDef

_LEFT_OUT = {"Id", "IsDeleted", "SystemModstamp"}
_STRINGS = {"type": "array", "items": "string"}

HEADER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ChangeEventHeader",
    "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": _STRINGS},
        {
            "name": "changeType",
            "type": {
                "type": "enum",
                "name": "ChangeType",
                "namespace": "com.sforce.eventbus",
                "symbols": [
                    "CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                    "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT",
                ],
            },
        },
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": _STRINGS},
        {"name": "diffFields", "type": _STRINGS},
        {"name": "changedFields", "type": _STRINGS},
    ],
}  # fmt: skip


def _avro_type(definition: FieldDef) -> Any:
    if definition.type == "boolean":
        return "boolean"
    if definition.type == "datetime":
        return "long"
    if definition.type == "date":
        return {"type": "int", "logicalType": "date"}
    return "string"


def _scalar(definition: FieldDef, name: str | None = None) -> dict[str, Any]:
    kind = {"datetime": "DateTime", "date": "Date", "boolean": "Boolean"}.get(definition.type, "Text")
    return {
        "name": name or definition.name,
        "type": ["null", _avro_type(definition)],
        "doc": f"Data:{kind}",
        "default": None,
    }


@dataclass(frozen=True)
class Slot:
    """One top-level field of the schema: a plain field, or a compound with its components."""

    name: str
    field: FieldDef | None
    components: tuple[FieldDef, ...] = ()


def slots(sobject: SObjectDef) -> list[Slot]:
    """The body fields in schema order (position = index + 1: ChangeEventHeader is 0)."""
    found: list[Slot] = []
    for definition in sobject.fields:
        if definition.name in _LEFT_OUT or not definition.in_change_events or definition.compound:
            continue
        components = tuple(sobject.components(definition.name))
        if components:
            found.append(Slot(definition.name, None, components))
        elif not definition.calculated:
            found.append(Slot(definition.name, definition))
    return found


def schema_json(entity: str) -> str:
    sobject = schema.SOBJECTS[entity]
    header = {"name": "ChangeEventHeader", "type": HEADER_SCHEMA, "doc": "Data:Header"}
    fields: list[dict[str, Any]] = [header]
    for slot in slots(sobject):
        if slot.field is not None:
            fields.append(_scalar(slot.field))
            continue
        record = {
            "type": "record",
            "name": "Address" if slot.name.endswith("Address") else slot.name,
            "namespace": "com.sforce.eventbus",
            "fields": [_scalar(c, c.component) for c in slot.components],
        }
        fields.append({"name": slot.name, "type": ["null", record], "doc": "Data:Compound", "default": None})
    document = {
        "type": "record",
        "name": f"{entity}ChangeEvent",
        "namespace": "com.sforce.eventbus",
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sfgr-sim:{entity}")),
        "fields": fields,
    }
    return json.dumps(document)


def schema_id(entity: str) -> str:
    """Changes when the schema does (A5: the id changes with the object's fields)."""
    return hashlib.sha256(schema_json(entity).encode()).hexdigest()[:22]


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return timefmt.epoch_ms(value)
    if isinstance(value, date):
        return value
    return value


def _hex(bits: int) -> str:
    return f"0x{bits:X}"


def encode(event: LoggedEvent) -> bytes:
    """The event's Avro body, bitmaps in its header."""
    header = event.header
    entity = header["entityName"]
    kind = header["changeType"]
    changed = set(header["changedFields"])
    carries = kind in {"CREATE", "UNDELETE", "UPDATE"}
    record: dict[str, Any] = {}
    top_changed = top_nulled = 0
    nested: list[str] = []
    nested_nulled: list[str] = []
    for position, slot in enumerate(slots(schema.SOBJECTS[entity]), start=1):
        if slot.field is not None:
            is_changed = slot.name in changed
            shown = carries and (kind != "UPDATE" or is_changed)
            value = _wire(event.values.get(slot.name)) if shown else None
            record[slot.name] = value
            if kind == "UPDATE" and is_changed:
                top_changed |= 1 << position
                top_nulled |= (value is None) << position
            continue
        inner: dict[str, Any] = {}
        bits = nulled = 0
        for index, component in enumerate(slot.components):
            is_changed = f"{slot.name}.{component.component}" in changed
            shown = carries and (kind != "UPDATE" or is_changed)
            value = _wire(event.values.get(component.name)) if shown else None
            inner[str(component.component)] = value
            if kind == "UPDATE" and is_changed:
                bits |= 1 << index
                nulled |= (value is None) << index
        record[slot.name] = inner if (kind != "UPDATE" and carries) or bits else None
        if bits:
            nested.append(f"{position}-{_hex(bits)}")
        if nulled:
            nested_nulled.append(f"{position}-{_hex(nulled)}")
    record["ChangeEventHeader"] = {
        **header,
        "changeOrigin": header.get("changeOrigin") or "",
        "changedFields": ([_hex(top_changed)] if top_changed else []) + nested,
        "nulledFields": ([_hex(top_nulled)] if top_nulled else []) + nested_nulled,
        "diffFields": [],
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _parsed(entity), record)
    return out.getvalue()


_PARSED: dict[str, Any] = {}


def _parsed(entity: str) -> Any:
    if entity not in _PARSED:
        _PARSED[entity] = fastavro.parse_schema(json.loads(schema_json(entity)))
    return _PARSED[entity]
