"""The three-way merge of one person's fields between Salesforce and GetResponse (design.md, "The contact
link and the resolver").

Data in, decisions out: the link's base (the values both sides last agreed on), what the side that
reported a change holds now, and, when known, what the other side holds now. The caller persists
`new_base` only once every write in `writes` has succeeded, so that a failed write is retried from the
same base instead of being mistaken for agreement.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from app.domain.sides import Side, Value


@dataclass(frozen=True, slots=True)
class FieldState:
    """One field of the base: the agreed value, the source timestamp it carried, and where it came from.

    `salesforce_before` is set when we wrote the value to Salesforce with a PATCH conditional on that
    LastModifiedDate: every Salesforce state stamped at or before it predates our write. An Outbound
    Message rendered before our PATCH but handled after it carries such a state (A1: delivery is
    unordered), and its old value for the field must not look like a fresh Salesforce change, however
    the base's own timestamp (often GetResponse's whole seconds) compares with it.
    """

    value: Value
    at: datetime | None
    source: Side
    salesforce_before: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at)
        _require_aware(self.salesforce_before)

    def to_json(self) -> dict[str, Any]:
        data = {
            "value": self.value,
            "at": self.at.isoformat() if self.at is not None else None,
            "source": self.source.value,
        }
        if self.salesforce_before is not None:
            data["salesforce_before"] = self.salesforce_before.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldState:
        at = data.get("at")
        before = data.get("salesforce_before")
        return cls(
            value=data["value"],
            at=datetime.fromisoformat(at) if at is not None else None,
            source=Side(data["source"]),
            salesforce_before=datetime.fromisoformat(before) if before is not None else None,
        )


Base = Mapping[str, FieldState]


def base_to_json(base: Base) -> dict[str, dict[str, Any]]:
    return {name: state.to_json() for name, state in base.items()}


def base_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[str, FieldState]:
    return {name: FieldState.from_json(state) for name, state in data.items()}


def written_to_salesforce(
    base: Mapping[str, FieldState], names: Container[str], unmodified_since: datetime | None
) -> dict[str, FieldState]:
    """The base once the fields `names` were written to Salesforce by a PATCH conditional on
    `unmodified_since`: Salesforce states stamped no later than that predate those values."""
    if unmodified_since is None:
        return dict(base)
    return {
        name: replace(state, salesforce_before=unmodified_since) if name in names else state
        for name, state in base.items()
    }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one side holds, in canonical values.

    A partial snapshot (a Salesforce CDC UPDATE, a webhook) reports only some fields: a field it leaves
    out is unchanged as far as we know, so the side is taken to still hold the base value. A complete
    snapshot (a fresh read of the record) reports every field the side carries: a field it leaves out is
    one that side does not have at all (Company on a Contact), so it is neither read nor written there.
    `carries`, when given, says the same for a partial snapshot: the fields the side has at all
    (`SyncMapping.canonical_names`). `at` is the side's own source timestamp for this state: Salesforce
    LastModifiedDate (ms) or GetResponse changedOn (whole seconds).
    """

    side: Side
    values: Mapping[str, Value]
    at: datetime | None = None
    complete: bool = False
    carries: frozenset[str] | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at)
        if self.carries is not None and not self.carries.issuperset(self.values):
            raise ValueError("a snapshot reports a field its side does not carry")


class Rule(StrEnum):
    UNCHANGED = "unchanged"
    EQUAL_ON_BOTH = "equal_on_both"
    ONE_SIDE_CHANGED = "one_side_changed"
    LAST_WRITE_WINS = "last_write_wins"
    PREFERRED_ON_TIE = "preferred_on_tie"
    PREFERRED_FIRST_SYNC = "preferred_first_sync"
    FILL_EMPTY = "fill_empty"
    STALE = "stale"
    NEW_FIELD = "new_field"
    NOT_WRITABLE = "not_writable"


@dataclass(frozen=True, slots=True)
class Decision:
    """One line of the decision log. `write_to` is usually one side; it is both sides only when each
    holds an outdated value (two stale re-reads)."""

    field: str
    old: Value
    new: Value
    winner: Side | None
    rule: Rule
    write_to: tuple[Side, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """The decisions for every field either side reported, the base to store once the writes are done,
    and the canonical values to write to each side (both keys always present, often empty)."""

    decisions: tuple[Decision, ...]
    new_base: dict[str, FieldState]
    writes: dict[Side, dict[str, Value]]

    @property
    def has_writes(self) -> bool:
        return any(self.writes.values())

    def without_writes(self, side: Side, reasons: Mapping[str, str], base: Base) -> Resolution:
        """Withdraw the fields whose value `side` cannot take (an invalid phone, an unknown country).

        Such a field is written nowhere and keeps its previous base entry: the value was never agreed,
        and the old base stops the refusing side's untouched value from looking like a fresh change.
        """
        refused = {name for name in reasons if name in self.writes[side]}
        if not refused:
            return self
        writes = {s: {k: v for k, v in w.items() if k not in refused} for s, w in self.writes.items()}
        new_base = {k: v for k, v in self.new_base.items() if k not in refused}
        new_base.update((name, base[name]) for name in refused if name in base)
        decisions = tuple(
            d
            if d.field not in refused
            else Decision(
                field=d.field,
                old=d.old,
                new=d.old,
                winner=None,
                rule=Rule.NOT_WRITABLE,
                write_to=(),
                reason=f"{d.new!r} from {d.winner or 'both sides'} not written to {side}: {reasons[d.field]}",
            )
            for d in self.decisions
        )
        return Resolution(decisions, new_base, writes)


def resolve_change(
    base: Base,
    incoming: Snapshot,
    current_other: Snapshot | None,
    *,
    preferred: Side,
    skew: timedelta,
    first_sync: bool = False,
) -> Resolution:
    """Merge `incoming` (and what the other side holds now, when it was read) into `base`, field by field.

    `current_other=None` means the other side was not read: it is taken to hold the base, and a
    conditional write (Salesforce If-Unmodified-Since) is what catches it having changed meanwhile.
    On the first sync the base is ignored: there is no agreement yet to measure changes against.
    """
    if current_other is not None and current_other.side is incoming.side:
        raise ValueError("incoming and current_other must come from different sides")
    if skew < timedelta(0):
        raise ValueError("skew must not be negative")
    effective_base: Base = {} if first_sync else base
    context = _Context(preferred, skew, first_sync or not base)
    other = current_other if current_other is not None else Snapshot(incoming.side.other, {})

    decisions: list[Decision] = []
    new_base: dict[str, FieldState] = dict(base)
    writes: dict[Side, dict[str, Value]] = {Side.SALESFORCE: {}, Side.GETRESPONSE: {}}
    for name in _field_names(effective_base, incoming, other):
        views = (_view(incoming, name), _view(other, name))
        if all(v.seen is not _Seen.OBSERVED for v in views):
            continue
        decision, state = _resolve_field(name, effective_base.get(name), views, context)
        decisions.append(decision)
        new_base[name] = state
        for side in decision.write_to:
            writes[side][name] = decision.new
    return Resolution(tuple(decisions), new_base, writes)


# --- internals --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    preferred: Side
    skew: timedelta
    without_history: bool


class _Seen(Enum):
    OBSERVED = "observed"  # the snapshot reports a value for the field
    ASSUMED = "assumed"  # not reported by a partial snapshot: presumed to still hold the base
    NOT_CARRIED = "not_carried"  # left out of a complete snapshot: the side has no such field


@dataclass(frozen=True, slots=True)
class _View:
    side: Side
    seen: _Seen
    value: Value
    at: datetime | None
    current: bool


_UNKNOWN = object()


def _field_names(base: Base, incoming: Snapshot, other: Snapshot) -> list[str]:
    names = dict.fromkeys(base)
    names.update(dict.fromkeys(incoming.values))
    names.update(dict.fromkeys(other.values))
    return list(names)


def _view(snapshot: Snapshot, name: str) -> _View:
    if name in snapshot.values:
        seen = _Seen.OBSERVED
    elif snapshot.complete or (snapshot.carries is not None and name not in snapshot.carries):
        seen = _Seen.NOT_CARRIED
    else:
        seen = _Seen.ASSUMED
    return _View(snapshot.side, seen, snapshot.values.get(name), snapshot.at, snapshot.complete)


@dataclass(frozen=True, slots=True)
class _Outcome:
    rule: Rule
    state: FieldState
    winner: Side | None
    reason: str


def _resolve_field(
    name: str, base: FieldState | None, views: tuple[_View, _View], ctx: _Context
) -> tuple[Decision, FieldState]:
    if base is None:
        outcome = _judge_without_history(views, ctx)
        held = {v.side: v.value if v.seen is _Seen.OBSERVED else _UNKNOWN for v in views}
    else:
        stale = {v.side for v in views if _is_stale_change(v, base)}
        outcome = _judge(base, views, stale, ctx)
        held = {v.side: _held(v, base, stale) for v in views}
    new = outcome.state.value
    write_to = tuple(v.side for v in views if _needs_write(v, held[v.side], new))
    old = base.value if base is not None else None
    return Decision(name, old, new, outcome.winner, outcome.rule, write_to, outcome.reason), outcome.state


def _judge(base: FieldState, views: tuple[_View, _View], stale: Container[Side], ctx: _Context) -> _Outcome:
    fresh = [v for v in views if v.seen is _Seen.OBSERVED and v.value != base.value and v.side not in stale]
    if not fresh:
        if not stale:
            return _Outcome(Rule.UNCHANGED, base, None, "same value as the last sync")
        sides = " and ".join(str(v.side) for v in views if v.side in stale)
        return _Outcome(Rule.STALE, base, base.source, f"{sides} value is older than the last agreed one")
    if len(fresh) == 1:
        (winner,) = fresh
        return _Outcome(
            Rule.ONE_SIDE_CHANGED,
            _state(winner),
            winner.side,
            f"changed in {winner.side} only since the last sync",
        )
    first, second = fresh
    if first.value == second.value:
        return _Outcome(
            Rule.EQUAL_ON_BOTH, _state(_later(first, second)), None, "both sides changed to the same value"
        )
    return _conflict(first, second, ctx)


def _judge_without_history(views: tuple[_View, _View], ctx: _Context) -> _Outcome:
    observed = [v for v in views if v.seen is _Seen.OBSERVED]
    if len(observed) == 1:
        (only,) = observed
        return _Outcome(Rule.NEW_FIELD, _state(only), only.side, f"only {only.side} reported this field")
    first, second = observed
    if first.value == second.value:
        return _Outcome(
            Rule.EQUAL_ON_BOTH, _state(_later(first, second)), None, "both sides already hold the same value"
        )
    if first.value is None or second.value is None:
        # Nothing to lose on the empty side, and no history says the emptiness was a deliberate change.
        filled = first if second.value is None else second
        return _Outcome(Rule.FILL_EMPTY, _state(filled), filled.side, f"only {filled.side} has a value")
    winner = first if first.side is ctx.preferred else second
    why = "first sync" if ctx.without_history else "the field has no agreed value yet"
    return _Outcome(
        Rule.PREFERRED_FIRST_SYNC,
        _state(winner),
        winner.side,
        f"{why}: the preferred system ({winner.side}) decides",
    )


def _conflict(first: _View, second: _View, ctx: _Context) -> _Outcome:
    preferred = first if first.side is ctx.preferred else second
    if first.at is None or second.at is None:
        return _Outcome(
            Rule.PREFERRED_ON_TIE,
            _state(preferred),
            preferred.side,
            f"changed on both sides, a timestamp is missing: the preferred system ({preferred.side}) wins",
        )
    gap = first.at - second.at
    if abs(gap) <= ctx.skew:
        return _Outcome(
            Rule.PREFERRED_ON_TIE,
            _state(preferred),
            preferred.side,
            f"changed on both sides within {ctx.skew.total_seconds():g}s of each other: "
            f"the preferred system ({preferred.side}) wins",
        )
    later = first if gap > timedelta(0) else second
    return _Outcome(
        Rule.LAST_WRITE_WINS,
        _state(later),
        later.side,
        f"changed on both sides, {later.side} changed it last",
    )


def _is_stale_change(view: _View, base: FieldState) -> bool:
    """A value differing from the base but stamped before it: superseded, whatever brought it here."""
    if view.seen is not _Seen.OBSERVED or view.value == base.value:
        return False
    if view.side is Side.SALESFORCE and _predates(view.at, base.salesforce_before):
        return True  # a Salesforce state from before we wrote this value there
    if view.at is None or base.at is None:
        return False
    if view.side is base.source:
        return view.at < base.at
    # GetResponse stamps whole seconds and Salesforce milliseconds; comparing at the coarser precision
    # keeps a change made in the same second as the base from being thrown away as stale.
    return view.at.replace(microsecond=0) < base.at.replace(microsecond=0)


def _predates(at: datetime | None, bound: datetime | None) -> bool:
    return at is not None and bound is not None and at <= bound


def _held(view: _View, base: FieldState, stale: Container[Side]) -> object:
    """What the side is believed to hold now.

    A stale value from an event describes a past state (a duplicate delivery, a replay): the side has
    moved on since, so it is presumed to hold the base. A stale value in a fresh read is really there,
    and gets the base written back over it.
    """
    if view.seen is _Seen.ASSUMED:
        return base.value
    if view.side in stale and not view.current:
        return base.value
    return view.value


def _needs_write(view: _View, held: object, new: Value) -> bool:
    if view.seen is _Seen.NOT_CARRIED:
        return False
    if held is _UNKNOWN:
        # Clearing a value we have never seen could only destroy data.
        return new is not None
    return held != new


def _state(view: _View) -> FieldState:
    return FieldState(view.value, view.at, view.side)


def _later(first: _View, second: _View) -> _View:
    if second.at is not None and (first.at is None or second.at > first.at):
        return second
    return first


def _require_aware(at: datetime | None) -> None:
    if at is not None and at.utcoffset() is None:
        raise ValueError("source timestamps must be timezone-aware")
