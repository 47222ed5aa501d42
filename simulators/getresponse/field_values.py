"""Custom-field values on contacts: what the simulator accepts (api-contracts B6, B7, checklist C9).

A value is always an array of strings (`["42"]`, never `[42]` or `"42"`). Per field type:

- `phone`: a valid international number in E.164 form with its country code (`+48600100200`),
  checked with `phonenumbers`. The vendor does not document how it reports a bad phone
  (UNCONFIRMED); the simulator refuses the whole write with 400/1000 naming the field (`fieldName`
  `customFieldValues`, `originalName` the field's name), the stricter choice: nothing is stored.
  Spaces, dashes and national forms (`600 100 200`) are refused too.
- `country`: the ISO 3166 English short name exactly as `pycountry` spells it (`"Poland"`,
  `"United States"`), not a code (`"PL"`). The accepted form is UNCONFIRMED in the contracts; our
  field mapping writes exactly this form, so the simulator accepts only it.
- `number`: a decimal number; `date`: `YYYY-MM-DD`; `datetime`: an ISO 8601 date and time;
  `url`: an absolute http(s) URL; `ip`: an IPv4 or IPv6 address; `gender`: `Male`, `Female` or
  `Prefer not to say`; `currency`: an ISO 4217 code.
- `single_select` and `radio` take exactly one of the field's `values`; `multi_select` and
  `checkbox` one or more of them; every other format takes exactly one value.
- An empty array is refused through the API (to drop a value, send the whole set without it);
  only the control API's UI edit uses `[]` to clear one field.

An unknown `customFieldId` is 400/1001, and a field given twice in one request 400/1000.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from functools import cache
from urllib.parse import urlparse

import phonenumbers
import pycountry

from simulators.getresponse.errors import related_missing, validation_error
from simulators.getresponse.store import CustomField

GENDERS = ("Male", "Female", "Prefer not to say")
MULTI_FORMATS = frozenset({"multi_select", "checkbox"})
CHOICE_FORMATS = frozenset({"single_select", "radio", "multi_select", "checkbox"})
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@cache
def country_names() -> frozenset[str]:
    return frozenset(str(country.name) for country in pycountry.countries)


def is_currency_code(value: str) -> bool:
    return len(value) == 3 and pycountry.currencies.get(alpha_3=value) is not None


def is_e164_phone(value: str) -> bool:
    if not value.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return bool(phonenumbers.is_valid_number(number)) and e164 == value


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return False
    return "T" in value or " " in value


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_TYPE_CHECKS = {
    "phone": (
        is_e164_phone,
        "a valid phone number in international format with country code, e.g. +48600100200",
    ),
    "country": (lambda v: v in country_names(), "an ISO 3166 English country name, e.g. Poland"),
    "number": (lambda v: bool(_NUMBER.match(v)), "a number"),
    "date": (_is_date, "a date as YYYY-MM-DD"),
    "datetime": (_is_datetime, "an ISO 8601 date and time"),
    "url": (_is_url, "an absolute http(s) URL"),
    "ip": (_is_ip, "an IP address"),
    "gender": (lambda v: v in GENDERS, "one of " + ", ".join(GENDERS)),
    "currency": (is_currency_code, "an ISO 4217 currency code"),
}


def value_problem(definition: CustomField, values: list[str]) -> str | None:
    """Why `values` cannot be stored in this field, or None when they can."""
    if not values:
        return "at least one value is required"
    if definition.format not in MULTI_FORMATS and len(values) != 1:
        return f"field of format {definition.format} takes exactly one value"
    for value in values:
        if not value.strip():
            return "values must not be blank"
        if definition.format in CHOICE_FORMATS and value not in definition.values:
            return f"{value!r} is not one of the field's values {definition.values}"
        check = _TYPE_CHECKS.get(definition.type)
        if check is not None and not check[0](value):
            return f"{value!r} is not {check[1]}"
    return None


def checked_values(
    entries: list[tuple[str, list[str]]], fields: dict[str, CustomField], *, allow_clear: bool = False
) -> dict[str, list[str]]:
    """Validate `(customFieldId, values)` pairs against the definitions; raise the vendor's error."""
    result: dict[str, list[str]] = {}
    for field_id, values in entries:
        definition = fields.get(field_id)
        if definition is None:
            raise related_missing("customFieldId", field_id)
        if field_id in result:
            raise validation_error(
                f"custom field {definition.name} given more than once",
                field="customFieldValues",
                original=definition.name,
                kind="duplicate_custom_field",
            )
        if not (allow_clear and values == []):
            problem = value_problem(definition, values)
            if problem is not None:
                raise validation_error(
                    f"Invalid value of custom field {definition.name} ({definition.type}): {problem}",
                    field="customFieldValues",
                    original=definition.name,
                    kind=f"invalid_{definition.type}",
                )
        result[field_id] = list(values)
    return result
