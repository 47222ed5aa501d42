"""The forms in which Event Relay may hand over a change event's payload (api-contracts A6 leaves it
UNCONFIRMED), so that the receiver can be tested against both:

- `cometd`: what the CometD relay posts (cdc.py): field names in `changedFields`, only the changed
  fields on UPDATE, ISO date-times in the body;
- `pubsub`: the Pub/Sub API's form written as JSON (A2 "Body contents by operation", A5 "Avro
  payloads", "Bitmap fields"): every field present, null when empty (and on UPDATE when unchanged);
  date-times in epoch milliseconds; `changedFields` and `nulledFields` as hex bitmaps over the
  field positions (ChangeEventHeader first, then the object's fields in describe order, a compound
  field as one nested record at the place of its first component, with a `P-0x..` bitmap over its
  components).

The `pubsub` form is made from the `cometd` event, which holds the same facts: CREATE and UNDELETE
carry every non-empty field, UPDATE the changed ones with their new values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from simulators.salesforce import schema, timefmt

PayloadForm = Literal["cometd", "pubsub"]
_LEFT_OUT = {"Id"}


@dataclass(frozen=True)
class Slot:
    """One top-level field of the payload: a plain field, or a compound with its components."""

    name: str
    type: str = ""
    components: tuple[str, ...] = ()


def layout(entity: str) -> list[Slot]:
    """The payload's top-level fields after ChangeEventHeader (position 0), in order."""
    sobject = schema.SOBJECTS[entity]
    slots: list[Slot] = []
    for definition in sobject.fields:
        if definition.name in _LEFT_OUT or not definition.in_change_events or definition.calculated:
            continue
        if definition.compound:
            if all(slot.name != definition.compound for slot in slots):
                components = tuple(c.component or c.name for c in sobject.components(definition.compound))
                slots.append(Slot(definition.compound, components=components))
            continue
        slots.append(Slot(definition.name, definition.type))
    return slots


def _bitmap(positions: list[int]) -> str:
    return f"0x{sum(1 << p for p in positions):X}"


def _epoch_ms(value: Any) -> Any:
    if isinstance(value, str):
        return timefmt.epoch_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def as_pubsub(payload: dict[str, Any]) -> dict[str, Any]:
    """The `cometd` payload of one change event in the `pubsub` form."""
    header = dict(payload["ChangeEventHeader"])
    changed = set(header.get("changedFields") or [])
    body: dict[str, Any] = {}
    top_changed: list[int] = []
    top_nulled: list[int] = []
    nested: list[str] = []
    nested_nulled: list[str] = []
    for position, slot in enumerate(layout(header["entityName"]), start=1):
        sent = payload.get(slot.name)
        if slot.components:
            values = sent if isinstance(sent, dict) else {}
            record = {component: values.get(component) for component in slot.components}
            body[slot.name] = record if any(c in values for c in slot.components) else None
            hit = [i for i, c in enumerate(slot.components) if f"{slot.name}.{c}" in changed]
            if hit:
                top_changed.append(position)
                nested.append(f"{position}-{_bitmap(hit)}")
                cleared = [i for i in hit if values.get(slot.components[i]) is None]
                if cleared:
                    nested_nulled.append(f"{position}-{_bitmap(cleared)}")
            continue
        body[slot.name] = _epoch_ms(sent) if slot.type == "datetime" else sent
        if slot.name in changed:
            top_changed.append(position)
            if sent is None:
                top_nulled.append(position)
    if changed:
        header["changedFields"] = [_bitmap(top_changed), *nested]
        header["nulledFields"] = [_bitmap(top_nulled), *nested_nulled] if top_nulled or nested_nulled else []
    return {"ChangeEventHeader": header, **body}


def in_form(payload: dict[str, Any], form: PayloadForm) -> dict[str, Any]:
    return as_pubsub(payload) if form == "pubsub" else payload
