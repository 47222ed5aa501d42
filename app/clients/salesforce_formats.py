"""Salesforce's wire formats that the client reads and writes (api-contracts A3, C6, C7).

- REST date-times are `2024-05-01T10:00:00.000+0000`: millis and a colon-less offset, which
  `datetime.fromisoformat` of Python 3.11 does accept, but CometD's `...000Z` and hand-written
  `+00:00` appear too, so all of them are read (C7);
- `If-Unmodified-Since` takes an HTTP-date (`Wed, 01 May 2024 10:00:00 GMT`) compared in whole
  seconds (A3 "Conditional writes");
- `Sforce-Limit-Info: api-usage=<used>/<limit>` is the only quota signal: no reset or
  Retry-After header exists (C6).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,6}))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_API_USAGE = re.compile(r"(?:^|[,;\s])api-usage\s*=\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_datetime(value: str) -> datetime:
    """An aware UTC datetime from any of Salesforce's date-time spellings; a value without an
    offset is UTC, as the REST API always answers in UTC. Raises ValueError otherwise."""
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a Salesforce date-time: {value!r}")
    frac = (match["frac"] or "").ljust(6, "0")
    naive = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    return naive.replace(tzinfo=_zone(match["zone"])).astimezone(UTC)


def _zone(raw: str | None) -> timezone:
    if raw is None or raw == "Z":
        return UTC
    digits = raw[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if raw[0] == "-" else offset)


def format_datetime(value: datetime) -> str:
    """`2024-05-01T10:00:00.000+0000`, the form the REST API itself answers with."""
    utc = _aware(value).astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def http_date(value: datetime) -> str:
    """IMF-fixdate in GMT, truncated to the second: Salesforce compares whole seconds, and
    rounding up would let a change made later in that second slip through."""
    utc = _aware(value).astimezone(UTC)
    return (
        f"{_DAYS[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} GMT"
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; give it a time zone")
    return value


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """(used, limit) from `Sforce-Limit-Info`, which may list per-app figures after the org's."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return int(match[1]), int(match[2])
