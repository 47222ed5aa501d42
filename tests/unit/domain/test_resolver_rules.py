"""The merge rules of design.md ("The contact link and the resolver"), one case at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.resolver import (
    Base,
    FieldState,
    Resolution,
    Rule,
    Snapshot,
    base_from_json,
    base_to_json,
    resolve_change,
    written_to_salesforce,
)
from app.domain.sides import Side, Value

SF = Side.SALESFORCE
GR = Side.GETRESPONSE
T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def agreed(source: Side = SF, when: datetime | None = T0, **values: Value) -> dict[str, FieldState]:
    return {name: FieldState(value, when, source) for name, value in values.items()}


def sf_event(when: datetime | None, **values: Value) -> Snapshot:
    return Snapshot(SF, values, when, complete=False)


def sf_read(when: datetime | None, **values: Value) -> Snapshot:
    return Snapshot(SF, values, when, complete=True)


def gr_read(when: datetime | None, **values: Value) -> Snapshot:
    return Snapshot(GR, values, when, complete=True)


def resolve(
    base: Base,
    incoming: Snapshot,
    other: Snapshot | None = None,
    *,
    preferred: Side = SF,
    first_sync: bool = False,
) -> Resolution:
    return resolve_change(base, incoming, other, preferred=preferred, skew=SKEW, first_sync=first_sync)


def rule_of(resolution: Resolution, name: str) -> Rule:
    (decision,) = (d for d in resolution.decisions if d.field == name)
    return decision.rule


BASE = agreed(email="pat@example.com", name="Pat Lee", phone="+48600100200")


def test_echo_of_our_own_write_changes_nothing() -> None:
    result = resolve(BASE, sf_event(at(5), phone="+48600100200"))

    assert not result.has_writes
    assert result.new_base == BASE
    assert rule_of(result, "phone") is Rule.UNCHANGED


def test_change_on_one_side_is_written_to_the_other() -> None:
    result = resolve(BASE, sf_event(at(5), phone="+48600999999"))

    assert result.writes == {SF: {}, GR: {"phone": "+48600999999"}}
    assert result.new_base["phone"] == FieldState("+48600999999", at(5), SF)
    assert rule_of(result, "phone") is Rule.ONE_SIDE_CHANGED


def test_change_found_on_the_other_side_while_merging_is_written_back_to_the_incoming_side() -> None:
    result = resolve(
        BASE,
        sf_event(at(5), phone="+48600100200"),
        gr_read(at(3), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
    )

    assert result.writes == {SF: {"name": "Patricia Lee"}, GR: {}}
    assert result.new_base["name"] == FieldState("Patricia Lee", at(3), GR)


def test_fields_a_partial_event_leaves_out_are_not_touched() -> None:
    result = resolve(BASE, sf_event(at(5), phone="+48600999999"))

    assert [d.field for d in result.decisions] == ["phone"]
    assert result.new_base["name"] == BASE["name"]


def test_a_field_set_to_none_is_a_change_while_a_missing_field_is_not() -> None:
    cleared = resolve(BASE, sf_event(at(5), phone=None))
    missing = resolve(BASE, sf_event(at(5)))

    assert cleared.writes[GR] == {"phone": None}
    assert not missing.has_writes
    assert missing.decisions == ()


def test_change_on_both_sides_goes_to_the_later_one() -> None:
    result = resolve(
        BASE,
        sf_event(at(10), name="Pat Lee-Smith"),
        gr_read(at(5), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
        preferred=GR,
    )

    assert rule_of(result, "name") is Rule.LAST_WRITE_WINS
    assert result.writes == {SF: {}, GR: {"name": "Pat Lee-Smith"}}


def test_change_on_both_sides_where_the_other_side_is_later_is_written_to_the_incoming_side() -> None:
    result = resolve(
        BASE,
        sf_event(at(5), name="Pat Lee-Smith"),
        gr_read(at(10), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
    )

    assert rule_of(result, "name") is Rule.LAST_WRITE_WINS
    assert result.writes == {SF: {"name": "Patricia Lee"}, GR: {}}


@pytest.mark.parametrize("preferred", [SF, GR])
def test_change_on_both_sides_within_skew_goes_to_preferred_system(preferred: Side) -> None:
    result = resolve(
        BASE,
        sf_event(at(5), name="Pat Lee-Smith"),
        gr_read(at(6.5), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
        preferred=preferred,
    )

    expected = "Pat Lee-Smith" if preferred is SF else "Patricia Lee"
    assert rule_of(result, "name") is Rule.PREFERRED_ON_TIE
    assert result.new_base["name"].value == expected
    assert result.writes[preferred.other] == {"name": expected}
    assert result.writes[preferred] == {}


def test_change_on_both_sides_with_a_timestamp_missing_goes_to_preferred_system() -> None:
    result = resolve(
        BASE,
        sf_event(at(50), name="Pat Lee-Smith"),
        gr_read(None, email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
        preferred=GR,
    )

    assert rule_of(result, "name") is Rule.PREFERRED_ON_TIE
    assert result.writes == {SF: {"name": "Patricia Lee"}, GR: {}}


def test_same_new_value_on_both_sides_moves_the_base_without_writing() -> None:
    result = resolve(
        BASE,
        sf_event(at(5), name="Patricia Lee"),
        gr_read(at(7), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
    )

    assert not result.has_writes
    assert rule_of(result, "name") is Rule.EQUAL_ON_BOTH
    assert result.new_base["name"] == FieldState("Patricia Lee", at(7), GR)


def test_event_older_than_the_base_from_the_same_side_is_stale() -> None:
    base = agreed(SF, at(10), phone="+48600999999")

    result = resolve(base, sf_event(at(5), phone="+48600100200"))

    assert rule_of(result, "phone") is Rule.STALE
    assert not result.has_writes
    assert result.new_base == base


def test_duplicate_delivery_of_a_change_the_other_side_already_superseded_is_stale() -> None:
    base = agreed(GR, at(10), phone="+48600999999")

    result = resolve(base, sf_event(at(9), phone="+48600100200"))

    assert rule_of(result, "phone") is Rule.STALE
    assert not result.has_writes


def test_stale_value_in_a_fresh_read_is_overwritten_with_the_base() -> None:
    base = agreed(SF, at(10), phone="+48600999999")

    result = resolve(base, sf_event(at(12), phone="+48600999999"), gr_read(at(4), phone="+48600100200"))

    assert rule_of(result, "phone") is Rule.STALE
    assert result.writes == {SF: {}, GR: {"phone": "+48600999999"}}


def test_getresponse_change_in_the_same_second_as_a_salesforce_base_is_not_stale() -> None:
    # changedOn has whole seconds only: 12:00:10 may well be later than 12:00:10.400.
    base = agreed(SF, at(10.4), phone="+48600999999")

    result = resolve(base, gr_read(at(10), phone="+48600100200"))

    assert rule_of(result, "phone") is Rule.ONE_SIDE_CHANGED
    assert result.writes[SF] == {"phone": "+48600100200"}


def test_change_without_a_timestamp_is_never_stale() -> None:
    base = agreed(SF, at(10), phone="+48600999999")

    result = resolve(base, sf_event(None, phone="+48600100200"))

    assert rule_of(result, "phone") is Rule.ONE_SIDE_CHANGED


@pytest.mark.parametrize("preferred", [SF, GR])
def test_first_sync_uses_the_preferred_system_for_every_differing_field(preferred: Side) -> None:
    result = resolve(
        {},
        sf_read(at(5), email="pat@example.com", name="Pat Lee", phone="+48600100200"),
        gr_read(at(1), email="pat@example.com", name="Patricia Lee", phone="+48600999999"),
        preferred=preferred,
        first_sync=True,
    )

    winner = (
        {"name": "Pat Lee", "phone": "+48600100200"}
        if preferred is SF
        else {
            "name": "Patricia Lee",
            "phone": "+48600999999",
        }
    )
    assert result.writes[preferred.other] == winner
    assert result.writes[preferred] == {}
    assert rule_of(result, "name") is Rule.PREFERRED_FIRST_SYNC
    assert rule_of(result, "email") is Rule.EQUAL_ON_BOTH


def test_first_sync_fills_a_field_empty_on_the_preferred_side_instead_of_erasing_it() -> None:
    result = resolve(
        {},
        sf_read(at(5), email="pat@example.com", phone=None),
        gr_read(at(1), email="pat@example.com", phone="+48600999999"),
        preferred=SF,
        first_sync=True,
    )

    assert rule_of(result, "phone") is Rule.FILL_EMPTY
    assert result.writes == {SF: {"phone": "+48600999999"}, GR: {}}


def test_first_sync_ignores_an_existing_base() -> None:
    result = resolve(
        BASE,
        sf_read(at(5), name="Pat Lee"),
        gr_read(at(9), name="Patricia Lee"),
        preferred=SF,
        first_sync=True,
    )

    assert rule_of(result, "name") is Rule.PREFERRED_FIRST_SYNC
    assert result.writes[GR] == {"name": "Pat Lee"}


def test_field_added_to_the_mapping_later_is_decided_by_the_preferred_system() -> None:
    result = resolve(
        BASE,
        sf_read(at(5), email="pat@example.com", name="Pat Lee", phone="+48600100200", company="Acme"),
        gr_read(at(9), email="pat@example.com", name="Pat Lee", phone="+48600100200", company="ACME Inc"),
        preferred=SF,
    )

    assert rule_of(result, "company") is Rule.PREFERRED_FIRST_SYNC
    assert result.writes == {SF: {}, GR: {"company": "Acme"}}


def test_field_with_no_history_reported_by_one_side_is_written_to_an_unread_other_side() -> None:
    result = resolve(BASE, sf_event(at(5), company="Acme", country=None))

    assert rule_of(result, "company") is Rule.NEW_FIELD
    assert result.writes[GR] == {"company": "Acme"}
    # Clearing a value we have never seen on the other side could only lose data.
    assert "country" not in result.writes[GR]
    assert result.new_base["country"] == FieldState(None, at(5), SF)


def test_field_the_other_side_does_not_carry_is_never_written_there() -> None:
    # A Contact has no Company: its complete read leaves the field out.
    result = resolve(
        agreed(email="pat@example.com"),
        gr_read(at(5), email="pat@example.com", company="Acme"),
        sf_read(at(1), email="pat@example.com"),
    )

    assert not result.has_writes
    assert result.new_base["company"] == FieldState("Acme", at(5), GR)


def test_field_a_partial_event_says_its_side_does_not_carry_is_never_written_there() -> None:
    contact_event = Snapshot(SF, {"phone": "+48600100200"}, at(5), carries=frozenset({"email", "phone"}))

    result = resolve(
        agreed(email="pat@example.com", company="Acme", phone="+48600100200"),
        contact_event,
        gr_read(at(9), email="pat@example.com", company="Acme Inc", phone="+48600100200"),
    )

    assert not result.has_writes
    assert result.new_base["company"] == FieldState("Acme Inc", at(9), GR)


def test_snapshot_cannot_report_a_field_it_does_not_carry() -> None:
    with pytest.raises(ValueError, match="does not carry"):
        Snapshot(SF, {"company": "Acme"}, carries=frozenset({"email"}))


def test_refused_write_keeps_the_previous_base_and_is_logged() -> None:
    result = resolve(BASE, sf_event(at(5), phone="12", name="Pat Lee-Smith"))

    trimmed = result.without_writes(GR, {"phone": "not a valid phone number"}, BASE)

    assert trimmed.writes == {SF: {}, GR: {"name": "Pat Lee-Smith"}}
    assert trimmed.new_base["phone"] == BASE["phone"]
    assert rule_of(trimmed, "phone") is Rule.NOT_WRITABLE
    assert "not a valid phone number" in next(d.reason for d in trimmed.decisions if d.field == "phone")


def test_every_decision_names_the_new_base_value() -> None:
    result = resolve(
        BASE,
        sf_event(at(5), name="Pat Lee-Smith", phone=None),
        gr_read(at(9), email="pat@example.com", name="Patricia Lee", phone="+48600100200"),
    )

    for decision in result.decisions:
        assert result.new_base[decision.field].value == decision.new


def test_base_survives_a_json_round_trip() -> None:
    base = {**agreed(SF, at(1.234), name="Pat Lee", opted_out=True), **agreed(GR, None, phone=None)}

    assert base_from_json(base_to_json(base)) == base


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Snapshot(SF, {}, datetime(2026, 1, 1, 12, 0))


def test_both_snapshots_from_one_side_are_refused() -> None:
    with pytest.raises(ValueError, match="different sides"):
        resolve(BASE, sf_event(at(1)), sf_read(at(1)))


def test_salesforce_state_from_before_our_write_there_is_stale_whatever_the_base_time() -> None:
    # GetResponse's edit (whole seconds) was written to Salesforce by a PATCH conditional on the
    # record's LastModifiedDate of 10.4; an Outbound Message rendered before that PATCH arrives after.
    base = written_to_salesforce(agreed(GR, at(10), company="Loop Free Inc"), {"company"}, at(10.4))

    result = resolve(base, sf_event(at(10.4), company="Acme"))

    assert rule_of(result, "company") is Rule.STALE
    assert not result.has_writes


def test_salesforce_change_after_our_write_there_is_a_change() -> None:
    base = written_to_salesforce(agreed(GR, at(10), company="Loop Free Inc"), {"company"}, at(10.4))

    result = resolve(base, sf_event(at(10.5), company="Acme"))

    assert rule_of(result, "company") is Rule.ONE_SIDE_CHANGED
    assert result.writes[GR] == {"company": "Acme"}


def test_only_the_fields_written_to_salesforce_get_the_bound() -> None:
    base = written_to_salesforce(agreed(GR, at(10), company="Loop Free Inc", phone="+1"), {"company"}, at(10.4))

    assert base["company"].salesforce_before == at(10.4)
    assert base["phone"].salesforce_before is None
    assert base_from_json(base_to_json(base)) == base
