"""The few exceptions a vendor call can end in; a consumer decides by class alone (style.md
"Errors are values at the edge"):

    VendorError                      vendor, status, code, message, fields, details, reason
    ├── Transient                    try again later: 5xx, timeouts, connection errors
    │   └── RateLimited              try again after `retry_after` seconds
    └── Permanent                    trying again will not help: dead-letter with `reason`
        ├── NotFound                 the record is gone (or never was)
        ├── Conflict                 a duplicate, or a write refused because of another write
        │   └── PreconditionFailed   Salesforce 412: changed since the given instant; re-read, merge
        ├── DuplicatesDetected       a Salesforce duplicate rule blocked the save: `matched_ids`
        └── Unauthorized             credentials refused even after one token refresh

`RateLimited` is a `Transient` so that "retry later" code catches both; catch it first when its
`retry_after` matters. `code` is the vendor's own, verbatim: Salesforce's `errorCode` or
`statusCode` (a string), GetResponse's numeric `code`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

Vendor = Literal["salesforce", "getresponse"]


class VendorError(Exception):
    def __init__(
        self,
        message: str,
        *,
        vendor: Vendor,
        status: int | None = None,
        code: str | int | None = None,
        fields: Sequence[str] = (),
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor: Vendor = vendor
        self.status = status
        self.code = code
        self.fields = tuple(fields)
        self.details = details

    @property
    def reason(self) -> str:
        """One line for a dead letter or a log: who said what, and about which fields."""
        parts: list[str] = [self.vendor]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code is not None:
            parts.append(str(self.code))
        text = " ".join(parts) + ": " + self.message
        if self.fields:
            text += " (fields: " + ", ".join(self.fields) + ")"
        return text

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r})"


class Transient(VendorError):
    pass


class RateLimited(Transient):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        vendor: Vendor,
        status: int | None = None,
        code: str | int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, vendor=vendor, status=status, code=code, details=details)
        self.retry_after = max(0.0, retry_after)

    @property
    def reason(self) -> str:
        return f"{super().reason} (retry after {self.retry_after:g} s)"


class Permanent(VendorError):
    pass


class NotFound(Permanent):
    pass


class Conflict(Permanent):
    pass


class PreconditionFailed(Conflict):
    pass


class Unauthorized(Permanent):
    pass


class DuplicatesDetected(Permanent):
    def __init__(
        self,
        message: str,
        *,
        matched_ids: Sequence[str],
        vendor: Vendor,
        status: int | None = None,
        code: str | int | None = None,
        fields: Sequence[str] = (),
        details: Any = None,
    ) -> None:
        super().__init__(message, vendor=vendor, status=status, code=code, fields=fields, details=details)
        self.matched_ids = tuple(matched_ids)
