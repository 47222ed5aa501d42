"""Which Salesforce field feeds which GetResponse field, and the translation of values both ways.

A sync's mapping is stored as JSON and edited through the API, so it is a pydantic model; the
conversions are pure functions of it. Everything inside the resolver is canonical (see `sides.Value`);
these are the only places vendor values come in or go out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.domain import coercion
from app.domain.coercion import FieldKind
from app.domain.sides import MissingEmail, ObjectType, Side, Value

# Field names end up in SOQL and REST paths: only API-name characters are allowed.
SalesforceFieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=80)]

# Salesforce refuses to create a record without these (api-contracts.md A3, "Fields of interest").
REQUIRED_SALESFORCE_FIELDS: Mapping[ObjectType, tuple[str, ...]] = {
    ObjectType.LEAD: ("LastName", "Company"),
    ObjectType.CONTACT: ("LastName",),
}

# Where the country lives when the mapping does not say: Contacts keep it in the mailing address.
DEFAULT_COUNTRY_FIELD: Mapping[ObjectType, str] = {
    ObjectType.LEAD: "Country",
    ObjectType.CONTACT: "MailingCountry",
}


class StandardField(StrEnum):
    EMAIL = "email"
    NAME = "name"


class CustomFieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    COUNTRY = "country"
    CURRENCY = "currency"
    PHONE = "phone"
    GENDER = "gender"
    IP = "ip"
    URL = "url"


TEXT_TYPES = frozenset({CustomFieldType.STRING, CustomFieldType.TEXT})


class CustomFieldTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    custom_field_id: str = Field(min_length=1, max_length=64)
    type: CustomFieldType


class FieldMapping(BaseModel):
    """One canonical field: its Salesforce source and its GetResponse target.

    `salesforce` is a field API name, or (FirstName, LastName) for the name. A field that lives under
    different names on Leads and Contacts (Country, MailingCountry) is two mappings with the same
    `name` and target and disjoint `objects`. `boolean` marks a checkbox sent to a text field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    salesforce: SalesforceFieldName | tuple[SalesforceFieldName, SalesforceFieldName]
    getresponse: StandardField | CustomFieldTarget
    objects: frozenset[ObjectType] = frozenset(ObjectType)
    boolean: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> FieldMapping:
        is_pair = isinstance(self.salesforce, tuple)
        if is_pair != (self.getresponse is StandardField.NAME):
            raise ValueError("the GetResponse name takes exactly the pair (FirstName, LastName)")
        if self.boolean and not (
            isinstance(self.getresponse, CustomFieldTarget) and self.getresponse.type in TEXT_TYPES
        ):
            raise ValueError("a checkbox can only go to a GetResponse text field")
        if not self.objects:
            raise ValueError("a mapping applies to Leads, Contacts or both")
        return self

    @property
    def kind(self) -> FieldKind:
        if self.getresponse is StandardField.EMAIL:
            return FieldKind.EMAIL
        if self.getresponse is StandardField.NAME:
            return FieldKind.NAME
        assert isinstance(self.getresponse, CustomFieldTarget)
        if self.boolean:
            return FieldKind.BOOLEAN
        return _KIND_OF_TYPE.get(self.getresponse.type, FieldKind.TEXT)

    @property
    def salesforce_fields(self) -> tuple[str, ...]:
        return self.salesforce if isinstance(self.salesforce, tuple) else (self.salesforce,)


_KIND_OF_TYPE = {
    CustomFieldType.PHONE: FieldKind.PHONE,
    CustomFieldType.COUNTRY: FieldKind.COUNTRY,
    CustomFieldType.NUMBER: FieldKind.NUMBER,
}


@dataclass(frozen=True, slots=True)
class CoercionNote:
    """A value that was not written because the target cannot hold it; goes to the decision log."""

    field: str
    value: Value
    side: Side
    reason: str


@dataclass(frozen=True, slots=True)
class SalesforceWrite:
    fields: dict[str, Any]
    skipped: tuple[CoercionNote, ...] = ()

    @property
    def refused(self) -> dict[str, str]:
        """Field -> reason, the shape `Resolution.without_writes` takes."""
        return {note.field: note.reason for note in self.skipped}


@dataclass(frozen=True, slots=True)
class GetResponseWrite:
    """Pieces of a contact body: `email`, `name` and `customFieldValues`, each only when written.

    GetResponse refuses an empty value array, so a cleared custom field is listed in `cleared`
    instead: clearing means sending the contact's whole set without it (`custom_field_set`).
    """

    payload: dict[str, Any]
    skipped: tuple[CoercionNote, ...] = ()
    cleared: tuple[str, ...] = ()

    def custom_field_set(self, current: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The whole `customFieldValues` for POST /contacts/{id}, which replaces the set (B6): the
        contact's `current` values (from its ContactDetails), updated and with the cleared ones gone."""
        written = self.payload.get("customFieldValues", [])
        replaced = {entry["customFieldId"] for entry in written} | set(self.cleared)
        kept = [
            {"customFieldId": entry["customFieldId"], "value": list(_entry_values(entry))}
            for entry in current
            if entry.get("customFieldId") not in replaced and _entry_values(entry)
        ]
        return kept + [dict(entry) for entry in written]

    @property
    def refused(self) -> dict[str, str]:
        """Field -> reason, the shape `Resolution.without_writes` takes."""
        return {note.field: note.reason for note in self.skipped}


class SyncMapping(BaseModel):
    """All mapped fields of one sync, the Salesforce fields left out on purpose, and placeholders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: tuple[FieldMapping, ...]
    skipped: frozenset[SalesforceFieldName] = frozenset()
    # Written where Salesforce requires a value we do not have, and read back as empty, so that a
    # placeholder never travels to GetResponse.
    placeholders: dict[SalesforceFieldName, str] = Field(
        default_factory=lambda: {
            "LastName": coercion.DEFAULT_PLACEHOLDER,
            "Company": coercion.DEFAULT_PLACEHOLDER,
        }
    )

    def for_object(self, object_type: ObjectType) -> tuple[FieldMapping, ...]:
        return tuple(m for m in self.fields if object_type in m.objects)

    def by_name(self) -> dict[str, FieldMapping]:
        """One mapping per canonical name: the GetResponse side of Lead and Contact variants is the same."""
        named: dict[str, FieldMapping] = {}
        for mapping in self.fields:
            named.setdefault(mapping.name, mapping)
        return named

    def canonical_names(self, object_type: ObjectType) -> frozenset[str]:
        """The canonical fields a Salesforce object of this type carries (`Snapshot.carries`)."""
        return frozenset(m.name for m in self.for_object(object_type))

    def salesforce_field_names(self, object_type: ObjectType) -> list[str]:
        """Fields to read from Salesforce to build a complete snapshot of this object."""
        names = [f for m in self.for_object(object_type) for f in m.salesforce_fields]
        names.append(self._country_field(object_type))
        return list(dict.fromkeys(names))

    # --- Salesforce -> canonical ---------------------------------------------------------------------

    def salesforce_to_canonical(
        self, record: Mapping[str, Any], object_type: ObjectType, *, complete: bool = False
    ) -> dict[str, Value]:
        """Canonical values of the mapped fields present in `record`; a partial record gives a partial
        result. A name with only one of its halves present is left out (see
        `salesforce_fields_to_complete`). `complete` says an absent field is empty, as in a CDC CREATE
        or UNDELETE, which carry only the non-empty fields (A2)."""
        flat = _flatten(record)
        if complete:
            flat = {**dict.fromkeys(self.salesforce_field_names(object_type)), **flat}
        country_field = self._country_field(object_type)
        region = coercion.country_code(flat.get(country_field)) if country_field in flat else None
        values: dict[str, Value] = {}
        for mapping in self.for_object(object_type):
            if isinstance(mapping.salesforce, tuple):
                first, last = mapping.salesforce
                if first in flat and last in flat:
                    values[mapping.name] = coercion.join_name(
                        flat[first], flat[last], last_placeholder=self.placeholders.get(last)
                    )
                continue
            if mapping.salesforce not in flat:
                continue
            raw = flat[mapping.salesforce]
            if _is_placeholder(raw, self.placeholders.get(mapping.salesforce)):
                raw = None
            value = coercion.canonical_value(mapping.kind, raw, region)
            # A Salesforce checkbox has no empty state: absent or null is unticked.
            values[mapping.name] = False if mapping.kind is FieldKind.BOOLEAN and value is None else value
        return values

    def salesforce_fields_to_complete(self, record: Mapping[str, Any], object_type: ObjectType) -> list[str]:
        """Fields a partial record (a CDC UPDATE) lacks for its own values to be canonicalised: the
        other half of a changed name, the country of a phone number written without a country code."""
        flat = _flatten(record)
        missing: list[str] = []
        country_field = self._country_field(object_type)
        for mapping in self.for_object(object_type):
            present = [f for f in mapping.salesforce_fields if f in flat]
            if present and len(present) < len(mapping.salesforce_fields):
                missing.extend(f for f in mapping.salesforce_fields if f not in flat)
            if mapping.kind is FieldKind.PHONE and present and _is_local_number(flat[present[0]]):
                missing.append(country_field)
        return [f for f in dict.fromkeys(missing) if f not in flat]

    # --- GetResponse -> canonical --------------------------------------------------------------------

    def getresponse_to_canonical(self, contact: Mapping[str, Any]) -> dict[str, Value]:
        """Canonical values from a ContactDetails body (or the smaller contact of a webhook).

        `customFieldValues` replaces the whole set on GetResponse, so when it is present a mapped field
        missing from it is empty; when the key itself is absent, the custom fields are unknown.
        """
        values: dict[str, Value] = {}
        custom = _custom_values(contact)
        region = None
        for mapping in self.by_name().values():
            if mapping.kind is FieldKind.COUNTRY and custom is not None:
                region = coercion.country_code(custom.get(_target_id(mapping)))
        for mapping in self.by_name().values():
            target = mapping.getresponse
            if target is StandardField.EMAIL:
                if "email" in contact:
                    values[mapping.name] = coercion.normalize_email(contact["email"])
            elif target is StandardField.NAME:
                if "name" in contact:
                    values[mapping.name] = coercion.normalize_name(contact["name"])
            elif custom is not None:
                values[mapping.name] = coercion.canonical_value(
                    mapping.kind, custom.get(_target_id(mapping)), region
                )
        return values

    # --- canonical -> vendors ------------------------------------------------------------------------

    def canonical_to_salesforce(
        self, values: Mapping[str, Value], object_type: ObjectType, *, creating: bool
    ) -> SalesforceWrite:
        """Salesforce fields for the canonical `values` (only those given, unless `creating`, when every
        field Salesforce requires is filled, with its placeholder if need be)."""
        fields: dict[str, Any] = {}
        skipped: list[CoercionNote] = []
        for mapping in self.for_object(object_type):
            if mapping.name not in values:
                if creating and mapping.kind is FieldKind.EMAIL:
                    raise MissingEmail("cannot create a Salesforce record without an email")
                continue
            value = values[mapping.name]
            if isinstance(mapping.salesforce, tuple):
                first, last = coercion.split_name(value)
                fields[mapping.salesforce[0]] = first
                fields[mapping.salesforce[1]] = last or self.placeholders.get(mapping.salesforce[1])
                continue
            try:
                out = coercion.salesforce_value(mapping.kind, value)
            except coercion.NotCoercible as refused:
                skipped.append(CoercionNote(mapping.name, value, Side.SALESFORCE, refused.reason))
                continue
            fields[mapping.salesforce] = out if out is not None else self.placeholders.get(mapping.salesforce)
        if creating:
            for required in REQUIRED_SALESFORCE_FIELDS[object_type]:
                if fields.get(required) is None:
                    fields[required] = self.placeholders.get(required, coercion.DEFAULT_PLACEHOLDER)
        return SalesforceWrite(fields, tuple(skipped))

    def canonical_to_getresponse(self, values: Mapping[str, Value]) -> GetResponseWrite:
        """`email`, `name` and `customFieldValues` (arrays of strings) for the canonical `values` given.

        A value a typed field cannot hold is left out and reported; GetResponse would otherwise drop it
        silently or refuse the whole contact (api-contracts.md B7).
        """
        payload: dict[str, Any] = {}
        custom: list[dict[str, Any]] = []
        cleared: list[str] = []
        skipped: list[CoercionNote] = []
        region = next(
            (coercion.country_code(values.get(m.name)) for m in self.fields if m.kind is FieldKind.COUNTRY),
            None,
        )
        for mapping in self.by_name().values():
            if mapping.name not in values:
                continue
            value = values[mapping.name]
            try:
                if mapping.getresponse is StandardField.EMAIL:
                    payload["email"] = coercion.require_email(value)
                elif mapping.getresponse is StandardField.NAME:
                    payload["name"] = coercion.getresponse_name(value)
                elif value is None:
                    cleared.append(_target_id(mapping))
                else:
                    custom.append(
                        {
                            "customFieldId": _target_id(mapping),
                            "value": coercion.getresponse_values(mapping.kind, value, region),
                        }
                    )
            except coercion.NotCoercible as refused:
                skipped.append(CoercionNote(mapping.name, value, Side.GETRESPONSE, refused.reason))
        if custom:
            payload["customFieldValues"] = custom
        return GetResponseWrite(payload, tuple(skipped), tuple(cleared))

    def _country_field(self, object_type: ObjectType) -> str:
        for mapping in self.for_object(object_type):
            if mapping.kind is FieldKind.COUNTRY and isinstance(mapping.salesforce, str):
                return mapping.salesforce
        return DEFAULT_COUNTRY_FIELD[object_type]


def _is_local_number(raw: object) -> bool:
    text = coercion.normalize_text(raw)
    return text is not None and not text.startswith(("+", "00"))


def _is_placeholder(raw: object, placeholder: str | None) -> bool:
    return placeholder is not None and isinstance(raw, str) and raw.strip() == placeholder.strip()


def _target_id(mapping: FieldMapping) -> str:
    assert isinstance(mapping.getresponse, CustomFieldTarget)
    return mapping.getresponse.custom_field_id


def _custom_values(contact: Mapping[str, Any]) -> dict[str, str | None] | None:
    entries = contact.get("customFieldValues")
    if entries is None:
        return None
    values: dict[str, str | None] = {}
    for entry in entries:
        # Multi-select values come as several strings; Salesforce multi-picklists join them with ";".
        values[str(entry.get("customFieldId"))] = ";".join(_entry_values(entry)) or None
    return values


def _entry_values(entry: Mapping[str, Any]) -> list[str]:
    """A customFieldValues entry's strings: responses carry both `value` and `values`."""
    raw = entry.get("value")
    if raw is None:
        raw = entry.get("values") or []
    return [str(v).strip() for v in raw if v is not None and str(v).strip()]


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """CDC sends compound fields nested (api-contracts.md A2): Name{FirstName, LastName} and
    Address{Country}, MailingAddress{Country}. Flat names win when both are present."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping) and key not in ("attributes", "ChangeEventHeader"):
            prefix = key.removesuffix("Address") if key.endswith("Address") else ""
            for component, inner in value.items():
                flat.setdefault(prefix + component, inner)
    flat.update((k, v) for k, v in record.items() if not isinstance(v, Mapping))
    return flat
