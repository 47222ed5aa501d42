"""Checks a field mapping against both systems' field lists before a sync may use it.

The sync-configuration API reads the field lists (Salesforce describe, GetResponse custom fields) and
shows these messages to the person editing the mapping, so each one says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.mapping import (
    TEXT_TYPES,
    CustomFieldTarget,
    CustomFieldType,
    FieldMapping,
    StandardField,
    SyncMapping,
)
from app.domain.sides import ObjectType


@dataclass(frozen=True, slots=True)
class SalesforceFieldInfo:
    """One field of a Salesforce describe: `type` is describe's (string, email, phone, boolean, ...);
    `required` means creating a record without it fails (not nillable, no default on create)."""

    name: str
    type: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class CustomFieldInfo:
    custom_field_id: str
    name: str
    type: str


def validate_mapping(
    mapping: SyncMapping,
    salesforce_fields: Mapping[ObjectType, Mapping[str, SalesforceFieldInfo]],
    getresponse_custom_fields: Mapping[str, CustomFieldInfo],
    object_types: Iterable[ObjectType],
) -> list[str]:
    """Human-readable problems with `mapping` for a sync over `object_types`; empty when it is usable."""
    objects = list(dict.fromkeys(object_types))
    errors: list[str] = []
    for object_type in objects:
        known = salesforce_fields.get(object_type)
        if known is None:
            errors.append(f"No Salesforce field list for {object_type}.")
            continue
        errors.extend(_object_errors(mapping, object_type, known, getresponse_custom_fields))
    errors.extend(_target_errors(mapping, getresponse_custom_fields))
    every_known = {name for fields in salesforce_fields.values() for name in fields}
    errors.extend(
        f"Skipped field {name} does not exist in Salesforce."
        for name in sorted(mapping.skipped - every_known)
    )
    return list(dict.fromkeys(errors))


def _object_errors(
    mapping: SyncMapping,
    object_type: ObjectType,
    known: Mapping[str, SalesforceFieldInfo],
    custom_fields: Mapping[str, CustomFieldInfo],
) -> list[str]:
    plural = f"{object_type}s"
    applicable = mapping.for_object(object_type)
    errors: list[str] = []
    if not any(m.getresponse is StandardField.EMAIL for m in applicable):
        errors.append(f"Email must be mapped to the GetResponse email field for {plural}.")
    mapped = {f for m in applicable for f in m.salesforce_fields}
    if object_type is ObjectType.LEAD and "Company" not in mapped:
        errors.append("Company is required on Leads: map it to a GetResponse field.")
        # Company cannot be skipped on Leads: the "map it, or skip it" advice below would mislead.
        mapped.add("Company")

    names = [m.name for m in applicable]
    twice = sorted({n for n in names if names.count(n) > 1})
    errors.extend(f"Field '{name}' is mapped twice for {plural}." for name in twice)
    for field_mapping in applicable:
        for field in field_mapping.salesforce_fields:
            info = known.get(field)
            if info is None:
                errors.append(
                    f"Unknown Salesforce field {object_type}.{field} (mapping '{field_mapping.name}')."
                )
            elif isinstance(field_mapping.getresponse, CustomFieldTarget):
                errors.extend(_typed_target_errors(object_type, info, field_mapping, custom_fields))

    errors.extend(
        f"{object_type}.{name} is required in Salesforce: map it, or list it as skipped."
        for name, info in sorted(known.items())
        if info.required and name not in mapped and name not in mapping.skipped
    )
    return errors


def _typed_target_errors(
    object_type: ObjectType,
    info: SalesforceFieldInfo,
    field_mapping: FieldMapping,
    custom_fields: Mapping[str, CustomFieldInfo],
) -> list[str]:
    assert isinstance(field_mapping.getresponse, CustomFieldTarget)
    found = custom_fields.get(field_mapping.getresponse.custom_field_id)
    label = found.name if found is not None else field_mapping.getresponse.custom_field_id
    problem = custom_field_problem(object_type, info, field_mapping.getresponse.type, label)
    return [problem] if problem is not None else []


def custom_field_problem(
    object_type: ObjectType, info: SalesforceFieldInfo, target: str, label: str
) -> str | None:
    """Why the Salesforce field cannot go to the GetResponse custom field `label` of type `target`
    (None: it can). Phone and country values only fit GetResponse fields of their own type (B7) or
    plain text; a checkbox only fits a text field (it is sent as "true" or "false"). The discovery
    endpoints show this per field, before a mapping exists."""
    if info.type == "boolean":
        if target in TEXT_TYPES:
            return None
        return (
            f"{object_type}.{info.name} is a checkbox, which GetResponse field '{label}' of type {target} "
            "cannot store: map it to a text field."
        )
    if info.type == "phone" or info.name.lower().endswith("phone"):
        expected = CustomFieldType.PHONE
    elif info.name.endswith(("Country", "CountryCode")):
        expected = CustomFieldType.COUNTRY
    else:
        return None
    if target == expected or target in TEXT_TYPES:
        return None
    return (
        f"{object_type}.{info.name} holds {expected} values, which GetResponse field '{label}' of type "
        f"{target} cannot store: map it to a {expected} field or to a text field."
    )


def _target_errors(mapping: SyncMapping, custom_fields: Mapping[str, CustomFieldInfo]) -> list[str]:
    errors: list[str] = []
    owner: dict[object, str] = {}
    for field_mapping in mapping.fields:
        target = field_mapping.getresponse
        key = target.custom_field_id if isinstance(target, CustomFieldTarget) else target
        if owner.setdefault(key, field_mapping.name) != field_mapping.name:
            errors.append(
                f"Fields '{owner[key]}' and '{field_mapping.name}' go to the same GetResponse field."
            )
        same_name = mapping.by_name()[field_mapping.name].getresponse
        if same_name != target:
            errors.append(f"Field '{field_mapping.name}' goes to different GetResponse fields.")
        if not isinstance(target, CustomFieldTarget):
            continue
        found = custom_fields.get(target.custom_field_id)
        if found is None:
            errors.append(
                f"Unknown GetResponse custom field {target.custom_field_id} (mapping '{field_mapping.name}')."
            )
        elif found.type in set(CustomFieldType) and not _same_type(found.type, target.type):
            errors.append(
                f"GetResponse field '{found.name}' is of type {found.type}, not {target.type} "
                f"(mapping '{field_mapping.name}')."
            )
    return errors


def _same_type(actual: str, mapped: CustomFieldType) -> bool:
    # The older response shape says "text" for what the current one calls "string" (B7).
    return actual == mapped or {actual, mapped} <= TEXT_TYPES
