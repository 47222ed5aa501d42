"""Field-level validation of a create or update body, as Salesforce applies it before a save.

api-contracts A3: REQUIRED_FIELD_MISSING (Lead: LastName, Company; Contact: LastName), length
limits (STRING_TOO_LONG), INVALID_EMAIL_ADDRESS, INVALID_FIELD for unknown names. Also, as
Salesforce does:

- field names are case-insensitive and stored under their canonical name;
- an empty string is stored as null (so `"LastName": ""` is a missing required field);
- a JSON null on a checkbox stores `false`;
- read-only fields in a body give INVALID_FIELD_FOR_INSERT_UPDATE;
- a value of the wrong JSON type gives JSON_PARSER_ERROR (Salesforce is sometimes lenient and
  coerces numbers to text; the simulator refuses, the stricter choice);
- a user reference (OwnerId) must name a known user (INVALID_CROSS_REFERENCE_KEY); references to
  records (CampaignMember's CampaignId, LeadId, ContactId) are checked by the store, which sees
  the records.
"""

from __future__ import annotations

import re
from typing import Any

from simulators.salesforce import ids
from simulators.salesforce.errors import ApiError, SalesforceError, json_parser_error, no_such_column
from simulators.salesforce.schema import FieldDef, SObjectDef

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_TEXT_TYPES = {"string", "email", "phone", "picklist", "textarea"}


def parse_body(sobject: SObjectDef, body: Any, *, creating: bool, users: set[str]) -> dict[str, Any]:
    """The body's values under canonical field names, or a SalesforceError (400)."""
    if not isinstance(body, dict):
        raise json_parser_error(
            f"Cannot deserialize instance of {sobject.name} from {_json_kind(body)} value "
            "or request may be missing a required field at [line:1, column:1]"
        )
    values: dict[str, Any] = {}
    read_only: list[str] = []
    for raw_name, raw_value in body.items():
        if raw_name == "attributes":
            continue
        definition = sobject.field(raw_name)
        if definition is None:
            raise SalesforceError(400, no_such_column(sobject.name, raw_name))
        if not (definition.createable if creating else definition.updateable):
            read_only.append(definition.name)
            continue
        values[definition.name] = _coerce(sobject, definition, raw_value, users)
    if read_only:
        raise SalesforceError(
            400,
            ApiError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                read_only,
            ),
        )
    return values


def check_record(sobject: SObjectDef, values: dict[str, Any]) -> None:
    """Whole-record rules on the values a save would store."""
    missing = [
        f.name for f in sobject.fields if _is_input(f) and not f.nillable and values.get(f.name) is None
    ]
    if missing:
        raise SalesforceError(
            400,
            ApiError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            ),
        )
    errors: list[ApiError] = []
    for definition in sobject.fields:
        value = values.get(definition.name)
        if not isinstance(value, str) or definition.type not in _TEXT_TYPES:
            continue
        if len(value) > definition.length:
            errors.append(
                ApiError(
                    "STRING_TOO_LONG",
                    f"{definition.label}: data value too large: {value} (max length={definition.length})",
                    [definition.name],
                )
            )
        elif definition.type == "email" and not _EMAIL.fullmatch(value):
            errors.append(
                ApiError(
                    "INVALID_EMAIL_ADDRESS",
                    f"{definition.label}: invalid email address: {value}",
                    [definition.name],
                )
            )
    if errors:
        raise SalesforceError(400, *errors)


def _is_input(definition: FieldDef) -> bool:
    return definition.createable or definition.updateable


def _coerce(sobject: SObjectDef, definition: FieldDef, value: Any, users: set[str]) -> Any:
    if definition.type == "boolean":
        if value is None:
            return False
        if isinstance(value, bool):
            return value
    elif definition.type in _TEXT_TYPES:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
    elif definition.type == "reference":
        if value is None or value == "":
            return None
        if isinstance(value, str):
            normalized = ids.normalize(value)
            if normalized is None:
                raise SalesforceError(400, malformed_reference(definition, value))
            if definition.reference_to == ("User",) and normalized not in users:
                raise SalesforceError(
                    400,
                    ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [definition.name]),
                )
            return normalized
    raise json_parser_error(
        f"Cannot deserialize instance of {_soap_kind(definition)} from {_json_kind(value)} value "
        f"{value!r} or request may be missing a required field at [line:1, column:1]"
    )


def malformed_reference(definition: FieldDef, raw: str) -> ApiError:
    return ApiError(
        "MALFORMED_ID", f"{definition.label}: id value of incorrect type: {raw}", [definition.name]
    )


def _soap_kind(definition: FieldDef) -> str:
    return "boolean" if definition.type == "boolean" else "string"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, (int, float)):
        return "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"
