"""Plain-text output: percentiles and compact tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `nan` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def fmt(value: float | int | str | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, indent: str = "  ") -> str:
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return indent + "  ".join(out).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def title(text: str) -> None:
    print(f"\n== {text}", flush=True)


def note(text: str) -> None:
    print(f"  {text}", flush=True)


# Every benchmark's figures of this run, in the order printed: `python -m bench --json FILE` writes them.
RESULTS: list[dict[str, Any]] = []


def figures(bench: str, **values: Any) -> dict[str, Any]:
    """Print a benchmark's figures as its last line, one JSON object, and keep them for `--json`."""
    record = {"bench": bench, **values}
    RESULTS.append(record)
    print(json.dumps(record, allow_nan=False, default=_plain), flush=True)
    return record


def _plain(value: Any) -> Any:
    raise TypeError(f"not a figure: {value!r}")


def rounded(value: float | None, digits: int = 2) -> float | None:
    """A figure for JSON: None for a missing or NaN value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, digits)
