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


# Both forms a payload may take (A2, A6): what is certain is read, the rest is a reread.

def _reread_because(document: object, words: str) -> None:
    events, _ = parse(document)
    assert events and all(e.kind is Kind.REREAD and e.detail["reread"] == "record" for e in events)
    assert all(e.fields == {} and e.changed_fields is None and e.email is None for e in events)
    assert words in events[0].detail["unreadable"]


def test_bitmaps_in_changed_fields_make_a_reread_never_a_guess() -> None:
    _reread_because(cdc_event("Lead", "UPDATE", [new_id("00Q")], {"Email": None, "Company": "Acme"},
                              changed_fields=["0x650004E0", "4-0x10"]), "bitmaps")


def test_bitmaps_in_nulled_fields_make_a_reread() -> None:
    event = cdc_event("Lead", "UPDATE", [new_id("00Q")], {"Phone": None}, changed_fields=["Phone"])
    event["payload"]["ChangeEventHeader"]["nulledFields"] = ["0x10"]
    _reread_because(event, "bitmaps")


def test_diff_fields_make_a_reread() -> None:
    event = cdc_event("Contact", "UPDATE", [new_id("003")], {"Description": "@@ -1 +1 @@"},
                      changed_fields=["Description"])
    event["payload"]["ChangeEventHeader"]["diffFields"] = ["Description"]
    _reread_because(event, "diff")


def test_an_update_without_changed_fields_is_read_when_it_holds_no_null() -> None:
    events, _ = parse(cdc_event("Lead", "UPDATE", [new_id("00Q")], {"Status": "Working"}))
    assert [(e.kind, e.fields) for e in events] == [(Kind.UPDATED, {"Status": "Working"})]


def test_an_update_without_changed_fields_holding_a_null_is_a_reread() -> None:
    _reread_because(cdc_event("Lead", "UPDATE", [new_id("00Q")], {"Status": "Working", "Phone": None}),
                    "cleared or unchanged")


def test_pubsub_form_with_names_keeps_only_the_changed_fields_and_iso_date_times() -> None:
    """Every field present, unchanged ones null, date-times in epoch ms (A5), lists as names."""
    lead = new_id("00Q")
    events, _ = parse(cdc_event("Lead", "UPDATE", [lead], {
        "Name": {"Salutation": None, "FirstName": None, "LastName": "Nowak"}, "Email": None, "Phone": None,
        "Company": None, "CreatedDate": None, "LastModifiedDate": 1714557600123,
    }, changed_fields=["Name.LastName", "Phone", "LastModifiedDate"]))
    [event] = events
    assert event.kind is Kind.UPDATED
    assert event.fields == {"LastName": "Nowak", "Phone": None, "LastModifiedDate": "2024-05-01T10:00:00.123Z"}


def test_a_whole_number_beside_epoch_ms_date_times_is_a_reread() -> None:
    _reread_because(cdc_event("Lead", "CREATE", [new_id("00Q")], {
        "Email": "a@example.com", "NumberOfEmployees": 1714557600000, "LastModifiedDate": 1714557600000}),
        "NumberOfEmployees")


def test_a_whole_number_beside_iso_date_times_is_a_number() -> None:
    events, _ = parse(cdc_event("Lead", "CREATE", [new_id("00Q")], {
        "Email": "a@example.com", "NumberOfEmployees": 50, "LastModifiedDate": "2024-05-01T10:00:00.000Z"}))
    assert events[0].kind is Kind.CREATED
    assert events[0].fields["NumberOfEmployees"] == 50


def test_a_whole_number_with_no_date_time_to_tell_the_form_by_is_a_reread() -> None:
    _reread_because(cdc_event("Lead", "UPDATE", [new_id("00Q")], {"NumberOfEmployees": 50},
                              changed_fields=["NumberOfEmployees"]), "NumberOfEmployees")


def test_a_delete_in_either_form_stays_a_delete() -> None:
    event = cdc_event("Lead", "DELETE", [new_id("00Q")], changed_fields=["0x01"])
    assert [e.kind for e in parse(event)[0]] == [Kind.DELETED]


@pytest.mark.parametrize("commit", [1714557600000, "1714557600000", "2024-05-01T10:00:00.000Z",
                                    "2024-05-01T12:00:00+02:00"])
def test_the_commit_timestamp_is_read_from_epoch_ms_or_an_iso_date_time(commit: object) -> None:
    event = cdc_event("Lead", "DELETE", [new_id("00Q")])
    event["payload"]["ChangeEventHeader"]["commitTimestamp"] = commit
    assert parse(event)[0][0].source_timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_commit_timestamp_without_an_offset_is_refused() -> None:
    event = cdc_event("Lead", "DELETE", [new_id("00Q")])
    event["payload"]["ChangeEventHeader"]["commitTimestamp"] = "2024-05-01T10:00:00"
    problem = rejected(event)
    assert problem.status == 400 and "commitTimestamp" in problem.message


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
