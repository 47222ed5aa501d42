"""Normalising single values into canonical form, so that a value and its echo compare equal.

Every function here takes what a vendor sent (a JSON scalar) and returns a canonical `Value`, or raises
`NotCoercible` when the value cannot be given the form a typed GetResponse field needs.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

import phonenumbers
import pycountry

from app.domain.sides import DomainError, MissingEmail, Value

DEFAULT_PLACEHOLDER = "[not provided]"
GETRESPONSE_NAME_MAX = 128


class FieldKind(StrEnum):
    """How a field's values are normalised; follows from the field's GetResponse target."""

    EMAIL = "email"
    NAME = "name"
    PHONE = "phone"
    COUNTRY = "country"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TEXT = "text"


class NotCoercible(DomainError):
    """The value cannot be written to a typed field; the reason is shown in the decision log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_text(raw: object) -> str | None:
    """Trimmed text, with empty as None; booleans and numbers get one fixed spelling."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return canonical_number(raw)
    text = str(raw).strip()
    return text or None


def normalize_email(raw: object) -> str | None:
    """The form emails are compared and linked by: GetResponse treats them case-insensitively."""
    text = normalize_text(raw)
    return text.lower() if text is not None else None


def require_email(raw: object) -> str:
    email = normalize_email(raw)
    if email is None:
        raise MissingEmail("the person has no email address")
    local, at, domain = email.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in email):
        raise MissingEmail(f"{email!r} is not an email address")
    return email


def normalize_name(raw: object) -> str | None:
    """A display name with single spaces, the form GetResponse gives back."""
    text = normalize_text(raw)
    return " ".join(text.split()) if text is not None else None


def join_name(
    first: object, last: object, *, last_placeholder: str | None = DEFAULT_PLACEHOLDER
) -> str | None:
    """Salesforce FirstName/LastName as GetResponse's single name.

    A LastName equal to the placeholder we write when creating a record without a name reads as empty,
    so the placeholder never travels to GetResponse.
    """
    last_text = normalize_name(last)
    if last_text is not None and last_text == normalize_name(last_placeholder):
        last_text = None
    parts = [part for part in (normalize_name(first), last_text) if part]
    return " ".join(parts) or None


def split_name(name: object) -> tuple[str | None, str | None]:
    """GetResponse's name as (FirstName, LastName): the last word is the LastName."""
    text = normalize_name(name)
    if text is None:
        return None, None
    first, _, last = text.rpartition(" ")
    return first or None, last


def canonical_number(raw: object) -> str | None:
    """Decimal text without exponent or trailing zeros: Salesforce's 42.0 and GetResponse's "42" agree."""
    if raw is None or isinstance(raw, bool):
        return normalize_text(raw)
    text = str(raw).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    formatted = format(number.normalize(), "f")
    return "0" if formatted in ("-0", "0") else formatted


_TRUE = frozenset({"true", "1", "yes", "y", "on", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "f"})


def parse_bool(raw: object) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    text = normalize_text(raw)
    if text is None:
        return None
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise NotCoercible(f"{text!r} is not a yes/no value")


# Names people type that pycountry does not know; pycountry already covers ISO codes, official names
# and common names ("South Korea", "Iran", "Vietnam").
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "russia": "RU",
    "holland": "NL",
}


@lru_cache(maxsize=1024)
def country_name(raw: str) -> str:
    """ISO 3166 English short name ("United States", "Poland"): what a GetResponse country field takes.

    api-contracts.md B7 leaves the accepted form UNCONFIRMED; the GetResponse simulator takes exactly
    this one, so writing it is right there and the likeliest form on the real service.
    """
    text = " ".join(raw.split())
    if not text:
        raise NotCoercible("no country given")
    try:
        country = pycountry.countries.lookup(_COUNTRY_ALIASES.get(text.casefold(), text))
    except LookupError:
        raise NotCoercible(f"{text!r} is not a known country") from None
    return str(country.name)


def canonical_country(raw: object) -> str | None:
    """The country's short name when it resolves; otherwise the text as typed, kept for comparison."""
    text = normalize_text(raw)
    if text is None:
        return None
    try:
        return country_name(text)
    except NotCoercible:
        return " ".join(text.split())


def country_code(raw: object) -> str | None:
    """ISO alpha-2 code of a country, for use as a phone region; None when it does not resolve."""
    text = normalize_text(raw)
    if text is None:
        return None
    try:
        name = country_name(text)
    except NotCoercible:
        return None
    return str(pycountry.countries.lookup(name).alpha_2)


def phone_e164(raw: object, region: str | None = None) -> str:
    """International E.164 form (+48600100200), as GetResponse phone fields require (B7).

    `region` (ISO alpha-2, from the record's country) is used only for numbers written without a
    country code: GetResponse would otherwise guess from its own country field or fall back to +1.
    """
    text = normalize_text(raw)
    if text is None:
        raise NotCoercible("no phone number given")
    dialled = "+" + text[2:] if text.startswith("00") else text
    try:
        number = phonenumbers.parse(dialled, None if dialled.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise NotCoercible("not a valid phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise NotCoercible("not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def canonical_phone(raw: object, region: str | None = None) -> str | None:
    """E.164 when the number parses; otherwise the text as typed, so that it can still be compared."""
    text = normalize_text(raw)
    if text is None:
        return None
    try:
        return phone_e164(text, region)
    except NotCoercible:
        return text


# --- by kind: what the mapping calls ------------------------------------------------------------------


def canonical_value(kind: FieldKind, raw: object, region: str | None = None) -> Value:
    """A vendor's value (either side) in canonical form; never raises, so any value can be compared."""
    if kind is FieldKind.EMAIL:
        return normalize_email(raw)
    if kind is FieldKind.NAME:
        return normalize_name(raw)
    if kind is FieldKind.PHONE:
        return canonical_phone(raw, region)
    if kind is FieldKind.COUNTRY:
        return canonical_country(raw)
    if kind is FieldKind.NUMBER:
        return canonical_number(raw)
    if kind is FieldKind.BOOLEAN:
        try:
            return parse_bool(raw)
        except NotCoercible:
            return normalize_text(raw)
    return normalize_text(raw)


def salesforce_value(kind: FieldKind, value: Value) -> Any:
    """A canonical value as Salesforce REST JSON takes it."""
    if kind is FieldKind.EMAIL:
        if value is None:
            raise MissingEmail("cannot clear the email of a Salesforce record")
        return value
    if kind is FieldKind.BOOLEAN:
        # A checkbox has no empty state.
        return bool(parse_bool(value))
    if kind is FieldKind.NUMBER and value is not None:
        number = _decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    return value


def getresponse_values(kind: FieldKind, value: Value, region: str | None = None) -> list[str]:
    """A canonical value as a GetResponse custom field's `value`: always an array of strings (B6)."""
    if value is None:
        return []
    if kind is FieldKind.PHONE:
        return [phone_e164(value, region)]
    if kind is FieldKind.COUNTRY:
        return [country_name(str(value))]
    if kind is FieldKind.NUMBER:
        return [format(_decimal(value).normalize(), "f")]
    text = normalize_text(value)
    return [text] if text is not None else []


def getresponse_name(value: Value) -> str:
    name = normalize_name(value)
    if name is None:
        raise NotCoercible("GetResponse cannot clear a contact's name")
    if len(name) > GETRESPONSE_NAME_MAX:
        raise NotCoercible(f"longer than GetResponse's {GETRESPONSE_NAME_MAX} characters")
    return name


def _decimal(value: Value) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise NotCoercible(f"{value!r} is not a number") from None
    if isinstance(value, bool) or not number.is_finite():
        raise NotCoercible(f"{value!r} is not a number")
    return number
