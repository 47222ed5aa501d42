"""POST /v1/salesforce/change-events: signed CometD events from the relay, published per record
(api-contracts A2, C2, C3)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.metrics import INBOUND_IGNORED
from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, published
from tests.unit.inbound.payloads import OVERFLOW_RECORD_ID, cdc_event, json_body, new_id, sign

URL = "/v1/salesforce/change-events"


async def post(api: Api, connected: Connected, document: Any, *, secret: str | None = None,
               timestamp: int | None = None, headers: dict[str, str] | None = None,
               body: bytes | None = None, content_type: str = "application/json") -> httpx.Response:
    raw = json_body(document) if body is None else body
    signature = sign(secret or connected.change_events_secret, raw, timestamp)
    return await api.client.post(URL, content=raw, headers=headers if headers is not None else {
        "Content-Type": content_type, "X-Sfgr-Signature": signature})


def ok(response: httpx.Response, published_count: int, ignored: int = 0) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "OK", "published": published_count, "ignored": ignored}


async def test_a_create_with_a_nested_name_is_published_flat(api: Api, connected: Connected) -> None:
    lead = new_id("00Q")
    response = await post(api, connected, [cdc_event("Lead", "CREATE", [lead], {
        "Name": {"Salutation": "Ms.", "FirstName": "Zoë", "LastName": "Lee"}, "Email": "zoe@example.com",
        "Company": "Acme", "LastModifiedDate": "2024-05-01T10:00:00.000Z"}, replay_id=1001)])

    ok(response, 1)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert message.key == lead
    assert message.headers["event_id"] == "cdc:1001"
    assert message.headers["request_id"] == response.headers["x-request-id"]
    assert message.event.model_dump(mode="json", exclude={"received_at"}) == {
        "schema_version": 1, "event_id": "cdc:1001", "source": "salesforce", "transport": "change_data_capture",
        "kind": "created", "connection_id": connected.salesforce_connection_id, "sync_id": None,
        "object_type": "Lead", "record_id": lead, "campaign_id": None, "email": "zoe@example.com",
        "fields": {"Salutation": "Ms.", "FirstName": "Zoë", "LastName": "Lee", "Email": "zoe@example.com",
                   "Company": "Acme", "LastModifiedDate": "2024-05-01T10:00:00.000Z"},
        "changed_fields": None, "source_timestamp": "2024-05-01T10:00:00Z", "origin": None,
        "detail": {"change_type": "CREATE", "via": "cometd_relay", "replay_id": 1001, "transaction_key": "0002a1b2-0000-0000-0000-000000000000",
                   "sequence_number": 1, "commit_number": 10924536284919, "commit_user": "0055g00000SfGrUAAV"},
    }


async def test_an_update_publishes_only_the_changed_fields(api: Api, connected: Connected) -> None:
    contact = new_id("003")
    response = await post(api, connected, cdc_event("Contact", "UPDATE", [contact], {
        "Name": {"LastName": "Nowak"}, "MobilePhone": None, "LastModifiedDate": "2024-05-01T10:00:00.000Z"},
        changed_fields=["Name.LastName", "MobilePhone", "LastModifiedDate"],
        origin="com/salesforce/api/rest/62.0;client=someone-else", replay_id=1002))

    ok(response, 1)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    event = message.event
    assert (event.kind, event.record_id, event.object_type) == ("updated", contact, "Contact")
    assert event.fields == {"LastName": "Nowak", "MobilePhone": None, "LastModifiedDate": "2024-05-01T10:00:00.000Z"}
    assert event.changed_fields == ["LastName", "MobilePhone", "LastModifiedDate"]
    assert event.origin == "com/salesforce/api/rest/62.0;client=someone-else"


async def test_delete_and_undelete_are_published_in_commit_order(api: Api, connected: Connected) -> None:
    lead = new_id("00Q")
    response = await post(api, connected, [
        cdc_event("Lead", "DELETE", [lead], replay_id=2001, sequence=1),
        cdc_event("Lead", "UNDELETE", [lead], {"Email": "back@example.com", "Name": {"LastName": "Back"}},
                  replay_id=2003, sequence=2),
    ])

    ok(response, 2)
    messages = await published(api.settings, api.topics.salesforce_changes)
    assert [(m.key, m.event.kind, m.event.event_id, m.event.fields) for m in messages] == [
        (lead, "deleted", "cdc:2001", {}),
        (lead, "undeleted", "cdc:2003", {"Email": "back@example.com", "LastName": "Back"}),
    ]


async def test_gap_and_overflow_events_ask_for_rereads(api: Api, connected: Connected) -> None:
    lead = new_id("00Q")
    response = await post(api, connected, [
        cdc_event("Lead", "GAP_UPDATE", [lead], replay_id=3001),
        cdc_event("Contact", "GAP_OVERFLOW", [OVERFLOW_RECORD_ID], replay_id=3002),
    ])

    ok(response, 2)
    by_key = {m.key: m.event for m in await published(api.settings, api.topics.salesforce_changes)}
    assert (by_key[lead].kind, by_key[lead].detail["reread"], by_key[lead].fields) == ("reread", "record", {})
    overflow = by_key[OVERFLOW_RECORD_ID]
    assert (overflow.kind, overflow.object_type, overflow.detail["reread"]) == ("reread", "Contact", "entity")
    assert overflow.detail["change_type"] == "GAP_OVERFLOW"


async def test_one_event_for_several_records_is_published_once_per_record(api: Api, connected: Connected) -> None:
    leads = [new_id("00Q") for _ in range(3)]
    response = await post(api, connected, cdc_event("Lead", "UPDATE", leads, {"Status": "Working"},
                                                    changed_fields=["Status"], replay_id=4001))

    ok(response, 3)
    messages = await published(api.settings, api.topics.salesforce_changes)
    assert sorted((m.key, m.headers["event_id"]) for m in messages) == sorted((r, f"cdc:4001:{r}") for r in leads)


async def test_echoes_of_our_own_writes_are_counted_and_not_published(api: Api, connected: Connected) -> None:
    before = INBOUND_IGNORED.labels("salesforce_change_events", "echo")._value.get()
    theirs = new_id("00Q")
    response = await post(api, connected, [
        cdc_event("Lead", "UPDATE", [new_id("00Q")], {"Email": "a@example.com"}, changed_fields=["Email"],
                  origin=f"com/salesforce/api/rest/62.0;client={api.settings.salesforce_client_id}", replay_id=5001),
        cdc_event("Lead", "UPDATE", [theirs], {"Email": "b@example.com"}, changed_fields=["Email"],
                  origin=f"com/salesforce/api/rest/62.0;client={api.settings.salesforce_client_id}-other",
                  replay_id=5002),
    ])

    ok(response, 1, ignored=1)
    assert [m.key for m in await published(api.settings, api.topics.salesforce_changes)] == [theirs]
    assert INBOUND_IGNORED.labels("salesforce_change_events", "echo")._value.get() == before + 1


REFUSED = [
    # (case id, request tweak, status, words)
    ("invalid-json", {"body": b'{"payload": '}, 400, "not valid JSON"),
    ("not-cometd", {"body": b'{"hello": "world"}'}, 400, "not a CometD change event"),
    ("missing-signature", {"headers": {"Content-Type": "application/json"}}, 401, "missing"),
    ("malformed-signature", {"headers": {"Content-Type": "application/json", "X-Sfgr-Signature": "sha256=abc"}},
     401, "malformed"),
    # Offsets from the moment the request is made, not from when this module was imported: in a
    # full run that can be many minutes earlier.
    ("expired-signature", {"timestamp_offset": -301}, 401, "old"),
    ("future-signature", {"timestamp_offset": 400}, 401, "future"),
    ("forged-signature", {"secret": "not-the-relay-secret"}, 401, "does not match"),
    ("xml-content-type", {"content_type": "text/xml"}, 415, "application/json"),
    ("oversize", {"body": b" " * (MAX_BODY_BYTES + 1)}, 413, "larger than the limit"),
]


@pytest.mark.parametrize(("tweak", "status", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_requests_say_why_and_nothing_reaches_kafka(
    api: Api, connected: Connected, tweak: dict[str, Any], status: int, words: str
) -> None:
    tweak = dict(tweak)
    if "timestamp_offset" in tweak:
        tweak["timestamp"] = int(time.time()) + tweak.pop("timestamp_offset")
    response = await post(api, connected, cdc_event("Lead", "DELETE", [new_id("00Q")]), **tweak)

    assert response.status_code == status
    body = response.json()
    assert body["status"] == "ERROR"
    assert words in body["message"]
    assert await published(api.settings, api.topics.salesforce_changes) == []


async def test_json_with_a_charset_parameter_is_accepted(api: Api, connected: Connected) -> None:
    raw = json_body(cdc_event("Lead", "DELETE", [new_id("00Q")]))
    response = await api.client.post(URL, content=raw, headers={
        "Content-Type": "application/json; charset=utf-8", "X-Sfgr-Signature": sign(connected.change_events_secret, raw)})
    ok(response, 1)
