"""Translating records between Salesforce, canonical values and GetResponse through a sync's mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.mapping import FieldMapping, SyncMapping
from app.domain.resolver import FieldState, Rule, Snapshot, resolve_change
from app.domain.sides import MissingEmail, ObjectType, Side, Value

LEAD = ObjectType.LEAD
CONTACT = ObjectType.CONTACT


def custom(field_id: str, type_: str) -> dict[str, str]:
    return {"custom_field_id": field_id, "type": type_}


MAPPING = SyncMapping.model_validate(
    {
        "fields": [
            {"name": "email", "salesforce": "Email", "getresponse": "email"},
            {"name": "name", "salesforce": ["FirstName", "LastName"], "getresponse": "name"},
            {"name": "phone", "salesforce": "Phone", "getresponse": custom("cfPhone", "phone")},
            {"name": "mobile", "salesforce": "MobilePhone", "getresponse": custom("cfMobile", "text")},
            {
                "name": "country",
                "salesforce": "Country",
                "getresponse": custom("cfCountry", "country"),
                "objects": ["Lead"],
            },
            {
                "name": "country",
                "salesforce": "MailingCountry",
                "getresponse": custom("cfCountry", "country"),
                "objects": ["Contact"],
            },
            {
                "name": "company",
                "salesforce": "Company",
                "getresponse": custom("cfCompany", "string"),
                "objects": ["Lead"],
            },
            {
                "name": "opted_out",
                "salesforce": "HasOptedOutOfEmail",
                "getresponse": custom("cfOptOut", "text"),
                "boolean": True,
            },
        ],
        "skipped": ["Status"],
    }
)

LEAD_RECORD = {
    "attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00Q1"},
    "Id": "00Q1",
    "Email": " Pat.Lee@Example.com ",
    "FirstName": "Pat",
    "LastName": "Lee",
    "Phone": "600 100 200",
    "MobilePhone": "+48 (600) 999-999",
    "Country": "pl",
    "Company": "Acme",
    "HasOptedOutOfEmail": False,
}

CANONICAL_LEAD: dict[str, Value] = {
    "email": "pat.lee@example.com",
    "name": "Pat Lee",
    "phone": "+48600100200",
    "mobile": "+48 (600) 999-999",
    "country": "Poland",
    "company": "Acme",
    "opted_out": False,
}


def getresponse_contact(payload: dict[str, Any]) -> dict[str, Any]:
    """What GetResponse returns after storing `payload` (ContactDetails, B6)."""
    return {
        "contactId": "gr1",
        "email": payload.get("email"),
        "name": payload.get("name"),
        "changedOn": "2026-03-02T12:00:00+0000",
        "customFieldValues": [
            {"customFieldId": v["customFieldId"], "name": "x", "value": v["value"], "values": v["value"]}
            for v in payload.get("customFieldValues", [])
        ],
    }


def test_mapping_survives_a_json_round_trip() -> None:
    assert SyncMapping.model_validate_json(MAPPING.model_dump_json()) == MAPPING


def test_salesforce_lead_becomes_canonical_values() -> None:
    assert MAPPING.salesforce_to_canonical(LEAD_RECORD, LEAD) == CANONICAL_LEAD


def test_contact_reads_its_country_from_the_mailing_address_and_has_no_company() -> None:
    record = {"Email": "pat@example.com", "MailingCountry": "USA", "Phone": "(415) 555-0100", "Company": "x"}

    assert MAPPING.salesforce_to_canonical(record, CONTACT) == {
        "email": "pat@example.com",
        "country": "United States",
        "phone": "+14155550100",
    }


def test_partial_record_gives_only_the_fields_it_carries() -> None:
    assert MAPPING.salesforce_to_canonical({"Company": "Acme Inc", "LastModifiedDate": "x"}, LEAD) == {
        "company": "Acme Inc"
    }


def test_nested_cdc_compound_fields_are_read() -> None:
    event = {"Name": {"FirstName": "Pat", "LastName": "Lee"}, "Address": {"Country": "Germany"}}

    assert MAPPING.salesforce_to_canonical(event, LEAD) == {"name": "Pat Lee", "country": "Germany"}


def test_cdc_create_leaves_empty_fields_out_and_they_read_as_empty() -> None:
    event = {
        "ChangeEventHeader": {"entityName": "Lead", "changeType": "CREATE"},
        "Email": "pat@example.com",
        "Name": {"LastName": "Lee"},
        "Company": "Acme",
    }

    assert MAPPING.salesforce_to_canonical(event, LEAD, complete=True) == {
        "email": "pat@example.com",
        "name": "Lee",
        "phone": None,
        "mobile": None,
        "country": None,
        "company": "Acme",
        "opted_out": False,
    }


def test_half_a_changed_name_or_a_local_phone_asks_for_the_fields_that_complete_it() -> None:
    event = {"Name": {"FirstName": "Patricia"}, "Phone": "600 100 200"}

    assert "name" not in MAPPING.salesforce_to_canonical(event, LEAD)
    assert MAPPING.salesforce_fields_to_complete(event, LEAD) == ["LastName", "Country"]
    assert MAPPING.salesforce_fields_to_complete({"Phone": "+48600100200"}, LEAD) == []
    assert MAPPING.salesforce_fields_to_complete(LEAD_RECORD, LEAD) == []


def test_contacts_carry_every_canonical_field_but_company() -> None:
    assert MAPPING.canonical_names(CONTACT) == {"email", "name", "phone", "mobile", "country", "opted_out"}
    assert "company" in MAPPING.canonical_names(LEAD)


def test_salesforce_fields_to_read_include_the_phone_region_source() -> None:
    assert MAPPING.salesforce_field_names(CONTACT) == [
        "Email",
        "FirstName",
        "LastName",
        "Phone",
        "MobilePhone",
        "MailingCountry",
        "HasOptedOutOfEmail",
    ]


def test_placeholders_read_back_as_empty_so_they_never_echo_to_getresponse() -> None:
    record = {**LEAD_RECORD, "FirstName": None, "LastName": "[not provided]", "Company": "[not provided]"}

    values = MAPPING.salesforce_to_canonical(record, LEAD)

    assert values["name"] is None
    assert values["company"] is None


def test_getresponse_contact_becomes_canonical_values() -> None:
    contact = {
        "contactId": "gr1",
        "email": "PAT@example.com",
        "name": "Pat  Lee",
        "customFieldValues": [
            {"customFieldId": "cfPhone", "value": ["+48600100200"]},
            {"customFieldId": "cfCountry", "values": ["Poland"]},
            {"customFieldId": "cfOptOut", "value": ["true"]},
            {"customFieldId": "cfUnmapped", "value": ["ignored"]},
        ],
    }

    assert MAPPING.getresponse_to_canonical(contact) == {
        "email": "pat@example.com",
        "name": "Pat Lee",
        "phone": "+48600100200",
        "mobile": None,
        "country": "Poland",
        "company": None,
        "opted_out": True,
    }


def test_webhook_contact_without_custom_fields_leaves_them_unknown() -> None:
    assert MAPPING.getresponse_to_canonical({"contactId": "gr1", "email": "pat@example.com"}) == {
        "email": "pat@example.com"
    }


def test_values_written_to_getresponse_come_back_as_the_same_canonical_values() -> None:
    written = MAPPING.canonical_to_getresponse(CANONICAL_LEAD)

    assert written.skipped == ()
    assert written.payload["customFieldValues"] == [
        {"customFieldId": "cfPhone", "value": ["+48600100200"]},
        {"customFieldId": "cfMobile", "value": ["+48 (600) 999-999"]},
        {"customFieldId": "cfCountry", "value": ["Poland"]},
        {"customFieldId": "cfCompany", "value": ["Acme"]},
        {"customFieldId": "cfOptOut", "value": ["false"]},
    ]
    assert MAPPING.getresponse_to_canonical(getresponse_contact(written.payload)) == CANONICAL_LEAD


def test_values_written_to_salesforce_come_back_as_the_same_canonical_values() -> None:
    written = MAPPING.canonical_to_salesforce(CANONICAL_LEAD, LEAD, creating=False)

    assert written.fields == {
        "Email": "pat.lee@example.com",
        "FirstName": "Pat",
        "LastName": "Lee",
        "Phone": "+48600100200",
        "MobilePhone": "+48 (600) 999-999",
        "Country": "Poland",
        "Company": "Acme",
        "HasOptedOutOfEmail": False,
    }
    assert MAPPING.salesforce_to_canonical(written.fields, LEAD) == CANONICAL_LEAD


def test_name_is_split_on_the_last_space_for_salesforce() -> None:
    written = MAPPING.canonical_to_salesforce({"name": "Mary Ann Smith"}, CONTACT, creating=False)

    assert written.fields == {"FirstName": "Mary Ann", "LastName": "Smith"}


def test_new_lead_without_name_or_company_gets_placeholders() -> None:
    written = MAPPING.canonical_to_salesforce({"email": "pat@example.com", "name": None}, LEAD, creating=True)

    assert written.fields == {
        "Email": "pat@example.com",
        "FirstName": None,
        "LastName": "[not provided]",
        "Company": "[not provided]",
    }


def test_placeholders_are_configurable() -> None:
    mapping = MAPPING.model_copy(update={"placeholders": {"LastName": "Unknown", "Company": "n/a"}})

    written = mapping.canonical_to_salesforce({"email": "pat@example.com"}, LEAD, creating=True)

    assert (written.fields["LastName"], written.fields["Company"]) == ("Unknown", "n/a")
    assert mapping.salesforce_to_canonical({"Company": "n/a"}, LEAD) == {"company": None}


def test_clearing_a_required_field_writes_its_placeholder() -> None:
    written = MAPPING.canonical_to_salesforce({"company": None}, LEAD, creating=False)

    assert written.fields == {"Company": "[not provided]"}


def test_new_contact_gets_only_a_last_name_placeholder() -> None:
    written = MAPPING.canonical_to_salesforce(
        {"email": "pat@example.com", "company": "Acme"}, CONTACT, creating=True
    )

    assert written.fields == {"Email": "pat@example.com", "LastName": "[not provided]"}


def test_creating_a_salesforce_record_without_email_is_a_permanent_error() -> None:
    with pytest.raises(MissingEmail):
        MAPPING.canonical_to_salesforce({"name": "Pat Lee"}, LEAD, creating=True)
    with pytest.raises(MissingEmail):
        MAPPING.canonical_to_salesforce({"email": None}, LEAD, creating=False)


def test_getresponse_contact_without_email_is_a_permanent_error() -> None:
    with pytest.raises(MissingEmail):
        MAPPING.canonical_to_getresponse({"email": "  "})


def test_invalid_phone_is_not_written_and_is_reported() -> None:
    written = MAPPING.canonical_to_getresponse({"phone": "12", "company": "Acme"})

    assert written.payload == {"customFieldValues": [{"customFieldId": "cfCompany", "value": ["Acme"]}]}
    assert written.refused == {"phone": "not a valid phone number"}
    (note,) = written.skipped
    assert (note.field, note.value, note.side) == ("phone", "12", Side.GETRESPONSE)


def test_unknown_country_is_not_written_and_is_reported() -> None:
    written = MAPPING.canonical_to_getresponse({"country": "Narnia"})

    assert written.payload == {}
    assert written.refused == {"country": "'Narnia' is not a known country"}


def test_phone_routed_to_a_text_field_goes_as_typed() -> None:
    assert MAPPING.salesforce_to_canonical({"MobilePhone": " call after 5pm "}, LEAD) == {
        "mobile": "call after 5pm"
    }
    written = MAPPING.canonical_to_getresponse({"mobile": "call after 5pm"})

    assert written.payload["customFieldValues"] == [
        {"customFieldId": "cfMobile", "value": ["call after 5pm"]}
    ]


def test_local_phone_uses_the_country_being_written_as_region() -> None:
    written = MAPPING.canonical_to_getresponse({"phone": "600 100 200", "country": "Poland"})

    assert written.payload["customFieldValues"][0] == {"customFieldId": "cfPhone", "value": ["+48600100200"]}


def test_cleared_custom_field_is_dropped_from_the_whole_set_instead_of_sent_empty() -> None:
    written = MAPPING.canonical_to_getresponse({"company": None, "phone": "+48600999999"})
    current = [
        {"customFieldId": "cfCompany", "name": "company", "value": ["Acme"], "values": ["Acme"]},
        {"customFieldId": "cfPhone", "name": "phone", "value": ["+48600100200"], "values": ["+48600100200"]},
        {"customFieldId": "cfOther", "name": "other", "value": ["kept"], "values": ["kept"]},
    ]

    assert written.payload == {"customFieldValues": [{"customFieldId": "cfPhone", "value": ["+48600999999"]}]}
    assert written.cleared == ("cfCompany",)
    assert written.custom_field_set(current) == [
        {"customFieldId": "cfOther", "value": ["kept"]},
        {"customFieldId": "cfPhone", "value": ["+48600999999"]},
    ]


def test_a_value_getresponse_refuses_keeps_the_link_base_and_is_logged() -> None:
    when = datetime(2026, 3, 2, 12, tzinfo=UTC)
    base = {
        "phone": FieldState("+48600100200", when, Side.SALESFORCE),
        "country": FieldState("Poland", when, Side.SALESFORCE),
    }
    event = MAPPING.salesforce_to_canonical({"Phone": "12", "Country": "Poland"}, LEAD)
    resolution = resolve_change(
        base,
        Snapshot(Side.SALESFORCE, event, when.replace(minute=1)),
        None,
        preferred=Side.SALESFORCE,
        skew=when - when,
    )

    written = MAPPING.canonical_to_getresponse(resolution.writes[Side.GETRESPONSE])
    final = resolution.without_writes(Side.GETRESPONSE, written.refused, base)

    assert not final.has_writes
    assert final.new_base == base
    assert [(d.field, d.rule) for d in final.decisions] == [
        ("phone", Rule.NOT_WRITABLE),
        ("country", Rule.UNCHANGED),
    ]


def test_name_mapping_needs_the_first_and_last_name_pair() -> None:
    with pytest.raises(ValidationError, match="FirstName, LastName"):
        FieldMapping.model_validate({"name": "name", "salesforce": "Name", "getresponse": "name"})
    with pytest.raises(ValidationError, match="FirstName, LastName"):
        FieldMapping.model_validate(
            {"name": "x", "salesforce": ["A", "B"], "getresponse": custom("c", "text")}
        )


def test_checkbox_can_only_go_to_a_text_field() -> None:
    with pytest.raises(ValidationError, match="text field"):
        FieldMapping.model_validate(
            {"name": "x", "salesforce": "X__c", "getresponse": custom("c", "number"), "boolean": True}
        )


def test_salesforce_field_names_are_api_names_only() -> None:
    with pytest.raises(ValidationError):
        FieldMapping.model_validate({"name": "x", "salesforce": "Email FROM Lead--", "getresponse": "email"})
