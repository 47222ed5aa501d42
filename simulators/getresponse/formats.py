"""GetResponse's wire formats: two timestamp dialects, query dates, and resource ids.

The API and the webhooks disagree on timestamps (api-contracts B6 and B9), and the simulator
reproduces both so that a parser that only knows one of them breaks here first:

- API resources: `2017-12-19T13:11:48+0000`: whole seconds, colon-less offset;
- webhook `event.occurredAt`: `2021-04-27T12:56:00+00:00`: whole seconds, offset with a colon.

Internally the simulator keeps exact instants (microseconds), so a test can tell two edits within
one second apart, but every comparison the API makes (`query[changedOn][from]`, ...) is done at the
precision the API shows: whole seconds.
"""

from __future__ import annotations

import random
import string
from collections.abc import Container
from datetime import UTC, date, datetime, time

API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_ID_ALPHABET = string.ascii_letters + string.digits


def now() -> datetime:
    return datetime.now(UTC)


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def api_time(moment: datetime) -> str:
    """`2017-12-19T13:11:48+0000` (api-contracts B6)."""
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def webhook_time(moment: datetime) -> str:
    """`2021-04-27T12:56:00+00:00` (api-contracts B9)."""
    return whole_seconds(moment.astimezone(UTC)).isoformat()


def parse_query_time(value: str, *, end_of_range: bool) -> datetime | None:
    """A `query[createdOn][from|to]` value: a date (`2024-05-01`) or a date-time.

    A bare date covers the whole day: as `from` it means its first second, as `to` its last one.
    A date-time without an offset is UTC (GetResponse answers in UTC unless told otherwise).
    Returns None when the value is neither.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(23, 59, 59) if end_of_range else time(0), UTC)
            return moment
        normalized = text.replace(" ", "T", 1)
        if normalized.endswith("Z"):
            normalized = normalized[:-1] + "+00:00"
        elif len(normalized) > 5 and normalized[-5] in "+-" and normalized[-4:].isdigit():
            normalized = normalized[:-2] + ":" + normalized[-2:]  # +0000 -> +00:00
        parsed = datetime.fromisoformat(normalized)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return whole_seconds(parsed.astimezone(UTC))


def seconds_until(deadline: float, now_monotonic: float) -> int:
    """Whole seconds left, rounded up, never below 1 while something is left."""
    left = deadline - now_monotonic
    return max(0, int(left) + (1 if left > int(left) else 0))


def new_id(taken: Container[str], length: int = 5) -> str:
    """A short mixed-case id like the vendor's (`pVyRW`, `kL6Nh`), unique within `taken`."""
    while True:
        candidate = "".join(random.choices(_ID_ALPHABET, k=length))
        if candidate not in taken:
            return candidate
