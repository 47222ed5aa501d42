"""Change Data Capture in CometD JSON (api-contracts A2, C2, C3): one ChangeEvent per record id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.events import Kind, Source, Transport
from app.inbound.change_events import flat_field_name, is_our_echo, parse_change_events
from app.inbound.errors import InboundRejected
from tests.unit.inbound.payloads import OVERFLOW_RECORD_ID, cdc_event, json_body, new_id

CLIENT_ID = "sfgr-sync"


def parse(document: object) -> tuple[list, int]:
    parsed = parse_change_events(json_body(document), connection_id="c-1", client_id=CLIENT_ID)
    return parsed.events, parsed.echoes


def rejected(document: object) -> InboundRejected:
    with pytest.raises(InboundRejected) as caught:
        parse(document)
    return caught.value


def test_a_create_carries_every_field_sent_with_the_name_flattened() -> None:
    lead = new_id("00Q")
    events, _ = parse(cdc_event("Lead", "CREATE", [lead], {
        "Name": {"FirstName": "Zoë", "LastName": "Lee"}, "Email": "zoe@example.com", "Company": "Acme",
        "Address": {"City": "Kraków", "Country": "Poland"}, "LastModifiedDate": "2024-05-01T10:00:00.000Z",
    }, replay_id=42))
    [event] = events
    assert (event.source, event.transport, event.kind) == (Source.SALESFORCE, Transport.CHANGE_DATA_CAPTURE, Kind.CREATED)
    assert (event.event_id, event.record_id, event.object_type, event.connection_id) == ("cdc:42", lead, "Lead", "c-1")
    assert event.fields == {"FirstName": "Zoë", "LastName": "Lee", "Email": "zoe@example.com", "Company": "Acme",
                            "City": "Kraków", "Country": "Poland", "LastModifiedDate": "2024-05-01T10:00:00.000Z"}
    assert event.email == "zoe@example.com"
    assert event.changed_fields is None
    assert event.source_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert event.origin is None
    assert event.detail["change_type"] == "CREATE"
    assert event.detail["replay_id"] == 42


def test_an_update_carries_only_its_changed_fields_with_explicit_nulls() -> None:
    contact = new_id("003")
    events, _ = parse(cdc_event("Contact", "UPDATE", [contact], {
        "Name": {"FirstName": "Pat"}, "Phone": None, "MailingAddress": {"City": "Lyon"},
        "LastModifiedDate": "2024-05-01T10:00:00.000Z", "Stray": "not in changedFields",
    }, changed_fields=["Name.FirstName", "Phone", "MailingAddress.City", "LastModifiedDate"],
        origin="com/salesforce/api/rest/62.0;client=someone-else"))
    [event] = events
    assert event.kind is Kind.UPDATED
    assert event.fields == {"FirstName": "Pat", "Phone": None, "MailingCity": "Lyon",
                            "LastModifiedDate": "2024-05-01T10:00:00.000Z"}
    assert event.changed_fields == ["FirstName", "Phone", "MailingCity", "LastModifiedDate"]
    assert event.origin == "com/salesforce/api/rest/62.0;client=someone-else"


@pytest.mark.parametrize(("change_type", "kind"), [("DELETE", Kind.DELETED), ("UNDELETE", Kind.UNDELETED)])
def test_delete_and_undelete_keep_their_kind(change_type: str, kind: Kind) -> None:
    fields = {"Email": "x@example.com"} if change_type == "UNDELETE" else {}
    events, _ = parse(cdc_event("Lead", change_type, [new_id("00Q")], fields))
    assert [e.kind for e in events] == [kind]
    assert events[0].fields == fields


@pytest.mark.parametrize("gap", ["GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE"])
def test_gap_events_ask_for_a_reread_of_their_records(gap: str) -> None:
    records = [new_id("00Q"), new_id("00Q")]
    events, _ = parse(cdc_event("Lead", gap, records, replay_id=7))
    assert [(e.kind, e.record_id, e.detail["reread"], e.detail["change_type"]) for e in events] == [
        (Kind.REREAD, r, "record", gap) for r in records
    ]
    assert [e.event_id for e in events] == [f"cdc:7:{r}" for r in records]


def test_an_overflow_asks_for_a_reread_of_the_whole_entity() -> None:
    events, _ = parse(cdc_event("Contact", "GAP_OVERFLOW", [OVERFLOW_RECORD_ID], commit_ms=1714557600000))
    [event] = events
    assert (event.kind, event.record_id, event.object_type) == (Kind.REREAD, OVERFLOW_RECORD_ID, "Contact")
    assert event.detail["reread"] == "entity"
    assert event.source_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_wildcard_record_id_is_an_entity_reread() -> None:
    events, _ = parse(cdc_event("Lead", "UPDATE", ["00Q*"], {"Status": "Open"}, changed_fields=["Status"]))
    assert [(e.kind, e.detail["reread"], e.fields) for e in events] == [(Kind.REREAD, "entity", {})]


def test_one_event_for_several_records_becomes_one_event_per_record_with_distinct_ids() -> None:
    records = [new_id("00Q") for _ in range(3)]
    events, _ = parse(cdc_event("Lead", "UPDATE", records, {"Status": "Working"}, changed_fields=["Status"],
                                replay_id=99))
    assert [e.record_id for e in events] == records
    assert [e.event_id for e in events] == [f"cdc:99:{r}" for r in records]
    assert all(e.fields == {"Status": "Working"} for e in events)


def test_without_a_replay_id_the_event_id_comes_from_the_transaction() -> None:
    lead = new_id("00Q")
    events, _ = parse(cdc_event("Lead", "DELETE", [lead], replay_id=None, transaction_key="tx-1", sequence=3))
    assert events[0].event_id == f"cdc:tx-1:3:{lead}"


def test_our_own_writes_are_counted_as_echoes_and_not_returned() -> None:
    ours = cdc_event("Lead", "UPDATE", [new_id("00Q"), new_id("00Q")], {"Email": "a@example.com"},
                     changed_fields=["Email"], origin=f"com/salesforce/api/rest/62.0;client={CLIENT_ID}")
    theirs = cdc_event("Lead", "CREATE", [new_id("00Q")], {"Email": "b@example.com"}, replay_id=5)
    events, echoes = parse([ours, theirs])
    assert echoes == 2
    assert [e.email for e in events] == ["b@example.com"]


@pytest.mark.parametrize(
    ("origin", "ours"),
    [
        ("com/salesforce/api/rest/62.0;client=sfgr-sync", True),
        ("com/salesforce/api/soap/62.0;foo=bar;client=sfgr-sync", True),
        ("com/salesforce/api/rest/62.0;client=sfgr-sync-staging", False),
        ("com/salesforce/api/rest/62.0;client=my-sfgr-sync", False),
        ("com/salesforce/api/rest/62.0/sfgr-sync;client=other", False),
        ("client=sfgr-sync", False),
        ("", False),
        (None, False),
    ],
)
def test_the_client_option_must_equal_our_client_id(origin: str | None, ours: bool) -> None:
    assert is_our_echo(origin, CLIENT_ID) is ours


def test_a_cometd_message_wrapping_the_event_in_data_is_read() -> None:
    lead = new_id("00Q")
    events, _ = parse({"channel": "/data/LeadChangeEvent", "data": cdc_event("Lead", "DELETE", [lead])})
    assert [e.record_id for e in events] == [lead]


@pytest.mark.parametrize(
    ("compound", "component", "flat"),
    [("Name", "FirstName", "FirstName"), ("Address", "City", "City"),
     ("MailingAddress", "PostalCode", "MailingPostalCode"), ("OtherAddress", "Street", "OtherStreet")],
)
def test_compound_components_map_to_the_flat_field_names(compound: str, component: str, flat: str) -> None:
    assert flat_field_name(compound, component) == flat


def test_pubsub_bitmaps_are_refused() -> None:
    problem = rejected(cdc_event("Lead", "UPDATE", [new_id("00Q")], changed_fields=["0x650004E0", "4-0x10"]))
    assert (problem.status, problem.reason) == (400, "pubsub_payload")
    assert "CometD" in problem.message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"payload": {}}, "ChangeEventHeader"),
        (cdc_event("Lead", "SNAPSHOT", [new_id("00Q")]), "SNAPSHOT"),
        (cdc_event("Lead", "CREATE", []), "recordIds"),
        (cdc_event("Lead", "CREATE", ["00Q; DROP TABLE"]), "not Salesforce ids"),
        (cdc_event("Lead", "DELETE", [new_id("00Q")], replay_id=None, transaction_key=None), "replayId"),  # type: ignore[arg-type]
        ([1, 2], "not a CometD change event"),
    ],
    ids=["no-header", "snapshot", "no-records", "bad-record-id", "no-ids", "not-objects"],
)
def test_other_shapes_are_refused_with_what_is_wrong(document: object, expected: str) -> None:
    problem = rejected(document)
    assert problem.status == 400
    assert expected in problem.message


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[" * 100_000])
def test_invalid_json_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(InboundRejected) as caught:
        parse_change_events(body, connection_id="c", client_id=CLIENT_ID)
    assert (caught.value.status, caught.value.reason) == (400, "bad_json")
