"""Pub/Sub API events into change events (api-contracts A5 "Bitmap fields", "Avro payloads"; C2)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from app.domain.events import ChangeEvent
from app.inbound.errors import InboundRejected
from app.inbound.pubsub_events import AvroSchema, bitmap_names, pubsub_change_events, pubsub_payload

_STRINGS = {"type": "array", "items": "string"}
HEADER = {
    "type": "record", "name": "ChangeEventHeader", "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"}, {"name": "recordIds", "type": _STRINGS},
        {"name": "changeType", "type": "string"}, {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"}, {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"}, {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"}, {"name": "nulledFields", "type": _STRINGS},
        {"name": "diffFields", "type": _STRINGS}, {"name": "changedFields", "type": _STRINGS},
    ],
}  # fmt: skip
NAME = {
    "type": "record", "name": "Name", "fields": [
        {"name": "Salutation", "type": ["null", "string"], "default": None},
        {"name": "FirstName", "type": ["null", "string"], "default": None},
        {"name": "LastName", "type": ["null", "string"], "default": None},
    ],
}  # fmt: skip
FIELDS = ["Name", "Email", "Phone", "Company", "LastModifiedDate"]


def _schema(extra: int = 0) -> AvroSchema:
    fields: list[dict[str, Any]] = [{"name": "ChangeEventHeader", "type": HEADER}]
    fields.append({"name": "Name", "type": ["null", NAME], "default": None, "uuid": "x"})
    for name in FIELDS[1:-1]:
        fields.append({"name": name, "type": ["null", "string"], "default": None, "doc": "Data:Text"})
    fields.append({"name": "LastModifiedDate", "type": ["null", "long"], "default": None, "doc": "Data:DateTime"})
    fields += [{"name": f"F{i}__c", "type": ["null", "string"], "default": None} for i in range(extra)]
    document = {"type": "record", "name": "LeadChangeEvent", "namespace": "com.sforce.eventbus",
                "uuid": "abc", "doc": "ignored", "fields": fields}
    return AvroSchema.from_json("sch1", json.dumps(document))


def _payload(schema: AvroSchema, header: dict[str, Any], **body: Any) -> bytes:
    record = {f["name"]: None for f in schema.fields} | body
    record["ChangeEventHeader"] = {
        "entityName": "Lead", "recordIds": ["00Q5g00000AbCdEAAZ"], "changeOrigin": "", "transactionKey": "tx1",
        "sequenceNumber": 1, "commitTimestamp": 1_696_444_513_000, "commitNumber": 1, "commitUser": "0055g00000SfGrUAAV",
        "nulledFields": [], "diffFields": [], "changedFields": [], **header,
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, record)
    return out.getvalue()


def _events(schema: AvroSchema, payload: bytes, replay_id: bytes = b"r") -> list[ChangeEvent]:
    parsed = pubsub_change_events(schema, payload, replay_id, connection_id="c", client_id="sfgr-sync",
                                  received_at=datetime.now(UTC))
    return parsed.events


def test_the_contracts_example_bitmap_names_its_eight_positions() -> None:
    schema = _schema(extra=26)  # 31 fields: positions up to 30
    names = bitmap_names(schema, ["0x650004E0"])
    positions = [i for i, f in enumerate(schema.fields) if f["name"] in names]
    assert positions == [5, 6, 7, 10, 24, 26, 29, 30]


def test_a_nested_bitmap_names_the_compound_component_and_the_compound_bit_itself_is_dropped() -> None:
    schema = _schema()
    assert bitmap_names(schema, ["0x6", "1-0x04"]) == ["Email", "Name.LastName"]  # bit 1 (Name) left out


@pytest.mark.parametrize("entries", [["0x80"], ["2-0x1"], ["1-0x08"]])
def test_a_bitmap_beyond_the_schema_is_refused(entries: list[str]) -> None:
    with pytest.raises(ValueError):
        bitmap_names(_schema(), entries)


def test_an_update_keeps_only_changed_fields_with_explicit_nulls_never_an_unchanged_null() -> None:
    schema = _schema()
    payload = _payload(
        schema,
        {"changeType": "UPDATE", "changedFields": ["0x2C", "1-0x04"], "nulledFields": ["0x8"]},
        Name={"Salutation": None, "FirstName": None, "LastName": "Lee"}, Phone=None, Company=None,
        Email="new@example.com", LastModifiedDate=1_696_444_513_000,
    )
    # Changed: Email (2), Phone (3, set to null), LastModifiedDate (5), Name.LastName; Company (4) is
    # null only because it did not change.
    [event] = _events(schema, payload, b"\x00\x01replay")
    assert event.kind == "updated"
    assert event.fields == {"LastName": "Lee", "Email": "new@example.com", "Phone": None,
                            "LastModifiedDate": "2023-10-04T18:35:13.000Z"}
    assert "Company" not in event.fields and "FirstName" not in event.fields
    assert event.event_id == "cdc:tx1:1:00Q5g00000AbCdEAAZ" and event.detail["pubsub_replay_id"] == "0001" + b"replay".hex()


def test_a_create_leaves_out_empty_fields_as_cometd_does() -> None:
    schema = _schema()
    payload = _payload(schema, {"changeType": "CREATE"}, Name={"Salutation": None, "FirstName": "Pat", "LastName": "Lee"},
                       Email="pat@example.com")
    [event] = _events(schema, payload)
    assert event.fields == {"FirstName": "Pat", "LastName": "Lee", "Email": "pat@example.com"}
    assert event.email == "pat@example.com"


def test_our_own_change_is_an_echo() -> None:
    schema = _schema()
    payload = _payload(schema, {"changeType": "UPDATE", "changedFields": ["0x4"],
                                "changeOrigin": "com/salesforce/api/rest/62.0;client=sfgr-sync"}, Email="a@b.c")
    assert _events(schema, payload) == []


def test_a_payload_that_does_not_match_its_schema_is_refused_not_guessed() -> None:
    with pytest.raises(InboundRejected) as refused:
        pubsub_payload(_schema(), b"\x01\x02")
    assert refused.value.status == 400
