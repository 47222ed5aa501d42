"""What a GetResponse event tells that the link already knows: such an event costs no read.

GetResponse has no conditional write, so a change is read before it is resolved (design.md). But
most events a sync sees are its own writes coming back: the poller's `changedOn` search reports our
update (whose answer told us its `changedOn`) and our create; the custom-field webhook reports the
value we wrote; `contact_added` reports the contact we created. When everything the event carries
equals the base, and (for a poll) its `changedOn` is no newer than the one our own write or create
was answered with, the contact is as the link knows it and there is nothing to read or to write.
Anything else (a value that differs from the base, an unknown `changedOn`, an email change, a move)
is read and merged as before, so a GetResponse value that differs from the base is always read
before it could be overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.db.models import ContactLink
from app.db.syncs import SyncConfig
from app.domain.events import ChangeEvent, Kind, Transport
from app.domain.sides import Value
from app.domain.states import LinkState
from consumers.engine import batching

ADDED = "contact_added"
CUSTOM_FIELD_CHANGED = "contact_custom_field_changed"


def base_values(link: ContactLink) -> dict[str, Value]:
    return {name: state.get("value") for name, state in link.base.items()}


def carried_agree(sync: SyncConfig, link: ContactLink, contact: Mapping[str, Any]) -> bool:
    """Whether the standard fields an event carries (`email`, `name`) equal the base; fields the
    sync does not map count as agreeing."""
    standard = {key: contact[key] for key in ("email", "name") if key in contact}
    carried = sync.mapping.getresponse_to_canonical(standard)
    agreed = base_values(link)
    return all(name in agreed and agreed[name] == value for name, value in carried.items())


def custom_field_agrees(sync: SyncConfig, link: ContactLink, custom_field: Mapping[str, Any]) -> bool:
    """Whether a custom-field webhook's value equals the base: the base as GetResponse would hold
    it, with that one field replaced by the webhook's value, reads back as the same base."""
    field_id = custom_field.get("customFieldId")
    values = custom_field.get("values")
    if not isinstance(field_id, str) or not isinstance(values, list):
        return False
    agreed = base_values(link)
    as_held = sync.mapping.canonical_to_getresponse(agreed).payload.get("customFieldValues", [])
    others = [dict(entry) for entry in as_held if entry["customFieldId"] != field_id]
    reported = [{"customFieldId": field_id, "value": [str(v) for v in values]}] if values else []
    before = sync.mapping.getresponse_to_canonical({"customFieldValues": as_held})
    after = sync.mapping.getresponse_to_canonical({"customFieldValues": others + reported})
    return before == after


def arrived_as_created(sync: SyncConfig, link: ContactLink, event: ChangeEvent) -> bool:
    """Whether `event` is the `contact_added` webhook of the contact our create made, as we
    created it: no Salesforce change waits for it and its name and email are the base's."""
    return (
        link.state is LinkState.PENDING
        and link.pending_since is not None
        and not batching.unverified(link)
        and link.getresponse_contact_id is None
        and not link.pending_changes.get("values")
        and event.transport is Transport.WEBHOOK
        and event.kind is Kind.SUBSCRIBED
        and event.source_timestamp is not None
        and bool(event.fields)
        and carried_agree(sync, link, event.fields)
    )


def left_to_lookups(link: ContactLink, event: ChangeEvent) -> bool:
    """Whether `event` is about the contact of a create still waiting for its id, and best left
    to the lookups (consumers/engine/pending.py), which find every such contact of the list with
    one search: a poll of it, or the `contact_added` webhook of a create that went out in a batch
    (or met a 409), which may name a contact that was on the list before, as only the lookups
    can tell."""
    if (
        link.state not in (LinkState.PENDING, LinkState.REMOVING)
        or link.pending_since is None
        or link.getresponse_contact_id is not None
    ):
        return False
    if event.transport is Transport.POLLER:
        return True  # the poll saw our create (or the contact it met) before the lookups did
    subscribed = event.transport is Transport.WEBHOOK and event.kind is Kind.SUBSCRIBED
    return subscribed and batching.unverified(link)


def salesforce_agrees(link: ContactLink, values: Mapping[str, Value]) -> bool:
    """Whether every value a Salesforce event carries equals the base of a linked person (or of
    one whose create is on its way, with no change held for it): the echo of our own PATCH, a
    second delivery of the create (an Outbound Message beside the CDC event), or a save that
    changed no synced field. There is nothing to write."""
    if link.state not in (LinkState.LINKED, LinkState.PENDING) or not link.base or not values:
        return False
    if link.state is LinkState.PENDING and (link.pending_since is None or link.pending_changes.get("values")):
        return False
    agreed = base_values(link)
    return all(name in agreed and agreed[name] == value for name, value in values.items())


def known_to_link(sync: SyncConfig, link: ContactLink | None, event: ChangeEvent) -> bool:
    """Whether `event` (a GetResponse subscribe, reread or poll) tells nothing the linked contact's
    base does not already hold: then it is an echo, or a repeat, and needs no read."""
    if (
        link is None
        or link.state is not LinkState.LINKED
        or link.removed_from_list
        or link.getresponse_contact_id != event.record_id
        or not link.base
        or event.kind not in (Kind.SUBSCRIBED, Kind.REREAD)
        or not carried_agree(sync, link, event.fields)
    ):
        return False
    if event.transport is Transport.POLLER:
        # The same `changedOn` as our own write's answer is our write only if the list element the
        # poll saw still shows the base (whole seconds: an edit in that second shows in its values,
        # a custom-field edit also in its webhook).
        changed, known = event.source_timestamp, link.getresponse_changed_on
        if changed is None or known is None:
            return False
        return changed < known or (changed == known and bool(event.fields))
    if event.transport is not Transport.WEBHOOK:
        return False
    kind = event.detail.get("type")
    if kind == ADDED or event.kind is Kind.SUBSCRIBED:
        return True  # the contact we linked showing up: its name and email are the base's
    if kind == CUSTOM_FIELD_CHANGED:
        custom_field = event.detail.get("custom_field")
        return isinstance(custom_field, Mapping) and custom_field_agrees(sync, link, custom_field)
    return False  # an email change or a move: read it
