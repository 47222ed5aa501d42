"""The simulator's clock and Salesforce's date-time wire formats.

- REST JSON and SOQL results: `2024-05-01T10:00:00.000+0000`, millis and a colon-less offset
  (api-contracts A3 "Date-time wire format"); parsers that expect `Z` or `+00:00` must cope.
- CDC over CometD and the SOAP Outbound Message: `2024-05-01T10:00:00.000Z` (A2 body contents).
- `If-Unmodified-Since` / `If-Modified-Since`: HTTP-dates, compared in whole seconds (A3
  "Conditional writes"). Only the IMF-fixdate form (`Wed, 01 May 2024 10:00:00 GMT`) is accepted:
  the obsolete RFC 850 and asctime forms are refused as invalid, the stricter reading.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from threading import Lock

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HTTP_DATE = re.compile(
    r"(?P<wd>Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?P<d>\d{2}) (?P<mon>[A-Z][a-z]{2}) (?P<y>\d{4}) "
    r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) GMT"
)
SOQL_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:?\d{2})"
)
SOQL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class Clock:
    """UTC with millisecond precision, never going backwards, and movable forward by tests
    (`POST /_sim/clock`) so that whole-second comparisons need no sleeping."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = Lock()

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC) + self._offset
            current = current.replace(microsecond=current.microsecond // 1000 * 1000)
            self._last = max(self._last, current)
            return self._last

    def reset(self) -> None:
        """Back to real time (only after the records are gone, so nothing sees time go backwards)."""
        with self._lock:
            self._offset = timedelta(0)
            self._last = datetime.min.replace(tzinfo=UTC)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()


def rest(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def http_date(value: datetime) -> str:
    value = value.astimezone(UTC)
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year} "
        f"{value:%H:%M:%S} GMT"
    )


def parse_http_date(raw: str) -> datetime | None:
    match = _HTTP_DATE.fullmatch(raw.strip())
    if not match or match["mon"] not in _MONTHS:
        return None
    try:
        parsed = datetime(
            int(match["y"]),
            _MONTHS.index(match["mon"]) + 1,
            int(match["d"]),
            int(match["H"]),
            int(match["M"]),
            int(match["S"]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return parsed if _DAYS[parsed.weekday()] == match["wd"] else None


def whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def parse_soql_datetime(raw: str) -> datetime | None:
    match = SOQL_DATETIME.fullmatch(raw)
    if not match:
        return None
    year, month, day, hour, minute, second, millis, zone = match.groups()
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((millis or "0").ljust(3, "0")) * 1000,
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        parsed -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return parsed


def parse_soql_date(raw: str) -> date | None:
    if not SOQL_DATE.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None
