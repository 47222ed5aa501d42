"""POST /v1/salesforce/event-relay: change events relayed by Salesforce to EventBridge and POSTed by
its API destination with the connection's key in a header (api-contracts A6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.metrics import INBOUND_IGNORED
from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, published, running_api
from tests.unit.inbound.payloads import cdc_event, event_relay_envelope, json_body, new_id

URL = "/v1/salesforce/event-relay"
KEY_HEADER = "X-Sfgr-Api-Key"


async def post(api: Api, connected: Connected, event: dict[str, Any], *, org_id: str | None = None,
               headers: dict[str, str] | None = None, body: bytes | None = None) -> httpx.Response:
    raw = json_body(event_relay_envelope(event, org_id=org_id or connected.org_id)) if body is None else body
    return await api.client.post(URL, content=raw, headers=headers if headers is not None else {
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Amazon/EventBridge/ApiDestinations",
        KEY_HEADER: connected.event_relay_key})


def ok(response: httpx.Response, published_count: int, ignored: int = 0) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "OK", "published": published_count, "ignored": ignored}


async def test_a_create_is_published_flat_with_an_id_from_its_transaction(api: Api, connected: Connected) -> None:
    lead = new_id("00Q")
    response = await post(api, connected, cdc_event("Lead", "CREATE", [lead], {
        "Name": {"FirstName": "Zoë", "LastName": "Lee"}, "Email": "zoe@example.com", "Company": "Acme",
        "LastModifiedDate": "2024-05-01T10:00:00.000Z"}, transaction_key="tx-9", sequence=2))

    ok(response, 1)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    event = message.event
    assert message.key == lead
    assert (event.event_id, event.kind, event.transport, event.object_type) == (
        f"cdc:tx-9:2:{lead}", "created", "change_data_capture", "Lead")
    assert event.connection_id == connected.salesforce_connection_id
    assert event.fields == {"FirstName": "Zoë", "LastName": "Lee", "Email": "zoe@example.com", "Company": "Acme",
                            "LastModifiedDate": "2024-05-01T10:00:00.000Z"}
    assert message.headers["request_id"] == response.headers["x-request-id"]


async def test_an_update_in_pubsub_form_with_names_publishes_only_its_changed_fields(
    api: Api, connected: Connected
) -> None:
    contact = new_id("003")
    response = await post(api, connected, cdc_event("Contact", "UPDATE", [contact], {
        "Name": {"FirstName": None, "LastName": "Nowak"}, "Email": None, "Phone": None,
        "LastModifiedDate": 1714557600000}, changed_fields=["Name.LastName", "Phone", "LastModifiedDate"]))

    ok(response, 1)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert message.event.kind == "updated"
    assert message.event.fields == {"LastName": "Nowak", "Phone": None, "LastModifiedDate": "2024-05-01T10:00:00.000Z"}


async def test_an_update_with_bitmaps_becomes_a_reread_of_the_record(api: Api, connected: Connected) -> None:
    lead = new_id("00Q")
    response = await post(api, connected, cdc_event("Lead", "UPDATE", [lead], {"Email": None, "Company": "Acme"},
                                                    changed_fields=["0x650004E0", "4-0x10"]))

    ok(response, 1)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert (message.key, message.event.kind, message.event.fields) == (lead, "reread", {})
    assert message.event.detail["reread"] == "record"
    assert "bitmaps" in message.event.detail["unreadable"]


async def test_an_event_of_the_org_by_its_15_character_id_is_accepted(api: Api, connected: Connected) -> None:
    response = await post(api, connected, cdc_event("Lead", "DELETE", [new_id("00Q")]), org_id=connected.org_id[:15])
    ok(response, 1)


async def test_our_own_echo_is_counted_and_not_published(api: Api, connected: Connected) -> None:
    before = INBOUND_IGNORED.labels("salesforce_event_relay", "echo")._value.get()
    response = await post(api, connected, cdc_event(
        "Lead", "UPDATE", [new_id("00Q")], {"Email": "a@example.com"}, changed_fields=["Email"],
        origin=f"com/salesforce/api/rest/62.0;client={api.settings.salesforce_client_id}"))

    ok(response, 0, ignored=1)
    assert await published(api.settings, api.topics.salesforce_changes) == []
    assert INBOUND_IGNORED.labels("salesforce_event_relay", "echo")._value.get() == before + 1


REFUSED = [
    # (case id, request tweak, status, words)
    ("missing-key", {"headers": {"Content-Type": "application/json"}}, 401, "X-Sfgr-Api-Key header is missing"),
    ("wrong-key", {"headers": {"Content-Type": "application/json", KEY_HEADER: "guess"}}, 401,
     "does not hold the Event Relay key"),
    ("key-in-another-header", {"headers": {"Content-Type": "application/json", "Authorization": "key"}}, 401,
     "missing"),
    ("invalid-json", {"body": b'{"detail": '}, 400, "not valid JSON"),
    ("not-an-envelope", {"body": json_body({"payload": {}})}, 400, "detail.payload"),
    ("an-array", {"body": json_body([])}, 400, "one EventBridge event"),
    ("another-source", {"body": json_body({"id": "x", "source": "aws.partner/appflow/x", "detail": {"payload": {}}})},
     400, "not a Salesforce partner event source"),
    ("no-change-event-header", {"payload": {"LastName": "Lee"}}, 400, "ChangeEventHeader"),
    ("snapshot", {"event": cdc_event("Lead", "SNAPSHOT", [new_id("00Q")])}, 400, "SNAPSHOT"),
    ("another-org", {"org_id": "00D5g0000AbCdEfGH1"}, 403, "not the connected org"),
    ("xml-content-type", {"headers": {"Content-Type": "text/xml", KEY_HEADER: "set below"}}, 415, "application/json"),
    ("oversize", {"body": b" " * (MAX_BODY_BYTES + 1)}, 413, "larger than the limit"),
]


@pytest.mark.parametrize(("tweak", "status", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_requests_say_why_and_nothing_reaches_kafka(
    api: Api, connected: Connected, tweak: dict[str, Any], status: int, words: str
) -> None:
    tweak = dict(tweak)
    event = tweak.pop("event", None) or cdc_event("Lead", "DELETE", [new_id("00Q")])
    if "payload" in tweak:
        envelope = event_relay_envelope(event, org_id=connected.org_id)
        tweak["body"] = json_body({**envelope, "detail": {"payload": tweak.pop("payload")}})
    headers = tweak.get("headers")
    if headers and headers.get(KEY_HEADER) == "set below":
        tweak["headers"] = {**headers, KEY_HEADER: connected.event_relay_key}
    response = await post(api, connected, event, **tweak)

    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "ERROR"
    assert words in body["message"]
    assert await published(api.settings, api.topics.salesforce_changes) == []


async def test_the_key_header_is_a_setting(api: Api, connected: Connected) -> None:
    event = cdc_event("Lead", "DELETE", [new_id("00Q")])
    raw = json_body(event_relay_envelope(event, org_id=connected.org_id))
    async with running_api(api.settings.model_copy(update={"event_relay_key_header": "X-Relay-Key"})) as other:
        default = await other.client.post(URL, content=raw, headers={
            "Content-Type": "application/json", KEY_HEADER: connected.event_relay_key})
        named = await other.client.post(URL, content=raw, headers={
            "Content-Type": "application/json", "X-Relay-Key": connected.event_relay_key})
    assert default.status_code == 401 and "X-Relay-Key header is missing" in default.json()["message"]
    ok(named, 1)
