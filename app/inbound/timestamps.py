"""The vendors' date-time strings, read into aware UTC datetimes.

Salesforce sends `2024-05-01T10:00:00.000Z` in CometD and SOAP and `...000+0000` over REST
(api-contracts A2, C7); GetResponse webhooks send `2021-04-27T12:56:00+00:00` (B9). A value
without an offset is refused: guessing a zone would shift every conflict decision.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_VENDOR_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})"
)


def parse_vendor_datetime(raw: str) -> datetime:
    """Raises ValueError when `raw` is not an ISO 8601 date-time with an offset."""
    text = raw.strip()
    if not _VENDOR_DATETIME.fullmatch(text):
        raise ValueError(f"{raw!r} is not a date-time like 2024-05-01T10:00:00.000Z")
    return datetime.fromisoformat(text).astimezone(UTC)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)
