"""A sync's health: the last day's dead letters grouped by error class and vendor reason, each
group with a count, an example, a fix hint and the filter that replays it once fixed (the way a
CRM integration's "sync health" page lists write errors).

A reason is grouped with others that differ only in ids, emails and numbers (a record id, a
contact id, an attempt count), so one cause is one group however many people it hit.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.control.errors import NotFound
from app.db import dead_letters, syncs

WINDOW = timedelta(days=1)
MAX_SCANNED = 5000

_VARIABLE_PARTS = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b(?=[a-zA-Z0-9]*\d)[a-zA-Z0-9]{15,18}\b"), "<id>"),  # Salesforce ids
    (re.compile(r"after \d+ tries over \d+ s"), "after <n> tries over <n> s"),
    (re.compile(r"\b\d{5,}\b|\b\d+\.\d+\b"), "<n>"),  # long numbers; statuses and codes stay
]

# (words in the reason or the class, what to do), first match wins.
_HINTS: list[tuple[tuple[str, ...], str]] = [
    (("blacklisted",), "the address is on GetResponse's blacklist: remove it there, then replay"),
    (("missingemail", "has no email"), "give the person an email in Salesforce; their next edit syncs them"),
    (("unauthorized", "invalid_session", "401", "authentication"),
     "the account's credentials are refused: reconnect it (POST /v1/connections/...), then replay"),
    (("custom field", "invalid value", "field_custom_validation", "value is invalid"),
     "a mapped field refuses the value: fix the value or the sync's mapping (PATCH /v1/syncs/{id}), "
     "then replay"),
    (("required_field_missing", "required"),
     "Salesforce needs a field the sync does not fill: map it or give it a default, then replay"),
    (("duplicate",),
     "a duplicate rule or an existing record blocks the write: merge the records, then replay"),
    (("gave up after",),
     "the vendor failed for the whole retry budget: check that it answers again, then replay"),
    (("not a changeevent", "malformedevent"), "a message that is no change event: discard it"),
]
_DEFAULT_HINT = "read the example's reason and fix its cause, then replay the group with its filter"


class ErrorGroup(BaseModel):
    error_class: str
    reason: str = Field(description="the vendor's reason, with ids, emails and numbers generalised")
    count: int
    open: int = Field(description="how many are still open (not replayed or discarded)")
    first_at: datetime
    last_at: datetime
    example: dict[str, Any] = Field(description="the newest dead letter of the group: id, key, reason")
    hint: str
    replay_filter: dict[str, Any] = Field(
        description="the body of POST /v1/dead-letters/replay for this group"
    )


class SyncErrors(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "since": "2026-11-29T10:00:00Z",
                    "total": 14,
                    "groups": [
                        {
                            "error_class": "Permanent",
                            "reason": "getresponse 400 1002: Contact is blacklisted",
                            "count": 14,
                            "open": 14,
                            "first_at": "2026-11-30T08:12:00Z",
                            "last_at": "2026-11-30T09:58:00Z",
                            "example": {
                                "id": 42, "key": "00Q5g00000AbCdEFGH", "status": "open",
                                "reason": "getresponse 400 1002: Contact is blacklisted",
                            },
                            "hint": "the address is on GetResponse's blacklist: remove it there, then replay",
                            "replay_filter": {
                                "sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                                "error_class": "Permanent",
                                "reason_contains": "getresponse 400 1002: Contact is blacklisted",
                            },
                        }
                    ],
                }
            ]
        }
    }

    sync_id: uuid.UUID
    since: datetime
    total: int
    groups: list[ErrorGroup] = Field(description="largest first")


def generalised(reason: str) -> str:
    for pattern, placeholder in _VARIABLE_PARTS:
        reason = pattern.sub(placeholder, reason)
    return reason[:300]


def hint_for(error_class: str, reason: str) -> str:
    text = f"{error_class} {reason}".lower()
    for words, hint in _HINTS:
        if any(word in text for word in words):
            return hint
    return _DEFAULT_HINT


def _common_words(reason: str) -> str:
    """The longest part of the generalised reason without a placeholder: what the filter matches."""
    parts = [p.strip(" :,()") for p in re.split(r"<email>|<id>|<n>", reason)]
    return max(parts, key=len) or reason


async def sync_errors(session: AsyncSession, sync_id: uuid.UUID) -> SyncErrors:
    sync = await syncs.sync_by_id(session, sync_id)
    if sync is None:
        raise NotFound(f"no sync {sync_id}")
    letters = await dead_letters.recent_of_sync(session, sync, within=WINDOW, limit=MAX_SCANNED)
    groups: dict[tuple[str, str], ErrorGroup] = {}
    for letter in letters:  # newest first
        key = (letter.error_class, generalised(letter.reason))
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(
                error_class=letter.error_class,
                reason=key[1],
                count=0,
                open=0,
                first_at=letter.created_at,
                last_at=letter.created_at,
                example={
                    "id": letter.id, "key": letter.key, "reason": letter.reason, "status": letter.status
                },
                hint=hint_for(*key),
                replay_filter={
                    "sync_id": str(sync_id),
                    "error_class": letter.error_class,
                    "reason_contains": _common_words(key[1])[:500],
                },
            )
        group.count += 1
        group.open += letter.status == "open"
        group.first_at = min(group.first_at, letter.created_at)
    return SyncErrors(
        sync_id=sync_id,
        since=datetime.now(UTC) - WINDOW,
        total=len(letters),
        groups=sorted(groups.values(), key=lambda g: (-g.count, g.error_class)),
    )
