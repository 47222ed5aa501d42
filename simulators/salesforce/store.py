"""The org's records in memory, changed only through transactions that notify deliveries.

Every save, whether it comes through the REST API or the control API (a person in the UI), runs
in a `Transaction`: it validates, stages copies of the records it touches, and on commit stamps
them all with one commit time and hands one `Commit` to the listeners (Outbound Messages, CDC).
A failed operation stages nothing, which is what sObject Collections need for `allOrNone=false`;
dropping the transaction is the `allOrNone=true` rollback.

Rules that Salesforce enforces at save time live here: ENTITY_IS_DELETED (A3 error table),
CANNOT_UPDATE_CONVERTED_LEAD, the optional duplicate rule on Email with its misspelled
`duplicateResut` body (A3 "DUPLICATES_DETECTED gotcha", C5), and `If-Unmodified-Since` (A3
"Conditional writes": whole seconds against LastModifiedDate, 412 when modified after);
CampaignMember's own rules are in membership.py.

References to records (CampaignMember's CampaignId, LeadId, ContactId) must name a record of
their type (an id of another type is FIELD_INTEGRITY_EXCEPTION "<label>: id value of incorrect
type"), that exists (INVALID_CROSS_REFERENCE_KEY) and is not in the Recycle Bin
(ENTITY_IS_DELETED; the code is UNCONFIRMED).

Deletes go to the Recycle Bin (IsDeleted, restorable) unless the object has none
(`recycle_bin=False`: CampaignMember), whose delete removes the record for good. A record whose
`cascade_delete` reference points at a deleted record counts as deleted itself, everywhere the
store shows it (queries, reads, writes), and comes back when that record is undeleted: a deleted
Lead's campaign memberships stop matching, without change events of their own (the stricter
reading: a listener must act on the Lead's DELETE; UNCONFIRMED).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from threading import RLock
from typing import Any, Literal

from simulators.salesforce import ids, membership, schema, timefmt, validation
from simulators.salesforce.errors import (
    ApiError,
    SalesforceError,
    duplicates_detected,
    entity_is_deleted,
    malformed_id,
    not_found,
)
from simulators.salesforce.schema import SObjectDef

ChangeKind = Literal["CREATE", "UPDATE", "DELETE", "UNDELETE"]


@dataclass
class Record:
    sobject: str
    id: str
    values: dict[str, Any]

    @property
    def deleted(self) -> bool:
        return bool(self.values["IsDeleted"])


@dataclass(frozen=True)
class Actor:
    """Who saves: the user, the CDC `changeOrigin` ("" for the UI) and the duplicate-rule override."""

    user_id: str
    origin: str = ""
    allow_duplicates: bool = False


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    sobject: str
    record_id: str
    changed: tuple[str, ...]  # stored fields whose value changed (UPDATE only)
    values: dict[str, Any]  # the record after the change
    fires_rules: bool = True  # workflow/flow rules (Outbound Messages) run on this save


@dataclass(frozen=True)
class Commit:
    changes: tuple[Change, ...]
    transaction_key: str
    timestamp: datetime
    commit_number: int
    user_id: str
    origin: str


Listener = Callable[[Commit], None]
Lookup = Callable[[str, str], "Record | None"]  # (sObject, id) -> the record, deleted or not


def _copy(record: Record) -> Record:
    """Values are immutable (str, bool, datetime, date, None): a shallow copy isolates a record."""
    return Record(record.sobject, record.id, dict(record.values))


def _shown(record: Record, lookup: Lookup) -> Record:
    """A copy of the record, deleted too when a record it cascades from is deleted or gone."""
    shown = _copy(record)
    if not shown.deleted:
        for definition in schema.SOBJECTS[record.sobject].cascades:
            parent_id = record.values.get(definition.name)
            parent = lookup(definition.reference_to[0], parent_id) if parent_id else None
            if parent_id and (parent is None or parent.deleted):
                shown.values["IsDeleted"] = True
    return shown


class Store:
    def __init__(
        self,
        id_factory: ids.IdFactory,
        clock: timefmt.Clock,
        *,
        users: Callable[[], set[str]],
        duplicate_rule: Callable[[], bool],
    ) -> None:
        self.ids = id_factory
        self.clock = clock
        self.users = users
        self.duplicate_rule = duplicate_rule
        self._records: dict[str, dict[str, Record]] = {name: {} for name in schema.SOBJECTS}
        self._listeners: list[Listener] = []
        self._commit_numbers = count(10_650_000_000_000, 17)
        self._lock = RLock()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            for records in self._records.values():
                records.clear()

    def get(self, sobject: str, record_id: str) -> Record | None:
        with self._lock:
            record = self._records[sobject].get(record_id)
            return _shown(record, self._stored) if record else None

    def find(self, sobject: SObjectDef, raw_id: str) -> Record:
        """The record (deleted or not) behind an id from a URL: MALFORMED_ID or NOT_FOUND otherwise."""
        record_id = ids.normalize(raw_id)
        if record_id is None:
            raise SalesforceError(400, malformed_id(sobject.name, raw_id))
        found = self.get(sobject.name, record_id)
        if found is None:
            raise not_found()
        return found

    def all(self, sobject: str, *, include_deleted: bool = True) -> list[Record]:
        with self._lock:
            shown = [_shown(r, self._stored) for r in self._records[sobject].values()]
        return [r for r in shown if include_deleted or not r.deleted]

    def _stored(self, sobject: str, record_id: str) -> Record | None:
        return self._records[sobject].get(record_id)

    @contextmanager
    def transaction(self, actor: Actor) -> Iterator[Transaction]:
        """Commits when the block ends normally and the transaction was not rolled back."""
        with self._lock:
            tx = Transaction(self, actor, self.clock.now())
            yield tx
            commit = tx.commit()
        if commit is not None:
            for listener in self._listeners:
                listener(commit)

    def _apply(
        self, staged: dict[str, Record], changes: list[Change], actor: Actor, when: datetime
    ) -> Commit:
        for record in staged.values():
            if record.deleted and not schema.SOBJECTS[record.sobject].recycle_bin:
                self._records[record.sobject].pop(record.id, None)
            else:
                self._records[record.sobject][record.id] = record
        return Commit(
            changes=tuple(changes),
            transaction_key=str(uuid.uuid4()),
            timestamp=when,
            commit_number=next(self._commit_numbers),
            user_id=actor.user_id,
            origin=actor.origin,
        )


class Transaction:
    def __init__(self, store: Store, actor: Actor, when: datetime) -> None:
        self._store = store
        self._actor = actor
        self._when = when
        self._staged: dict[str, Record] = {}
        self._changes: list[Change] = []
        self._rolled_back = False

    def rollback(self) -> None:
        self._rolled_back = True

    def commit(self) -> Commit | None:
        if self._rolled_back or not self._changes:
            return None
        return self._store._apply(self._staged, self._changes, self._actor, self._when)

    def create(self, sobject: SObjectDef, body: Any) -> str:
        values = validation.parse_body(sobject, body, creating=True, users=self._store.users())
        record_values: dict[str, Any] = {f.name: f.default for f in sobject.stored}
        record_values.update(values)
        record_id = self._store.ids.new(sobject.key_prefix)
        record_values.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=self._when,
            CreatedById=self._actor.user_id,
            LastModifiedDate=self._when,
            LastModifiedById=self._actor.user_id,
            SystemModstamp=self._when,
        )
        if sobject.field("OwnerId") is not None:
            record_values["OwnerId"] = record_values.get("OwnerId") or self._actor.user_id
        if sobject is schema.CAMPAIGN_MEMBER:
            membership.prepare(record_values, creating=True, today=self._when.date())
        validation.check_record(sobject, record_values)
        self._check_references(sobject, record_values, list(record_values))
        self._check_duplicates(sobject, record_id, record_values)
        if sobject is schema.CAMPAIGN_MEMBER:
            membership.check_unique(record_values, (r.values for r in self.records(sobject)))
        record = Record(sobject.name, record_id, record_values)
        self._stage(record, Change("CREATE", sobject.name, record_id, (), dict(record_values)))
        return record_id

    def update(
        self,
        sobject: SObjectDef,
        raw_id: str,
        body: Any,
        *,
        unmodified_since: datetime | None = None,
        fires_rules: bool = True,
        system: dict[str, Any] | None = None,
    ) -> None:
        record = self._live(sobject, raw_id)
        if sobject.name == "Lead" and record.values["IsConverted"]:
            raise SalesforceError(
                400, ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
            )
        values = validation.parse_body(sobject, body, creating=False, users=self._store.users())
        values.update(system or {})
        if (
            unmodified_since is not None
            and timefmt.whole_seconds(record.values["LastModifiedDate"]) > unmodified_since
        ):
            raise SalesforceError(
                412,
                ApiError(
                    "PRECONDITION_FAILED",
                    "The requested resource has been modified since the If-Unmodified-Since date",
                ),
            )
        after = dict(record.values) | values
        after.update(
            LastModifiedDate=self._when, LastModifiedById=self._actor.user_id, SystemModstamp=self._when
        )
        if sobject is schema.CAMPAIGN_MEMBER:
            membership.prepare(after, creating=False, today=self._when.date())
        validation.check_record(sobject, after)
        self._check_references(sobject, after, list(values))
        if "Email" in values:
            self._check_duplicates(sobject, record.id, after)
        changed = tuple(name for name, value in after.items() if record.values.get(name) != value)
        updated = Record(sobject.name, record.id, after)
        change = Change("UPDATE", sobject.name, record.id, changed, dict(after), fires_rules)
        self._stage(updated, change)

    def delete(self, sobject: SObjectDef, raw_id: str) -> None:
        record = self._live(sobject, raw_id)
        after = dict(
            record.values,
            IsDeleted=True,
            LastModifiedDate=self._when,
            LastModifiedById=self._actor.user_id,
            SystemModstamp=self._when,
        )
        self._stage(
            Record(sobject.name, record.id, after), Change("DELETE", sobject.name, record.id, (), after)
        )

    def undelete(self, sobject: SObjectDef, raw_id: str) -> None:
        record = self._find(sobject, raw_id)
        if not record.deleted:
            raise SalesforceError(400, ApiError("UNDELETE_FAILED", "Entity is not in the recycle bin", []))
        after = dict(
            record.values,
            IsDeleted=False,
            LastModifiedDate=self._when,
            LastModifiedById=self._actor.user_id,
            SystemModstamp=self._when,
        )
        self._check_duplicates(sobject, record.id, after)
        self._stage(
            Record(sobject.name, record.id, after), Change("UNDELETE", sobject.name, record.id, (), after)
        )

    def lookup(self, sobject: SObjectDef, raw_id: str) -> Record:
        """The record as this transaction sees it (staged or committed), deleted or not."""
        return self._find(sobject, raw_id)

    def records(self, sobject: SObjectDef) -> list[Record]:
        """The live records of a type as this transaction sees them."""
        merged = {**self._store._records[sobject.name], **self._staged}
        visible = [_shown(r, self._seen) for r in merged.values() if r.sobject == sobject.name]
        return [r for r in visible if not r.deleted]

    def _live(self, sobject: SObjectDef, raw_id: str) -> Record:
        record = self._find(sobject, raw_id)
        if record.deleted:
            raise SalesforceError(404, entity_is_deleted())
        return record

    def _find(self, sobject: SObjectDef, raw_id: str) -> Record:
        record_id = ids.normalize(raw_id)
        if record_id is None:
            raise SalesforceError(400, malformed_id(sobject.name, raw_id))
        record = self._seen(sobject.name, record_id)
        if record is None:
            raise not_found()
        return _shown(record, self._seen)

    def _seen(self, sobject: str, record_id: str) -> Record | None:
        staged = self._staged.get(record_id)
        return staged if staged is not None else self._store._records[sobject].get(record_id)

    def _stage(self, record: Record, change: Change) -> None:
        self._staged[record.id] = record
        self._changes.append(change)

    def _check_references(self, sobject: SObjectDef, values: dict[str, Any], names: list[str]) -> None:
        for name in names:
            definition = sobject.field(name)
            target = schema.referenced(definition) if definition else None
            record_id = values.get(name)
            if definition is None or target is None or not record_id:
                continue
            if not record_id.startswith(target.key_prefix):
                raise SalesforceError(
                    400,
                    ApiError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"{definition.label}: id value of incorrect type: {record_id}",
                        [definition.name],
                    ),
                )
            referenced = self._seen(target.name, record_id)
            if referenced is None:
                raise SalesforceError(
                    400,
                    ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [definition.name]),
                )
            if _shown(referenced, self._seen).deleted:
                raise SalesforceError(
                    400, ApiError("ENTITY_IS_DELETED", "entity is deleted", [definition.name])
                )

    def _check_duplicates(self, sobject: SObjectDef, record_id: str, values: dict[str, Any]) -> None:
        email = values.get("Email")
        if not self._store.duplicate_rule() or self._actor.allow_duplicates or not email:
            return
        visible = {
            **self._store._records[sobject.name],
            **{k: v for k, v in self._staged.items() if v.sobject == sobject.name},
        }
        matches = [
            r
            for r in visible.values()
            if r.id != record_id
            and not r.deleted
            and str(r.values.get("Email") or "").lower() == email.lower()
        ]
        if matches:
            raise SalesforceError(400, duplicates_detected(sobject.name, [r.id for r in matches]))
