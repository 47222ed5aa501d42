"""Records as the REST API shows them (api-contracts A3): `attributes` first, date-times as
`2024-05-01T10:00:00.000+0000`, `Name` as one string, addresses as objects with lower-case keys
(null when every component is null)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from simulators.salesforce import timefmt
from simulators.salesforce.schema import SObjectDef


def value_of(sobject: SObjectDef, values: dict[str, Any], name: str) -> Any:
    """A field's value, computing the compound `Name` and address fields."""
    definition = sobject.field(name)
    if definition is None or not definition.calculated:
        return values.get(name)
    if name == "Name":
        parts = [values.get("FirstName"), values.get("LastName")]
        return " ".join(p for p in parts if p) or None
    if definition.type == "address":
        components = {f.component: values.get(f.name) for f in sobject.components(name) if f.component}
        if all(v is None for v in components.values()):
            return None
        return {
            "city": components.get("City"),
            "country": components.get("Country"),
            "geocodeAccuracy": None,
            "latitude": None,
            "longitude": None,
            "postalCode": components.get("PostalCode"),
            "state": components.get("State"),
            "street": components.get("Street"),
        }
    return values.get(name)


def with_computed(sobject: SObjectDef, values: dict[str, Any]) -> dict[str, Any]:
    """The stored values plus the computed ones, for SOQL filtering and selection."""
    computed = {f.name: value_of(sobject, values, f.name) for f in sobject.fields if f.calculated}
    return values | computed


def wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return timefmt.rest(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def attributes(sobject: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


def record(sobject: SObjectDef, values: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
    body: dict[str, Any] = {"attributes": attributes(sobject.name, values["Id"], version)}
    for name in fields:
        body[name] = wire(value_of(sobject, values, name))
    return body
