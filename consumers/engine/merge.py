"""Resolve one person and write the outcome to both sides: the step every path ends in.

Order matters for "nothing lost": the writes go first, the new base is stored only after they
succeeded (in the same transaction that holds the link's lock), so a failure leaves the base as
it was and the retry recomputes the same writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app import metrics
from app.clients.errors import PreconditionFailed
from app.clients.salesforce_formats import parse_datetime as parse_salesforce_datetime
from app.db import decisions, links
from app.db.models import ContactLink
from app.domain.coercion import normalize_email
from app.domain.resolver import (
    Resolution,
    Rule,
    Snapshot,
    base_from_json,
    base_to_json,
    resolve_change,
    written_to_salesforce,
)
from app.domain.sides import Side
from app.domain.states import NoteRule
from consumers.engine.locked import LockedLink
from consumers.engine.people import GetResponsePerson, email_field, getresponse_person, read_salesforce

MODIFIED_FIELD = "LastModifiedDate"
# A record that keeps changing under our conditional PATCH is re-read and merged this many times.
MAX_PRECONDITION_ROUNDS = 3


async def merge_and_write(
    locked: LockedLink,
    incoming: Snapshot,
    other: Snapshot | None,
    *,
    contact: GetResponsePerson | None,
    salesforce_modified_at: datetime | None,
    salesforce_read_now: bool = False,
    first_sync: bool = False,
    defer: Mapping[str, str] | None = None,
    preferred: Side | None = None,
) -> Resolution:
    """Resolve `incoming` against the base and `other`, write both sides, store the new base.

    `contact` is the GetResponse contact as read (needed to rebuild its custom-field set, which an
    update replaces as a whole: C9); None when there is no contact to write to yet.
    `salesforce_modified_at` is the instant the Salesforce side is known as of: the PATCH is
    conditional on it, and a 412 means "changed since", so the record is re-read and merged.
    `salesforce_read_now` says that instant comes from a read of the record just made: it is then
    not read again before the PATCH (see _unmodified_since).
    `defer` names fields (with the reason) that are left for another event to decide: nothing is
    written for them and their base stays; the Salesforce instant is then not advanced either, so
    that the deciding event's conditional write sees the Salesforce change and merges it.
    """
    link, sync = locked.link, locked.sync
    base = base_from_json(link.base)
    for _ in range(MAX_PRECONDITION_ROUNDS):
        resolution = plan_writes(locked, base, incoming, other, first_sync=first_sync, preferred=preferred)
        if defer:
            for side in Side:
                resolution = resolution.without_writes(side, defer, base)
        try:
            await _write_salesforce(
                locked, resolution, salesforce_modified_at, confirm=not salesforce_read_now
            )
        except PreconditionFailed:
            current = await read_salesforce(locked.sf, sync, locked.object_type, _salesforce_id(link))
            if current is None:
                raise
            salesforce_modified_at, salesforce_read_now = current.modified_at, True
            if incoming.side is Side.SALESFORCE:
                incoming = current.snapshot
            else:
                other = current.snapshot
            continue
        if contact is not None:
            contact = await write_getresponse(locked, resolution, contact)
        break
    else:
        raise PreconditionFailed(
            "the Salesforce record kept changing under our writes", vendor="salesforce", status=412
        )
    written = resolution.writes[Side.SALESFORCE]
    link.base = base_to_json(written_to_salesforce(resolution.new_base, written, salesforce_modified_at))
    await _follow_email(locked, resolution)
    if written:
        # Our own PATCH moved LastModifiedDate to an instant we do not know; the next conditional
        # write reads the record first rather than guess.
        link.salesforce_modified_at = None
    elif salesforce_modified_at is not None and not defer:
        link.salesforce_modified_at = salesforce_modified_at
    if contact is not None and contact.changed_on is not None:
        link.getresponse_changed_on = contact.changed_on
    log_resolution(locked, resolution)
    return resolution


async def _follow_email(locked: LockedLink, resolution: Resolution) -> None:
    """A link is found by its email (the next event, the lookups of a pending create, a first
    sync), so when the person's email changed, the link's follows; unless another person of the
    sync has that email, which the decision log then says."""
    link = locked.link
    name, _ = email_field(locked.sync, locked.object_type)
    agreed = resolution.new_base.get(name)
    email = normalize_email(agreed.value) if agreed is not None else None
    if email is None or email == link.email_normalized:
        return
    if await links.email_taken(locked.session, link.sync_id, email):
        decisions.log_note(
            locked.session,
            link,
            field=name,
            rule=NoteRule.DUPLICATE,
            old=link.email_normalized,
            new=email,
            reason=f"the email changed to {email}, which another person of this sync has: this person "
            f"stays linked as {link.email_normalized}",
            event_id=locked.event_id,
        )
        return
    link.email_normalized = email


def plan_writes(
    locked: LockedLink,
    base: Any,
    incoming: Snapshot,
    other: Snapshot | None,
    *,
    first_sync: bool,
    preferred: Side | None = None,
) -> Resolution:
    """The resolution, less what a side cannot take (values its fields refuse): no I/O."""
    sync = locked.sync
    resolution = resolve_change(
        base, incoming, other, preferred=preferred or sync.preferred, skew=sync.skew, first_sync=first_sync
    )
    gr_write = sync.mapping.canonical_to_getresponse(resolution.writes[Side.GETRESPONSE])
    resolution = resolution.without_writes(Side.GETRESPONSE, gr_write.refused, base)
    sf_write = sync.mapping.canonical_to_salesforce(
        resolution.writes[Side.SALESFORCE], locked.object_type, creating=False
    )
    return resolution.without_writes(Side.SALESFORCE, sf_write.refused, base)


def _salesforce_id(link: ContactLink) -> str:
    assert link.salesforce_id is not None
    return link.salesforce_id


async def _write_salesforce(
    locked: LockedLink, resolution: Resolution, modified_at: datetime | None, *, confirm: bool
) -> None:
    values = resolution.writes[Side.SALESFORCE]
    if not values:
        return
    fields = locked.sync.mapping.canonical_to_salesforce(values, locked.object_type, creating=False).fields
    if modified_at is not None and confirm:
        await _unmodified_since(locked, modified_at)
    await locked.sf.update(
        locked.object_type.value, _salesforce_id(locked.link), fields, if_unmodified_since=modified_at
    )
    metrics.wrote("salesforce", "update")


async def _unmodified_since(locked: LockedLink, modified_at: datetime) -> None:
    """Raise PreconditionFailed when the record was saved after `modified_at`.

    If-Unmodified-Since compares whole seconds (api-contracts.md, "Conditional writes"), so a save
    later within the second of `modified_at` passes the PATCH's condition unseen and would be
    overwritten; the record's LastModifiedDate, read to the millisecond, shows it.
    """
    record_id = _salesforce_id(locked.link)
    record = await locked.sf.get(locked.object_type.value, record_id, fields=[MODIFIED_FIELD])
    saved = record.get(MODIFIED_FIELD)
    if isinstance(saved, str) and parse_salesforce_datetime(saved) > modified_at:
        raise PreconditionFailed(
            "the Salesforce record was saved after the state merged", vendor="salesforce", status=412
        )


async def write_getresponse(
    locked: LockedLink, resolution: Resolution, contact: GetResponsePerson
) -> GetResponsePerson:
    values = resolution.writes[Side.GETRESPONSE]
    if not values:
        return contact
    write = locked.sync.mapping.canonical_to_getresponse(values)
    body = {k: v for k, v in write.payload.items() if k != "customFieldValues"}
    if "customFieldValues" in write.payload or write.cleared:
        body["customFieldValues"] = write.custom_field_set(contact.contact.get("customFieldValues") or [])
    updated = await locked.gr.update_contact(contact.id, body)
    metrics.wrote("getresponse", "update")
    if isinstance(updated, dict) and "contactId" in updated:
        return getresponse_person(locked.sync, updated)
    return contact


def log_resolution(locked: LockedLink, resolution: Resolution) -> None:
    logged = [d for d in resolution.decisions if d.rule is not Rule.UNCHANGED]
    decisions.log_decisions(locked.session, locked.link, logged, event_id=locked.event_id)
    for decision in logged:
        metrics.DECISIONS.labels(decision.rule.value).inc()
