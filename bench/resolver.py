"""5. Resolver micro-benchmark: `resolve_change` (pure code, no I/O) on realistic snapshots.

The snapshots are made by the demo sync's own mapping from vendor-shaped records (a Lead as the
REST API returns it, a contact as GetResponse returns it), in the situations the consumers meet:
an echo of our own write, an edit with the other side not read, an edit with the other side read
fresh, an edit on both sides, and a first-sync match. Each is timed against a baseline measured in
the same run on the same snapshots: a plain dict comparison of the values with the base's values
(the least any merge must do), so the ratio says what the three-way merge and its decision log cost
on top, whatever the machine's speed. Timing: the best of several repeats, resolver and baseline
alternating, with the stack (if started) idle.

Memory: tracemalloc's peak while 100k resolutions (20k with --quick) run and are thrown away (what
a consumer does), and the size of one Resolution when they are all kept.
"""

from __future__ import annotations

import gc
import itertools
import time
import timeit
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.resolver import Base, FieldState, Resolution, Snapshot, resolve_change
from app.domain.sides import ObjectType, Side, Value
from bench.report import figures, fmt, note, rounded, table, title
from devstack.defaults import COMPANY_FIELD, COUNTRY_FIELD, DEMO_MAPPING, PHONE_FIELD

SKEW = timedelta(seconds=1)
T0 = datetime(2026, 3, 2, 9, 30, 0, 125000, tzinfo=UTC)
LEAD = ObjectType.LEAD
CARRIES = DEMO_MAPPING.canonical_names(LEAD)


@dataclass(frozen=True)
class Case:
    label: str
    base: Base
    incoming: Snapshot
    other: Snapshot | None
    first_sync: bool = False

    def resolve(self) -> Resolution:
        return resolve_change(
            self.base,
            self.incoming,
            self.other,
            preferred=Side.SALESFORCE,
            skew=SKEW,
            first_sync=self.first_sync,
        )


def _lead(**changes: Any) -> dict[str, Any]:
    record = {
        "Id": "00Q5g00000AbCdEFGH",
        "Email": "Pat.Lee@Example.com",
        "FirstName": "Pat",
        "LastName": "Lee",
        "Phone": "+48 600 100 200",
        "Country": "Poland",
        "Company": "Acme",
        "LastModifiedDate": "2026-03-02T09:30:00.125+0000",
    }
    record.update(changes)
    return record


def _contact(**custom: str) -> dict[str, Any]:
    values = {PHONE_FIELD: "+48600100200", COUNTRY_FIELD: "Poland", COMPANY_FIELD: "Acme", **custom}
    return {
        "contactId": "m0irA",
        "email": "pat.lee@example.com",
        "name": "Pat Lee",
        "changedOn": "2026-03-02T09:30:00+0000",
        "customFieldValues": [{"customFieldId": k, "value": [v]} for k, v in values.items()],
    }


def _sf(record: dict[str, Any], at: datetime, *, complete: bool) -> Snapshot:
    values = DEMO_MAPPING.salesforce_to_canonical(record, LEAD, complete=complete)
    return Snapshot(Side.SALESFORCE, values, at=at, carries=CARRIES)


def _gr(contact: dict[str, Any], at: datetime, *, partial: tuple[str, ...] = ()) -> Snapshot:
    values = DEMO_MAPPING.getresponse_to_canonical(contact)
    if partial:
        return Snapshot(Side.GETRESPONSE, {k: values[k] for k in partial}, at=at)
    return Snapshot(Side.GETRESPONSE, values, at=at, complete=True)


def cases() -> list[Case]:
    agreed = DEMO_MAPPING.salesforce_to_canonical(_lead(), LEAD, complete=True)
    base = {name: FieldState(value, T0, Side.SALESFORCE) for name, value in agreed.items()}
    later, much_later = T0 + timedelta(seconds=4), T0 + timedelta(seconds=9)
    return [
        Case(
            "echo of our own write (CDC, equal to base)",
            base,
            _sf({"Phone": "+48 600 100 200"}, later, complete=False),
            None,
        ),
        Case(
            "webhook edit, other side not read",
            base,
            _gr(_contact(**{COMPANY_FIELD: "Acme Worldwide"}), later, partial=("company",)),
            None,
        ),
        Case(
            "Lead edit, contact read fresh",
            base,
            _sf({"Phone": "+1 212 555 0199"}, later, complete=False),
            _gr(_contact(), T0.replace(microsecond=0)),
        ),
        Case(
            "edited on both sides (last write wins)",
            base,
            _sf(_lead(Company="Acme Europe"), much_later, complete=True),
            _gr(_contact(**{COMPANY_FIELD: "Acme Worldwide"}), later.replace(microsecond=0)),
        ),
        Case(
            "first-sync match (conflict + fill)",
            {},
            _sf(_lead(Phone=None), T0, complete=True),
            _gr(
                _contact(**{COMPANY_FIELD: "ACME Ltd", PHONE_FIELD: "+14155550100"}),
                T0.replace(microsecond=0),
            ),
            first_sync=True,
        ),
    ]


def plain_diff(
    base: Mapping[str, Value], incoming: Mapping[str, Value], other: Mapping[str, Value] | None
) -> tuple[dict[str, Value], dict[str, Value]]:
    """The baseline: which values differ from the base, on each side, as plain dicts."""
    return (
        {k: v for k, v in incoming.items() if base.get(k) != v},
        {k: v for k, v in other.items() if base.get(k) != v} if other is not None else {},
    )


def _loops(fn: Callable[[], object], seconds: float) -> int:
    """How many calls take about `seconds` (calibrated on a short run)."""
    calibration = 200
    took = timeit.timeit(fn, number=calibration)
    return max(1, int(seconds / (took / calibration)))


def _us(fn: Callable[[], object], number: int) -> float:
    return timeit.timeit(fn, number=number) / number * 1e6


def run(*, quick: bool) -> None:
    repeats, per_repeat = (3, 0.05) if quick else (5, 0.2)
    title(f"5. Resolver micro-benchmark (resolve_change; best of {repeats} repeats of ~{per_repeat:g} s)")
    note("runs first, before the stack is started, so that nothing else of ours competes for the CPU")
    started = time.monotonic()
    rows = []
    measured: dict[str, dict[str, float | None]] = {}
    all_cases = cases()
    for case in all_cases:
        base_values = {k: s.value for k, s in case.base.items()}
        other_values = case.other.values if case.other is not None else None

        def resolve(case: Case = case) -> Resolution:
            return case.resolve()

        def baseline(
            b: Mapping[str, Value] = base_values,
            i: Mapping[str, Value] = case.incoming.values,
            o: Mapping[str, Value] | None = other_values,
        ) -> object:
            return plain_diff(b, i, o)

        number, number_base = _loops(resolve, per_repeat), _loops(baseline, per_repeat)
        resolver_us, baseline_us = [], []
        for _ in range(repeats):
            resolver_us.append(_us(resolve, number))
            baseline_us.append(_us(baseline, number_base))
        best, best_base = min(resolver_us), min(baseline_us)
        decisions = case.resolve().decisions
        ratio = rounded(best / best_base, 1)
        measured[case.label] = {"us_per_call": rounded(best), "ratio_to_dict_diff": ratio}
        rows.append(
            [
                case.label,
                fmt(len(decisions)),
                fmt(best, 1),
                fmt(1e6 / best),
                fmt(best_base, 2),
                f"{best / best_base:.0f}x",
            ]
        )
    headers = ["snapshot pair", "fields", "us/call", "ops/s", "dict diff us", "ratio"]
    print(table(headers, rows))
    note("ratio = resolve_change time / plain dict comparison of the same snapshots, same run")
    _memory(all_cases, 20_000 if quick else 100_000)
    note(f"{time.monotonic() - started:.0f} s")
    figures("resolver", cases=measured)


def _memory(all_cases: list[Case], count: int) -> None:
    mix = list(itertools.islice(itertools.cycle(all_cases), count))
    gc.collect()
    began = time.perf_counter()
    for case in mix:
        case.resolve()
    plain_s = time.perf_counter() - began

    tracemalloc.start()
    try:
        start_current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for case in mix:
            case.resolve()
        _, streamed_peak = tracemalloc.get_traced_memory()
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        kept = [case.resolve() for case in mix]
        after, kept_peak = tracemalloc.get_traced_memory()
        del kept
    finally:
        tracemalloc.stop()
    rows = [
        ["run and thrown away (as a consumer does)", _kib(streamed_peak - start_current), "-"],
        ["all kept in a list", _kib(kept_peak - before), f"{(after - before) / count:,.0f} B"],
    ]
    print(table([f"{count:,} resolutions (mixed), tracemalloc", "peak", "per resolution"], rows))
    note(f"the same mix untraced: {count / plain_s:,.0f} ops/s ({plain_s / count * 1e6:.1f} us/call)")


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"
