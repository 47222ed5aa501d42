"""The checks the sync-configuration API runs on a field mapping before accepting it."""

from __future__ import annotations

from typing import Any

from app.domain.mapping import SyncMapping
from app.domain.mapping_validation import (
    CustomFieldInfo,
    SalesforceFieldInfo,
    custom_field_problem,
    validate_mapping,
)
from app.domain.sides import ObjectType

LEAD = ObjectType.LEAD
CONTACT = ObjectType.CONTACT


def fields(*specs: tuple[str, str, bool]) -> dict[str, SalesforceFieldInfo]:
    return {name: SalesforceFieldInfo(name, type_, required) for name, type_, required in specs}


SALESFORCE = {
    LEAD: fields(
        ("Email", "email", False),
        ("FirstName", "string", False),
        ("LastName", "string", True),
        ("Company", "string", True),
        ("Phone", "phone", False),
        ("Country", "string", False),
        ("Status", "picklist", True),
        ("Rating__c", "double", False),
    ),
    CONTACT: fields(
        ("Email", "email", False),
        ("FirstName", "string", False),
        ("LastName", "string", True),
        ("Phone", "phone", False),
        ("MailingCountry", "string", False),
    ),
}

GETRESPONSE = {
    "cfPhone": CustomFieldInfo("cfPhone", "phone", "phone"),
    "cfCountry": CustomFieldInfo("cfCountry", "country", "country"),
    "cfCompany": CustomFieldInfo("cfCompany", "company", "string"),
    "cfNote": CustomFieldInfo("cfNote", "note", "text"),
    "cfScore": CustomFieldInfo("cfScore", "score", "number"),
}


def custom(field_id: str, type_: str) -> dict[str, str]:
    return {"custom_field_id": field_id, "type": type_}


GOOD_FIELDS: list[dict[str, Any]] = [
    {"name": "email", "salesforce": "Email", "getresponse": "email"},
    {"name": "name", "salesforce": ["FirstName", "LastName"], "getresponse": "name"},
    {"name": "phone", "salesforce": "Phone", "getresponse": custom("cfPhone", "phone")},
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
]


def mapping(field_list: list[dict[str, Any]], skipped: tuple[str, ...] = ("Status",)) -> SyncMapping:
    return SyncMapping.model_validate({"fields": field_list, "skipped": list(skipped)})


def check(m: SyncMapping, objects: tuple[ObjectType, ...] = (LEAD, CONTACT)) -> list[str]:
    return validate_mapping(m, SALESFORCE, GETRESPONSE, objects)


def without(name: str) -> list[dict[str, Any]]:
    return [f for f in GOOD_FIELDS if f["name"] != name]


def test_complete_mapping_has_no_errors() -> None:
    assert check(mapping(GOOD_FIELDS)) == []


def test_email_must_be_mapped() -> None:
    assert check(mapping(without("email"))) == [
        "Email must be mapped to the GetResponse email field for Leads.",
        "Email must be mapped to the GetResponse email field for Contacts.",
    ]


def test_company_must_be_mapped_when_the_sync_feeds_from_leads() -> None:
    assert check(mapping(without("company"))) == [
        "Company is required on Leads: map it to a GetResponse field."
    ]
    assert check(mapping(without("company")), (CONTACT,)) == []


def test_phone_mapped_to_a_number_field_is_refused_with_a_pointer_to_text_fields() -> None:
    changed = [
        *without("phone"),
        {"name": "phone", "salesforce": "Phone", "getresponse": custom("cfScore", "number")},
    ]

    (error,) = check(mapping(changed), (LEAD,))

    assert error.startswith("Lead.Phone holds phone values")
    assert error.endswith("map it to a phone field or to a text field.")


def test_country_mapped_to_a_phone_field_is_refused() -> None:
    changed = [
        *without("phone"),
        {"name": "phone", "salesforce": "Country", "getresponse": custom("cfPhone", "phone")},
    ]

    errors = check(mapping(changed), (LEAD,))

    assert any("Lead.Country holds country values" in e and "text field" in e for e in errors)


def test_phone_and_country_may_go_to_text_fields() -> None:
    changed = [
        *without("phone"),
        {"name": "phone", "salesforce": "Phone", "getresponse": custom("cfNote", "text")},
    ]

    assert check(mapping(changed)) == []


def test_unknown_fields_on_either_side_are_reported() -> None:
    changed = [
        *GOOD_FIELDS,
        {
            "name": "rating",
            "salesforce": "Rating__c",
            "getresponse": custom("cfGone", "number"),
            "objects": ["Lead"],
        },
        {"name": "fax", "salesforce": "Fax", "getresponse": custom("cfNote", "text")},
    ]

    assert check(mapping(changed)) == [
        "Unknown Salesforce field Lead.Fax (mapping 'fax').",
        "Unknown Salesforce field Contact.Fax (mapping 'fax').",
        "Unknown GetResponse custom field cfGone (mapping 'rating').",
    ]


def test_custom_field_type_must_match_what_getresponse_says() -> None:
    changed = [
        *without("company"),
        {"name": "company", "salesforce": "Company", "getresponse": custom("cfNote", "url")},
    ]

    assert check(mapping(changed), (LEAD,)) == [
        "GetResponse field 'note' is of type text, not url (mapping 'company')."
    ]


def test_legacy_text_type_matches_a_string_mapping() -> None:
    changed = [
        *without("company"),
        {
            "name": "company",
            "salesforce": "Company",
            "getresponse": custom("cfNote", "string"),
            "objects": ["Lead"],
        },
    ]

    assert check(mapping(changed)) == []


def test_required_salesforce_field_must_be_mapped_or_skipped_explicitly() -> None:
    assert check(mapping(GOOD_FIELDS, skipped=())) == [
        "Lead.Status is required in Salesforce: map it, or list it as skipped."
    ]


def test_skipped_field_must_exist() -> None:
    assert check(mapping(GOOD_FIELDS, skipped=("Status", "Nope__c"))) == [
        "Skipped field Nope__c does not exist in Salesforce."
    ]


def test_two_fields_cannot_share_a_getresponse_field() -> None:
    changed = [
        *GOOD_FIELDS,
        {"name": "note", "salesforce": "FirstName", "getresponse": custom("cfCompany", "string")},
    ]

    assert "Fields 'company' and 'note' go to the same GetResponse field." in check(mapping(changed))


def test_same_field_mapped_twice_for_one_object_is_refused() -> None:
    changed = [
        *GOOD_FIELDS,
        {"name": "phone", "salesforce": "Phone", "getresponse": custom("cfPhone", "phone")},
    ]

    assert "Field 'phone' is mapped twice for Leads." in check(mapping(changed))


def test_missing_salesforce_field_list_is_reported() -> None:
    assert validate_mapping(mapping(GOOD_FIELDS), {LEAD: SALESFORCE[LEAD]}, GETRESPONSE, (LEAD, CONTACT)) == [
        "No Salesforce field list for Contact."
    ]


def test_a_checkbox_fits_only_a_text_field() -> None:
    checkbox = SalesforceFieldInfo("GRdeleted__c", "boolean")
    assert custom_field_problem(LEAD, checkbox, "string", "deleted") is None
    assert custom_field_problem(LEAD, checkbox, "number", "score") == (
        "Lead.GRdeleted__c is a checkbox, which GetResponse field 'score' of type number cannot store: "
        "map it to a text field."
    )


def test_each_custom_field_is_judged_before_any_mapping_exists() -> None:
    phone = SALESFORCE[CONTACT]["Phone"]
    assert custom_field_problem(CONTACT, phone, "phone", "phone") is None
    assert custom_field_problem(CONTACT, phone, "text", "note") is None
    assert custom_field_problem(CONTACT, SALESFORCE[CONTACT]["MailingCountry"], "date", "born") == (
        "Contact.MailingCountry holds country values, which GetResponse field 'born' of type date cannot store: "
        "map it to a country field or to a text field."
    )
