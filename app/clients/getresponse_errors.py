"""GetResponse's error body, mapped to `app.clients.errors` (api-contracts B5, B6, B10).

Every error is `{"httpStatus", "code", "codeDescription", "message", "moreInfo", "context",
"uuid"}`. The HTTP status decides; the code backs it up when a proxy changed the status.

| HTTP | code | meaning                                        | class        |
|------|------|------------------------------------------------|--------------|
| 429  | 1015 | throttled; `context.timeToReset` "N seconds"   | RateLimited  |
| 401  | 1014 | authentication failed                          | Unauthorized |
| 403  |      | authorization failed (B5): the whole account   | Unauthorized |
| 404  | 1013 | not found (also deleted, pending, unsubscribed)| NotFound     |
| 409  | 1008 | unique value taken: already on that list       | Conflict     |
| 408, 5xx | 1 | internal                                      | Transient    |
| 400  | 1000 | validation (`context.fieldName`)               | Permanent    |
| 400  | 1001 | related resource missing (list, custom field)  | Permanent    |
| 400  | 1002 | state forbids it (blacklisted, bounced, ...)   | Permanent    |
| 400  | 1003 | wrong parameter format                         | Permanent    |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.clients.errors import (
    Conflict,
    NotFound,
    Permanent,
    RateLimited,
    Transient,
    Unauthorized,
    Vendor,
    VendorError,
)
from app.clients.getresponse_formats import parse_seconds

VENDOR: Vendor = "getresponse"
THROTTLED = 1015
# A 429 that names no wait: the per-second limit is the likely cause, and it clears in a second.
DEFAULT_RETRY_AFTER_S = 1.0


def retry_after(body: Any, headers: Mapping[str, str]) -> float:
    """The wait a 429 asks for: the body's `timeToReset` (it names the limit that was hit), then
    `Retry-After` (the vendor's guide says to honour it; UNCONFIRMED that it is sent), then
    `X-RateLimit-Reset` (the end of the 10-minute frame)."""
    context = body.get("context") if isinstance(body, Mapping) else None
    candidates = [
        context.get("timeToReset") if isinstance(context, Mapping) else None,
        headers.get("Retry-After"),
        headers.get("X-RateLimit-Reset"),
    ]
    for candidate in candidates:
        seconds = parse_seconds(candidate)
        if seconds is not None:
            return seconds
    return DEFAULT_RETRY_AFTER_S


def getresponse_error(status: int, body: Any, headers: Mapping[str, str]) -> VendorError:
    error = body if isinstance(body, Mapping) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    message = str(error.get("message") or error.get("codeDescription") or f"HTTP {status}")
    context = error.get("context")
    field = context.get("fieldName") if isinstance(context, Mapping) else None
    fields = [field] if isinstance(field, str) and field else []
    common: dict[str, Any] = {"vendor": VENDOR, "status": status, "code": code, "details": body}
    if status == 429 or code == THROTTLED:
        return RateLimited(message, retry_after=retry_after(body, headers), **common)
    if status in (401, 403) or code == 1014:
        return Unauthorized(message, **common)
    if status == 404 or code == 1013:
        return NotFound(message, fields=fields, **common)
    if status == 409 or code == 1008:
        return Conflict(message, fields=fields, **common)
    if status == 408 or status >= 500:
        return Transient(message, fields=fields, **common)
    return Permanent(message, fields=fields, **common)
