"""The New sync wizard's field-mapping grid: a row per Salesforce field of each chosen object, the
GetResponse field chosen for it, and the problems shown beside it; and the SyncCreate mapping the
grid means. Separate from the pages because it is the one place that translates a grid into
`app.domain.mapping` terms."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from app.control.discovery import SalesforceFieldRead
from app.domain.mapping import StandardField
from app.domain.sides import ObjectType

NOT_MAPPED = ""
NAME_PARTS = ("FirstName", "LastName")


@dataclass
class Row:
    object_type: ObjectType
    field: SalesforceFieldRead
    chosen: str = NOT_MAPPED
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def key(self) -> str:
        return f"map.{self.object_type.value}.{self.field.name}"


def grid_rows(
    object_types: list[ObjectType], fields: dict[ObjectType, list[SalesforceFieldRead]], form: Any
) -> list[Row]:
    rows = []
    for object_type in object_types:
        for found in fields[object_type]:
            if not (found.updateable or found.required) or found.type in ("id", "reference"):
                continue
            row = Row(object_type, found)
            given = form.get(row.key)
            row.chosen = (
                str(given)
                if given is not None
                else ("email" if found.type == "email" and found.name == "Email" else NOT_MAPPED)
            )
            rows.append(row)
    return rows


def place_problems(rows: list[Row], messages: list[str]) -> list[str]:
    """Each problem beside the row it names (`Lead.Phone`, or the field alone); the rest in general."""
    general = []
    for message in messages:
        placed = False
        for row in rows:
            qualified = f"{row.object_type.value}.{row.field.name}"
            if re.search(rf"(?<![\w.]){re.escape(qualified)}\b", message) or re.search(
                rf"^{re.escape(row.field.name)} is required on {row.object_type.value}s", message
            ):
                row.problems.append(message)
                placed = True
        if not placed:
            general.append(message)
    return general


def sync_body(
    answers: dict[str, Any], rows: list[Row], types: dict[str, str], skip_unmapped: bool
) -> dict[str, Any]:
    """The SyncCreate the grid means: one mapping per (target, Salesforce field), over the objects
    that map it; FirstName and LastName to `name` become the name pair."""
    grouped: dict[tuple[str, str], set[str]] = {}
    name_objects: set[str] = set()
    for row in rows:
        if not row.chosen:
            continue
        if row.chosen == StandardField.NAME:
            name_objects.add(row.object_type.value)
            continue
        grouped.setdefault((row.chosen, row.field.name), set()).add(row.object_type.value)
    booleans = {row.field.name for row in rows if row.field.type == "boolean"}
    fields: list[dict[str, Any]] = []
    for (target, salesforce), objects in grouped.items():
        if target == StandardField.EMAIL:
            fields.append(
                {
                    "name": "email",
                    "salesforce": salesforce,
                    "getresponse": "email",
                    "objects": sorted(objects),
                }
            )
            continue
        name = _canonical_name(target, rows)
        fields.append(
            {
                "name": name,
                "salesforce": salesforce,
                "objects": sorted(objects),
                "boolean": salesforce in booleans,
                "getresponse": {"custom_field_id": target, "type": types.get(target, "string")},
            }
        )
    if name_objects:
        fields.append(
            {
                "name": "name",
                "salesforce": list(NAME_PARTS),
                "getresponse": "name",
                "objects": sorted(name_objects),
            }
        )
    mapped = {row.field.name for row in rows if row.chosen}
    skipped = sorted(
        {
            row.field.name
            for row in rows
            if skip_unmapped and row.field.required and row.field.name not in mapped
        }
    )
    return {
        "name": answers["name"],
        "campaign_id": answers["campaign_id"],
        "salesforce_objects": answers["salesforce_objects"],
        "soql_filter": answers["soql_filter"] or None,
        "salesforce_campaign_id": answers["salesforce_campaign_id"] or None,
        "create_as": answers["create_as"] or "Lead",
        "lead_source": answers["lead_source"] or None,
        "preferred_system": answers["preferred_system"] or "salesforce",
        "marker_field": answers["marker_field"] or None,
        "set_opt_out": answers["set_opt_out"] == "on",
        "mapping": {"fields": fields, "skipped": skipped},
        "first_sync": True,
    }


def _canonical_name(target: str, rows: list[Row]) -> str:
    for row in rows:
        for option in row.field.targets:
            if option.getresponse == target:
                cleaned = re.sub(r"[^a-z0-9_]", "_", option.name.lower()).strip("_")
                return cleaned if re.match(r"^[a-z]", cleaned) else f"f_{cleaned}"
    return f"f_{target.lower()}"
