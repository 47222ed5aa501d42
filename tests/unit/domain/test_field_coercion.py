"""Single values into canonical form, and out to the forms each system takes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.coercion import (
    FieldKind,
    NotCoercible,
    canonical_country,
    canonical_number,
    canonical_phone,
    canonical_value,
    country_code,
    country_name,
    getresponse_name,
    getresponse_values,
    join_name,
    normalize_email,
    normalize_text,
    parse_bool,
    phone_e164,
    require_email,
    salesforce_value,
    split_name,
)
from app.domain.sides import MissingEmail


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+14155550100", None, "+14155550100"),
        ("600 100 200", "PL", "+48600100200"),
        ("0048 600 100 200", None, "+48600100200"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+48 600-100-200", "US", "+48600100200"),
    ],
)
def test_phone_numbers_are_written_in_international_form(raw: str, region: str | None, expected: str) -> None:
    assert phone_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"), [("12", "US"), ("600 100 200", None), ("call me", "PL"), ("+999", None)]
)
def test_phone_that_cannot_be_normalised_is_refused(raw: str, region: str | None) -> None:
    with pytest.raises(NotCoercible, match="not a valid phone number"):
        phone_e164(raw, region)


def test_salesforce_phone_and_its_getresponse_echo_are_the_same_canonical_value() -> None:
    from_salesforce = canonical_phone("+1 (415) 555-0100")
    echoed = canonical_phone(getresponse_values(FieldKind.PHONE, from_salesforce)[0])

    assert from_salesforce == echoed == "+14155550100"


def test_phone_that_does_not_parse_stays_comparable_as_typed() -> None:
    assert canonical_phone("  ext. 12 ") == "ext. 12"
    assert canonical_phone("") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US", "United States"),
        ("USA", "United States"),
        ("United States", "United States"),
        ("germany", "Germany"),
        ("pl", "Poland"),
        (" Poland ", "Poland"),
        ("UK", "United Kingdom"),
        ("South Korea", "Korea, Republic of"),
    ],
)
def test_country_codes_and_names_become_the_iso_short_name(raw: str, expected: str) -> None:
    assert country_name(raw) == expected


def test_country_that_does_not_resolve_is_refused_but_stays_comparable() -> None:
    with pytest.raises(NotCoercible, match="not a known country"):
        country_name("Narnia")
    assert canonical_country("  Narnia ") == "Narnia"


def test_country_code_serves_as_the_phone_region() -> None:
    assert country_code("Poland") == "PL"
    assert country_code("Narnia") is None
    assert country_code(None) is None


def test_email_is_trimmed_and_lower_cased_for_comparison() -> None:
    assert normalize_email("  Pat.Lee@Example.COM ") == "pat.lee@example.com"
    assert normalize_email("") is None


@pytest.mark.parametrize("raw", [None, "", "   ", "pat", "pat@", "@example.com", "pat lee@example.com"])
def test_person_without_a_usable_email_is_a_permanent_error(raw: str | None) -> None:
    with pytest.raises(MissingEmail):
        require_email(raw)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Pat", "Lee", "Pat Lee"),
        (None, "Lee", "Lee"),
        ("  Mary   Ann ", "Smith", "Mary Ann Smith"),
        ("Pat", "[not provided]", "Pat"),
        (None, "[not provided]", None),
        ("", "", None),
    ],
)
def test_salesforce_first_and_last_name_join_into_one_name(
    first: str | None, last: str, expected: str | None
) -> None:
    assert join_name(first, last) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Pat Lee", ("Pat", "Lee")),
        ("Mary Ann Smith", ("Mary Ann", "Smith")),
        ("Cher", (None, "Cher")),
        ("  ", (None, None)),
        (None, (None, None)),
    ],
)
def test_name_splits_on_the_last_space(name: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_name(name) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab ĄŁ-'"), max_size=20))
def test_splitting_and_joining_a_name_gives_the_same_canonical_name(name: str) -> None:
    first, last = split_name(name)

    assert join_name(first, last) == canonical_value(FieldKind.NAME, name)


@pytest.mark.parametrize(
    ("raw", "expected"), [(42.0, "42"), ("42", "42"), ("0.50", "0.5"), (-0.0, "0"), (None, None)]
)
def test_numbers_from_either_side_compare_equal(raw: object, expected: str | None) -> None:
    assert canonical_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), ("true", True), ("0", False), ("No", False), (None, None), ("", None)]
)
def test_yes_no_values_become_booleans(raw: object, expected: bool | None) -> None:
    assert parse_bool(raw) is expected


def test_checkbox_travels_as_text_and_comes_back_as_the_same_boolean() -> None:
    written = getresponse_values(FieldKind.BOOLEAN, True)

    assert written == ["true"]
    assert canonical_value(FieldKind.BOOLEAN, written[0]) is True
    assert salesforce_value(FieldKind.BOOLEAN, None) is False


def test_text_is_trimmed_and_empty_text_is_none() -> None:
    assert normalize_text("  Acme  ") == "Acme"
    assert normalize_text("   ") is None
    assert normalize_text(False) == "false"


def test_custom_field_values_are_always_arrays_of_strings() -> None:
    assert getresponse_values(FieldKind.NUMBER, "42.50") == ["42.5"]
    assert getresponse_values(FieldKind.COUNTRY, "USA") == ["United States"]
    assert getresponse_values(FieldKind.TEXT, "Acme") == ["Acme"]
    assert getresponse_values(FieldKind.TEXT, None) == []


def test_number_that_is_not_a_number_is_refused_for_both_systems() -> None:
    with pytest.raises(NotCoercible):
        getresponse_values(FieldKind.NUMBER, "forty")
    with pytest.raises(NotCoercible):
        salesforce_value(FieldKind.NUMBER, "forty")
    assert salesforce_value(FieldKind.NUMBER, "42") == 42
    assert salesforce_value(FieldKind.NUMBER, "4.5") == 4.5


def test_getresponse_name_cannot_be_cleared_or_too_long() -> None:
    with pytest.raises(NotCoercible, match="cannot clear"):
        getresponse_name(None)
    with pytest.raises(NotCoercible, match="128"):
        getresponse_name("x" * 129)
    assert getresponse_name(" Pat   Lee ") == "Pat Lee"
