"""Salesforce's three error shapes, mapped to `app.clients.errors` (api-contracts A3, A4, C4-C6).

- single-record REST: HTTP status + a JSON **array** of `{"errorCode", "message", "fields"}`;
- sObject Collections: HTTP 200, and per record `{"statusCode", "message", "fields"}`;
- OAuth token endpoint: `{"error", "error_description"}`.

| HTTP     | code                                                  | class              |
|----------|-------------------------------------------------------|--------------------|
| any      | UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, QUERY_TIMEOUT | Transient          |
| any      | ALL_OR_NONE_OPERATION_ROLLED_BACK (a valid record)    | Transient          |
| any      | DUPLICATES_DETECTED                                   | DuplicatesDetected |
| any      | NOT_FOUND, ENTITY_IS_DELETED                          | NotFound           |
| 401      | INVALID_SESSION_ID (still, after one token refresh)   | Unauthorized       |
| 403      | REQUEST_LIMIT_EXCEEDED                                | RateLimited        |
| 404      | (other)                                               | NotFound           |
| 408, 5xx | (any)                                                 | Transient          |
| 409      | (other)                                               | Conflict           |
| 412      | (any)                                                 | PreconditionFailed |
| 429      | (never sent by Salesforce; a proxy's)                 | RateLimited        |
| 300, 4xx | (other)                                               | Permanent          |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.clients.errors import (
    Conflict,
    DuplicatesDetected,
    NotFound,
    Permanent,
    PreconditionFailed,
    RateLimited,
    Transient,
    Unauthorized,
    Vendor,
    VendorError,
)

VENDOR: Vendor = "salesforce"
TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "QUERY_TIMEOUT",
        # in a collection with allOrNone, a valid record that was not saved because another failed
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    }
)
NOT_FOUND_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED"})
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
INVALID_SESSION_ID = "INVALID_SESSION_ID"
# The token endpoint's own throttle says nothing about when it lifts.
TOKEN_RATE_RETRY_S = 60.0


def first_error(body: Any) -> Mapping[str, Any]:
    """The first element of a REST error array (C4: always an array), or {} for anything else."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return body[0]
    if isinstance(body, Mapping):
        return body
    return {}


def error_code(body: Any) -> str | None:
    error = first_error(body)
    code = error.get("errorCode", error.get("statusCode"))
    return code if isinstance(code, str) else None


def rest_error(status: int, body: Any, *, limit_retry_after: float) -> VendorError:
    """The exception for a failed single-record REST call. `limit_retry_after` is the wait to
    report for 403 REQUEST_LIMIT_EXCEEDED, which the caller derives from the org's usage."""
    errors = [e for e in body if isinstance(e, Mapping)] if isinstance(body, list) else [first_error(body)]
    first = errors[0] if errors else {}
    message = "; ".join(str(e["message"]) for e in errors if e.get("message")) or f"HTTP {status}"
    fields = [str(f) for e in errors for f in _list(e.get("fields"))]
    return classify(status, error_code(body), message, fields, body, first, limit_retry_after)


def record_error(errors: Any) -> VendorError:
    """The exception for one failed record of an sObject Collections call (its `errors` list)."""
    items = [e for e in _list(errors) if isinstance(e, Mapping)]
    first = items[0] if items else {}
    code = first.get("statusCode", first.get("errorCode"))
    message = "; ".join(str(e["message"]) for e in items if e.get("message")) or "record failed"
    fields = [str(f) for e in items for f in _list(e.get("fields"))]
    return classify(None, code if isinstance(code, str) else None, message, fields, errors, first, 0.0)


def classify(
    status: int | None,
    code: str | None,
    message: str,
    fields: list[str],
    details: Any,
    first: Mapping[str, Any],
    limit_retry_after: float,
) -> VendorError:
    common: dict[str, Any] = {"vendor": VENDOR, "status": status, "code": code, "details": details}
    if code in TRANSIENT_CODES:
        return Transient(message, fields=fields, **common)
    if code == DUPLICATES_DETECTED:
        return DuplicatesDetected(message, matched_ids=duplicate_ids(first), fields=fields, **common)
    if code in NOT_FOUND_CODES or status == 404:
        return NotFound(message, fields=fields, **common)
    if status is None:
        return Permanent(message, fields=fields, **common)
    if status == 401:
        return Unauthorized(message, **common)
    if status == 403 and code == REQUEST_LIMIT_EXCEEDED:
        return RateLimited(message, retry_after=limit_retry_after, **common)
    if status == 412:
        return PreconditionFailed(message, fields=fields, **common)
    if status == 409:
        return Conflict(message, fields=fields, **common)
    if status == 429:
        return RateLimited(message, retry_after=limit_retry_after, **common)
    if status == 408 or status >= 500:
        return Transient(message, fields=fields, **common)
    return Permanent(message, fields=fields, **common)


def duplicate_ids(error: Mapping[str, Any]) -> list[str]:
    """Ids of the records a duplicate rule matched. The key is spelled `duplicateResut` in what
    Salesforce sends (api-contracts C5); the correct spelling is read too, should it ever be fixed."""
    result = error.get("duplicateResut") or error.get("duplicateResult")
    if not isinstance(result, Mapping):
        return []
    found: list[str] = []
    for match in _list(result.get("matchResults")):
        if not isinstance(match, Mapping):
            continue
        for candidate in _list(match.get("matchRecords")):
            record = candidate.get("record") if isinstance(candidate, Mapping) else None
            record_id = record.get("Id") if isinstance(record, Mapping) else None
            if isinstance(record_id, str) and record_id not in found:
                found.append(record_id)
    return found


def token_error(status: int, body: Any) -> VendorError:
    """The exception for a refused OAuth token request (A4: an object, not an array)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    description = body.get("error_description") if isinstance(body, Mapping) else None
    message = f"token request refused: {error or f'HTTP {status}'}"
    if description:
        message += f": {description}"
    common: dict[str, Any] = {"vendor": VENDOR, "status": status, "code": error, "details": body}
    if status >= 500 or status == 408 or error in {"temporarily_unavailable", "server_error"}:
        return Transient(message, **common)
    if status == 429 or error == "rate_limit_exceeded":
        return RateLimited(message, retry_after=TOKEN_RATE_RETRY_S, **common)
    return Unauthorized(message, **common)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
