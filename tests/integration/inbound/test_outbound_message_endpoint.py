"""POST /v1/salesforce/outbound-messages against the real broker: what reaches Kafka, and what
never does (api-contracts A1, C1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from prometheus_client import REGISTRY

from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, published
from tests.unit.inbound.payloads import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    XXE,
    new_id,
    notification,
    outbound_envelope,
)

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
OUT = "{http://soap.sforce.com/2005/09/outbound}"
TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


async def post(api: Api, connected: Connected, body: bytes, *, key: str | None = "",
               headers: dict[str, str] | None = None) -> httpx.Response:
    params = {"key": connected.outbound_key if key == "" else key} if key is not None else {}
    return await api.client.post("/v1/salesforce/outbound-messages", content=body, params=params,
                                 headers=headers or SOAP_HEADERS)


def acknowledged(response: httpx.Response) -> bool:
    ack = fromstring(response.content).find(f"{ENV}Body/{OUT}notificationsResponse/{OUT}Ack")
    return ack is not None and ack.text == "true"


def fault(response: httpx.Response) -> tuple[str, str]:
    assert response.headers["content-type"].startswith("text/xml")
    element = fromstring(response.content).find(f"{ENV}Body/{ENV}Fault")
    assert element is not None, response.text
    return element.findtext("faultcode") or "", element.findtext("faultstring") or ""


async def test_one_lead_notification_is_published_then_acknowledged(api: Api, connected: Connected) -> None:
    lead_id, notification_id = new_id("00Q"), new_id("04l")
    body = outbound_envelope([notification(lead_id, {
        "Email": "pat@example.com", "FirstName": "Pat", "LastName": "Lee", "Company": "Acme",
        "LastModifiedDate": "2024-05-01T10:00:00.000Z"}, notification_id=notification_id)], org_id=connected.org_id)
    response = await post(api, connected, body)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert acknowledged(response)
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert message.key == lead_id
    assert message.headers["event_id"] == notification_id
    assert message.headers["request_id"] == response.headers["x-request-id"]
    assert TRACEPARENT.fullmatch(message.headers["traceparent"])
    event = message.event
    assert event.model_dump(mode="json", exclude={"received_at"}) == {
        "schema_version": 1, "event_id": notification_id, "source": "salesforce", "transport": "outbound_message",
        "kind": "changed", "connection_id": connected.salesforce_connection_id, "sync_id": None,
        "object_type": "Lead", "record_id": lead_id, "campaign_id": None, "email": "pat@example.com",
        "fields": {"Email": "pat@example.com", "FirstName": "Pat", "LastName": "Lee", "Company": "Acme",
                   "LastModifiedDate": "2024-05-01T10:00:00.000Z"},
        "changed_fields": None, "source_timestamp": "2024-05-01T10:00:00Z", "origin": None,
        "detail": {"organization_id": connected.org_id, "action_id": "04k5g00000SfGrLAAV"},
    }
    assert abs(event.received_at - datetime.now(UTC)) < timedelta(seconds=30)


async def test_a_hundred_contact_notifications_are_all_published_before_the_single_ack(
    api: Api, connected: Connected
) -> None:
    contacts = {new_id("003"): new_id("04l") for _ in range(100)}
    body = outbound_envelope(
        [notification(record, {"Email": f"c{i}@example.com"}, object_type="Contact", notification_id=n)
         for i, (record, n) in enumerate(contacts.items())],
        org_id=connected.org_id,
    )
    response = await post(api, connected, body)

    assert response.status_code == 200 and acknowledged(response)
    messages = await published(api.settings, api.topics.salesforce_changes)
    assert sorted((m.key, m.headers["event_id"]) for m in messages) == sorted(contacts.items())
    assert {m.event.object_type for m in messages} == {"Contact"}
    assert len({m.headers["request_id"] for m in messages}) == 1
    assert len({m.headers["traceparent"] for m in messages}) == 1


async def test_nil_and_non_ascii_values_reach_kafka_as_sent(api: Api, connected: Connected) -> None:
    lead_id = new_id("00Q")
    body = outbound_envelope([notification(lead_id, {
        "FirstName": "Zoë", "LastName": "Żółć-山田", "Phone": None, "HasOptedOutOfEmail": "true"})],
        org_id=connected.org_id)
    response = await post(api, connected, body)

    assert response.status_code == 200
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert message.event.fields == {"FirstName": "Zoë", "LastName": "Żółć-山田", "Phone": None,
                                    "HasOptedOutOfEmail": "true"}


async def test_an_incoming_traceparent_is_continued(api: Api, connected: Connected) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = outbound_envelope([notification(new_id("00Q"), {"Email": "t@example.com"})], org_id=connected.org_id)
    response = await post(api, connected, body, headers={**SOAP_HEADERS,
                                                          "traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert response.status_code == 200
    [message] = await published(api.settings, api.topics.salesforce_changes)
    assert message.headers["traceparent"].startswith(f"00-{trace}-")


async def test_application_soap_xml_with_a_charset_is_accepted(api: Api, connected: Connected) -> None:
    body = outbound_envelope([notification(new_id("00Q"), {"Email": "s@example.com"})], org_id=connected.org_id)
    response = await post(api, connected, body, headers={"Content-Type": "application/soap+xml; charset=UTF-8"})
    assert response.status_code == 200 and acknowledged(response)


def _lead(connected: Connected) -> bytes:
    return outbound_envelope([notification(new_id("00Q"), {"Email": "x@example.com"})], org_id=connected.org_id)


REFUSED = [
    # (case id, body builder, params/headers tweak, status, words in the faultstring)
    ("xxe", lambda c: XXE, {}, 400, "DOCTYPE"),
    ("billion-laughs", lambda c: BILLION_LAUGHS, {}, 400, "DOCTYPE"),
    ("external-dtd", lambda c: EXTERNAL_DTD, {}, 400, "DOCTYPE"),
    ("malformed", lambda c: _lead(c)[:-20], {}, 400, "not well-formed"),
    ("wrong-namespace", lambda c: outbound_envelope([notification(new_id("00Q"), {})], org_id=c.org_id,
                                                    namespace="urn:not-outbound"), {}, 400, "namespace"),
    ("wrong-org", lambda c: outbound_envelope([notification(new_id("00Q"), {})], org_id=new_id("00D")), {},
     403, "not the connected org"),
    ("15-char-org", lambda c: outbound_envelope([notification(new_id("00Q"), {})], org_id=c.org_id[:15]), {},
     403, "18-character"),
    ("same-15-char-prefix", lambda c: outbound_envelope([notification(new_id("00Q"), {})],
                                                        org_id=c.org_id[:15] + "ZZZ"), {}, 403, "not the connected org"),
    ("101-notifications", lambda c: outbound_envelope([notification(new_id("00Q"), {}) for _ in range(101)],
                                                      org_id=c.org_id), {}, 400, "at most 100"),
    ("oversize", lambda c: _lead(c) + b" " * MAX_BODY_BYTES, {}, 413, "larger than the limit"),
    ("json-content-type", _lead, {"headers": {"Content-Type": "application/json"}}, 415, "text/xml"),
    ("missing-content-type", _lead, {"headers": {"SOAPAction": '""'}}, 415, "text/xml"),
    ("missing-key", _lead, {"key": None}, 401, "?key= parameter is missing"),
    ("wrong-key", _lead, {"key": "guess"}, 401, "?key= parameter is wrong"),
]


@pytest.mark.parametrize(("build", "tweak", "status", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_messages_get_a_client_fault_and_nothing_reaches_kafka(
    api: Api, connected: Connected, build: object, tweak: dict[str, object], status: int, words: str
) -> None:
    response = await post(api, connected, build(connected), **tweak)  # type: ignore[operator, arg-type]

    assert response.status_code == status
    code, message = fault(response)
    assert code == "soapenv:Client"
    assert words in message
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]
    assert await published(api.settings, api.topics.salesforce_changes) == []


async def test_a_chunked_body_is_cut_off_at_the_limit_without_reading_the_rest(api: Api, connected: Connected) -> None:
    sent = 0

    async def endless() -> object:
        nonlocal sent
        while True:
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    response = await api.client.post("/v1/salesforce/outbound-messages", content=endless(),  # type: ignore[arg-type]
                                      params={"key": connected.outbound_key}, headers=SOAP_HEADERS)
    assert response.status_code == 413
    assert sent <= MAX_BODY_BYTES + 2 * 64 * 1024


async def test_requests_publications_rejections_and_publish_latency_are_measured(
    api: Api, connected: Connected
) -> None:
    endpoint = {"endpoint": "salesforce_outbound_messages"}

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {**endpoint, **labels}) or 0.0

    before = (sample("sfgr_inbound_received_total"), sample("sfgr_inbound_events_published_total"),
              sample("sfgr_inbound_rejected_total", reason="wrong_org"), sample("sfgr_publish_seconds_count"))
    good = outbound_envelope([notification(new_id("00Q"), {}), notification(new_id("00Q"), {})],
                             org_id=connected.org_id)
    assert (await post(api, connected, good)).status_code == 200
    wrong_org = outbound_envelope([notification(new_id("00Q"), {})], org_id=new_id("00D"))
    assert (await post(api, connected, wrong_org)).status_code == 403

    after = (sample("sfgr_inbound_received_total"), sample("sfgr_inbound_events_published_total"),
             sample("sfgr_inbound_rejected_total", reason="wrong_org"), sample("sfgr_publish_seconds_count"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 1, 1]
