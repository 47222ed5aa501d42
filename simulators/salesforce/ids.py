"""Salesforce record ids (api-contracts A3 "IDs", A1 WSDL `ID` type).

An id is 15 case-sensitive characters: a 3-character key prefix naming the object type
(`00Q` Lead, `003` Contact, `701` Campaign, `00v` CampaignMember, `00D` organization, `005` user,
`04l` outbound notification, `04k` outbound-message action, `01g` query locator), then instance
and record digits. The API always answers with the 18-character form, whose last 3 characters are
a checksum of the case of the first 15, so that case-insensitive systems can tell ids apart.
"""

from __future__ import annotations

import random
import re
import string
from itertools import count
from threading import Lock

LEAD_PREFIX = "00Q"
CONTACT_PREFIX = "003"
CAMPAIGN_PREFIX = "701"
CAMPAIGN_MEMBER_PREFIX = "00v"
ORG_PREFIX = "00D"
USER_PREFIX = "005"
NOTIFICATION_PREFIX = "04l"
ACTION_PREFIX = "04k"
QUERY_LOCATOR_PREFIX = "01g"

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SHAPE = re.compile(r"[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?")


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix: one character per 5-character chunk, bit i set when
    character i of the chunk is an upper-case letter."""
    suffix = ""
    for chunk in range(3):
        flags = 0
        for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << i
        suffix += _CHECKSUM_ALPHABET[flags]
    return suffix


def to18(id15: str) -> str:
    return id15 + checksum(id15)


def normalize(raw: str) -> str | None:
    """The 18-character id for a 15- or 18-character id, or None when `raw` is not an id.

    An 18-character id whose suffix disagrees with its first 15 characters is refused (the
    stricter reading); a 15-character id is taken as written, case-sensitively.
    """
    if not _SHAPE.fullmatch(raw):
        return None
    if len(raw) == 18 and checksum(raw[:15]) != raw[15:]:
        return None
    return to18(raw[:15])


def is_valid(raw: str, prefix: str | None = None) -> bool:
    value = normalize(raw)
    return value is not None and len(raw) == 18 and (prefix is None or value.startswith(prefix))


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits))


class IdFactory:
    """Fresh 18-character ids per key prefix, increasing in creation order (base-62 digits sort
    like ASCII). The record part mixes letter case, so that code which compares ids
    case-insensitively, or truncates them to 15, is caught."""

    def __init__(self, *, pod: str = "5g", seed: int | None = None) -> None:
        self._pod = pod
        self._random = random.Random(seed)
        self._counters: dict[str, count[int]] = {}
        self._lock = Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, count(self._random.randrange(62**7, 62**8)))
            serial = next(counter)
        return to18(prefix + self._pod + "0" + _base62(serial, 9))
