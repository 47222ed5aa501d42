"""Outbound Messages (api-contracts A1, C1): from SOAP bytes to one ChangeEvent per Notification."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app.domain.events import Kind, Source, Transport
from app.inbound.errors import InboundRejected
from app.inbound.outbound_messages import outbound_change_events, parse_outbound_message
from tests.unit.inbound.payloads import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    ORG_ID,
    SOAP_ENV_NS,
    XXE,
    new_id,
    notification,
    outbound_envelope,
)


def rejected(body: bytes) -> InboundRejected:
    with pytest.raises(InboundRejected) as caught:
        parse_outbound_message(body)
    return caught.value


def test_a_lead_notification_becomes_one_changed_event_with_the_fields_sent() -> None:
    lead_id, notification_id = new_id("00Q"), new_id("04l")
    body = outbound_envelope([
        notification(lead_id, {"Email": "pat@example.com", "FirstName": "Pat", "LastName": "Lee",
                               "HasOptedOutOfEmail": "false", "LastModifiedDate": "2024-05-01T10:00:00.000Z"},
                     notification_id=notification_id)
    ])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c-1")
    assert event.event_id == notification_id
    assert (event.source, event.transport, event.kind) == (Source.SALESFORCE, Transport.OUTBOUND_MESSAGE, Kind.CHANGED)
    assert (event.object_type, event.record_id, event.connection_id) == ("Lead", lead_id, "c-1")
    assert event.email == "pat@example.com"
    assert event.fields == {"Email": "pat@example.com", "FirstName": "Pat", "LastName": "Lee",
                            "HasOptedOutOfEmail": "false", "LastModifiedDate": "2024-05-01T10:00:00.000Z"}
    assert event.changed_fields is None
    assert event.source_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert event.detail == {"organization_id": ORG_ID, "action_id": "04k5g00000SfGrLAAV"}


def test_the_object_type_comes_from_xsi_type() -> None:
    body = outbound_envelope([notification(new_id("003"), {"Email": "c@example.com"}, object_type="Contact")])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.object_type == "Contact"


def test_nil_fields_are_explicit_nulls_and_empty_elements_stay_empty_strings() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {"Phone": None, "Company": ""})])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.fields == {"Phone": None, "Company": ""}
    assert event.email is None


def test_non_ascii_values_arrive_unchanged() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {"LastName": "Łukasiewicz-Ørsted 山田 <&>"})])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.fields["LastName"] == "Łukasiewicz-Ørsted 山田 <&>"


def test_salesforce_rest_offsets_are_read_and_system_modstamp_is_the_fallback() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {"SystemModstamp": "2024-05-01T10:00:01.500+0000"})])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.source_timestamp == datetime(2024, 5, 1, 10, 0, 1, 500000, tzinfo=UTC)


def test_last_modified_date_wins_over_system_modstamp() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {
        "SystemModstamp": "2024-05-01T11:00:00.000Z", "LastModifiedDate": "2024-05-01T10:00:00.000Z"})])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.source_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_notification_with_only_the_id_asks_the_consumer_to_reread() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {})])
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert event.kind is Kind.REREAD
    assert event.fields == {}
    assert "deleted before delivery" in event.detail["reason"]


def test_a_hundred_notifications_become_a_hundred_events_in_order() -> None:
    record_ids = [new_id("00Q") for _ in range(100)]
    body = outbound_envelope([notification(r, {"Email": f"p{i}@example.com"}) for i, r in enumerate(record_ids)])
    events = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert [e.record_id for e in events] == record_ids


def test_the_session_id_is_never_carried_into_the_event() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {"Email": "a@example.com"})]).replace(
        b'<SessionId xsi:nil="true"/>', b"<SessionId>00D!AQ0AQLive-session-token</SessionId>"
    )
    [event] = outbound_change_events(parse_outbound_message(body), connection_id="c")
    assert "Live-session-token" not in event.model_dump_json()


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "external-dtd"])
def test_dtds_entities_and_external_references_are_refused_in_milliseconds(payload: bytes) -> None:
    started = time.perf_counter()
    problem = rejected(payload)
    assert time.perf_counter() - started < 0.05
    assert (problem.status, problem.reason) == (400, "forbidden_xml")
    assert "DOCTYPE" in problem.message


def test_malformed_xml_is_a_bad_request() -> None:
    problem = rejected(b"<soapenv:Envelope xmlns:soapenv='x'><unclosed>")
    assert (problem.status, problem.reason) == (400, "bad_xml")
    assert "not well-formed" in problem.message


def test_another_root_element_is_not_a_soap_envelope() -> None:
    problem = rejected(b"<notifications/>")
    assert (problem.status, problem.reason) == (400, "not_soap")
    assert "SOAP 1.1 Envelope" in problem.message


def test_notifications_in_another_namespace_are_refused() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {})], namespace="http://soap.sforce.com/2005/09/inbound")
    problem = rejected(body)
    assert (problem.status, problem.reason) == (400, "wrong_namespace")
    assert "http://soap.sforce.com/2005/09/outbound" in problem.message


def test_more_than_a_hundred_notifications_are_refused() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {}) for _ in range(101)])
    problem = rejected(body)
    assert (problem.status, problem.reason) == (400, "too_many_notifications")
    assert "101" in problem.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (outbound_envelope([]), "no Notification"),
        (outbound_envelope([notification(new_id("00Q"), {})]).replace(b"<OrganizationId>" + ORG_ID.encode() + b"</OrganizationId>", b""),
         "no OrganizationId"),
        (outbound_envelope([notification(new_id("00Q"), {})]).replace(b'xsi:type="sf:Lead"', b""), "xsi:type"),
        (outbound_envelope([notification("not-an-id", {})]), "needs an Id"),
        (outbound_envelope([notification(new_id("00Q"), {"LastModifiedDate": "yesterday"})]), "LastModifiedDate"),
        (f'<e:Envelope xmlns:e="{SOAP_ENV_NS}"/>'.encode(), "no Body"),
    ],
    ids=["no-notification", "no-org", "no-type", "bad-record-id", "bad-timestamp", "no-body"],
)
def test_messages_of_another_shape_are_refused_with_what_is_wrong(body: bytes, expected: str) -> None:
    problem = rejected(body)
    assert problem.status == 400
    assert expected in problem.message


def test_a_field_with_child_elements_is_refused() -> None:
    body = outbound_envelope([notification(new_id("00Q"), {})]).replace(
        b"</sObject>", b"<sf:Address><sf:City>Paris</sf:City></sf:Address></sObject>"
    )
    assert "holds elements" in rejected(body).message
