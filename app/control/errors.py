"""What a control service refuses with: an HTTP-free error the routers turn into a status code.

`Invalid` carries every problem at once, each with the path of the request field it is about, in
the shape FastAPI gives its own request validation errors (`loc`, `msg`, `type`), so that a client
reads one shape for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ControlError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def detail(self) -> Any:
        return self.message


class BadRequest(ControlError):
    status = 400


class NotFound(ControlError):
    status = 404


class Conflict(ControlError):
    status = 409


class VendorUnavailable(ControlError):
    """The vendor did not answer (or answered 5xx): nothing was changed; try again."""

    status = 502


class ServiceUnavailable(ControlError):
    """A dependency of ours (Kafka) did not acknowledge: nothing was changed; try again."""

    status = 503


@dataclass(frozen=True)
class Problem:
    path: str  # dotted: "mapping", "marker_field", "campaign_id"
    message: str
    type: str = "value_error"

    def public(self) -> dict[str, Any]:
        return {"loc": ["body", *self.path.split(".")], "msg": self.message, "type": self.type}


class Invalid(ControlError):
    status = 422

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = tuple(problems)

    @property
    def detail(self) -> Any:
        return [p.public() for p in self.problems]
