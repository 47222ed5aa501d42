"""Properties of the merge that must hold for any base and any pair of snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.resolver import FieldState, Resolution, Snapshot, resolve_change
from app.domain.sides import Side, Value

T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=2)
FIELDS = ("email", "name", "phone", "opted_out")

values: st.SearchStrategy[Value] = st.sampled_from([None, "a", "b", "c", True, False])
sides = st.sampled_from(list(Side))
field_sets = st.sets(st.sampled_from(FIELDS))


def timestamps(side: Side) -> st.SearchStrategy[datetime | None]:
    # Salesforce stamps milliseconds, GetResponse whole seconds.
    if side is Side.SALESFORCE:
        stamped = st.integers(-10_000, 10_000).map(lambda ms: T0 + timedelta(milliseconds=ms))
    else:
        stamped = st.integers(-10, 10).map(lambda s: T0 + timedelta(seconds=s))
    return st.one_of(st.none(), stamped)


@st.composite
def bases(draw: st.DrawFn) -> dict[str, FieldState]:
    base = {}
    for name in sorted(draw(field_sets)):
        source = draw(sides)
        base[name] = FieldState(draw(values), draw(timestamps(source)), source)
    return base


@st.composite
def snapshots(draw: st.DrawFn, side: Side, *, complete: bool) -> Snapshot:
    carried = sorted(draw(field_sets))
    return Snapshot(side, {name: draw(values) for name in carried}, draw(timestamps(side)), complete)


def complete_pairs() -> st.SearchStrategy[tuple[Snapshot, Snapshot]]:
    return sides.flatmap(
        lambda side: st.tuples(snapshots(side, complete=True), snapshots(side.other, complete=True))
    )


def resolve(
    base: dict[str, FieldState],
    incoming: Snapshot,
    other: Snapshot | None,
    preferred: Side,
    first_sync: bool = False,
) -> Resolution:
    return resolve_change(base, incoming, other, preferred=preferred, skew=SKEW, first_sync=first_sync)


def _values(resolution: Resolution) -> dict[str, Value]:
    return {name: state.value for name, state in resolution.new_base.items()}


def after_writes(snapshot: Snapshot, resolution: Resolution) -> Snapshot:
    return Snapshot(
        snapshot.side,
        {**snapshot.values, **resolution.writes[snapshot.side]},
        snapshot.at,
        snapshot.complete,
    )


@settings(max_examples=200, deadline=None)
@given(bases(), complete_pairs(), sides, st.booleans())
def test_after_the_writes_both_sides_hold_the_new_base(
    base: dict[str, FieldState], pair: tuple[Snapshot, Snapshot], preferred: Side, first_sync: bool
) -> None:
    incoming, other = pair
    result = resolve(base, incoming, other, preferred, first_sync)

    for snapshot in (after_writes(incoming, result), after_writes(other, result)):
        for name, value in snapshot.values.items():
            assert result.new_base[name].value == value


@settings(max_examples=200, deadline=None)
@given(bases(), complete_pairs(), sides, st.booleans())
def test_resolving_again_after_the_writes_writes_nothing(
    base: dict[str, FieldState], pair: tuple[Snapshot, Snapshot], preferred: Side, first_sync: bool
) -> None:
    incoming, other = pair
    first = resolve(base, incoming, other, preferred, first_sync)

    again = resolve(first.new_base, after_writes(incoming, first), after_writes(other, first), preferred)

    assert not again.has_writes
    assert again.new_base == first.new_base


@settings(max_examples=200, deadline=None)
@given(bases(), complete_pairs(), sides, st.booleans())
def test_which_side_is_incoming_does_not_change_the_outcome_of_complete_reads(
    base: dict[str, FieldState], pair: tuple[Snapshot, Snapshot], preferred: Side, first_sync: bool
) -> None:
    one, two = pair

    forward = resolve(base, one, two, preferred, first_sync)
    backward = resolve(base, two, one, preferred, first_sync)

    assert forward.writes == backward.writes
    assert _values(forward) == _values(backward)


@settings(max_examples=200, deadline=None)
@given(bases(), sides, st.data())
def test_an_echo_of_the_base_never_produces_a_write(
    base: dict[str, FieldState], preferred: Side, data: st.DataObject
) -> None:
    side = data.draw(sides)
    echoed = data.draw(st.sets(st.sampled_from(sorted(base)))) if base else set()
    echo = Snapshot(side, {name: base[name].value for name in echoed}, data.draw(timestamps(side)))
    agreed = {name: state.value for name, state in base.items()}
    other_read = data.draw(
        st.one_of(
            st.none(),
            timestamps(side.other).map(lambda when: Snapshot(side.other, agreed, when, complete=True)),
        )
    )

    result = resolve(base, echo, other_read, preferred)

    assert not result.has_writes
    assert result.new_base == base


@settings(max_examples=200, deadline=None)
@given(bases(), sides, st.data())
def test_nothing_is_written_that_the_target_already_holds(
    base: dict[str, FieldState], preferred: Side, data: st.DataObject
) -> None:
    side = data.draw(sides)
    incoming = data.draw(snapshots(side, complete=data.draw(st.booleans())))
    other = data.draw(st.one_of(st.none(), snapshots(side.other, complete=True)))

    result = resolve(base, incoming, other, preferred)

    for target, written in result.writes.items():
        read = incoming if target is side else other
        for name, value in written.items():
            if read is not None and read.complete:
                assert read.values[name] != value
            elif read is None and name in base:
                assert base[name].value != value


@settings(max_examples=200, deadline=None)
@given(bases(), sides, st.data())
def test_a_field_a_side_does_not_carry_is_never_written_there(
    base: dict[str, FieldState], preferred: Side, data: st.DataObject
) -> None:
    side = data.draw(sides)
    incoming = data.draw(snapshots(side, complete=False))
    carries = frozenset(incoming.values) | data.draw(field_sets)
    incoming = Snapshot(side, incoming.values, incoming.at, carries=carries)
    other = data.draw(st.one_of(st.none(), snapshots(side.other, complete=True)))

    result = resolve(base, incoming, other, preferred)

    assert set(result.writes[side]) <= carries
    if other is not None:
        assert set(result.writes[side.other]) <= set(other.values)


@settings(max_examples=200, deadline=None)
@given(complete_pairs(), sides)
def test_first_sync_converges_to_the_preferred_system_wherever_both_have_a_value(
    pair: tuple[Snapshot, Snapshot], preferred: Side
) -> None:
    one, two = pair
    by_side = {one.side: one.values, two.side: two.values}

    result = resolve({}, one, two, preferred, first_sync=True)

    for name in set(one.values) & set(two.values):
        mine, theirs = by_side[preferred][name], by_side[preferred.other][name]
        expected = theirs if mine is None else mine
        assert result.new_base[name].value == expected
        assert name not in result.writes[preferred] or mine is None


@settings(max_examples=200, deadline=None)
@given(bases(), sides, st.data())
def test_a_fresh_partial_change_is_forwarded_exactly(
    base: dict[str, FieldState], preferred: Side, data: st.DataObject
) -> None:
    side = data.draw(sides)
    later = st.integers(11, 60).map(lambda s: T0 + timedelta(seconds=s))
    changes = data.draw(st.dictionaries(st.sampled_from(FIELDS), values))
    event = Snapshot(side, changes, data.draw(st.one_of(st.none(), later)))

    result = resolve(base, event, None, preferred)

    expected = {
        name: value
        for name, value in changes.items()
        if (base[name].value != value if name in base else value is not None)
    }
    assert result.writes == {side: {}, side.other: expected}


@settings(max_examples=200, deadline=None)
@given(bases(), sides, st.data())
def test_events_older_than_the_base_change_nothing(
    base: dict[str, FieldState], preferred: Side, data: st.DataObject
) -> None:
    side = data.draw(sides)
    aged = {name: FieldState(s.value, T0 + timedelta(seconds=30), s.source) for name, s in base.items()}
    changes = data.draw(st.dictionaries(st.sampled_from(sorted(aged)), values)) if aged else {}
    event = Snapshot(side, changes, T0 + timedelta(seconds=data.draw(st.integers(-10, 28))))

    result = resolve(aged, event, None, preferred)

    assert not result.has_writes
    assert result.new_base == aged
