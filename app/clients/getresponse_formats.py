"""GetResponse's wire formats that the client reads and writes (api-contracts B6, B9, B10, C11).

- `X-RateLimit-Reset` and the 429 body's `timeToReset` are strings such as "432 seconds", not
  bare integers (C11); a bare number is read too, should a proxy or a future version send one;
- API timestamps are `2017-12-19T13:11:48+0000` (whole seconds, colon-less offset) while webhooks
  say `2021-04-27T12:56:00+00:00`; `query[changedOn][from]` takes a date-time in the first form.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)?\s*", re.IGNORECASE)


def parse_seconds(value: object) -> float | None:
    """Seconds from "432 seconds", "1 second", "5" or 5; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SECONDS.fullmatch(value)
    return float(match[1]) if match else None


def parse_datetime(value: str) -> datetime:
    """An aware UTC datetime from either of GetResponse's timestamp forms; ValueError otherwise."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_query_time(value: datetime) -> str:
    """`2024-05-01T10:00:00+0000`, as `query[changedOn][from]` expects; the API compares whole
    seconds, so the fraction is dropped (the bound is inclusive, nothing is lost)."""
    if value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; give it a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
