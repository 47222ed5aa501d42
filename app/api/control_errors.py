"""Control-service errors as HTTP answers, and their place in the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, Request

from app.api.openapi import ErrorBody
from app.control.errors import ControlError
from app.settings import Settings

_DESCRIPTIONS = {
    400: "the request cannot be carried out as given (the detail says why)",
    404: "no such resource",
    409: "conflicts with the current state (the detail says which)",
    422: "every problem found, each with its field path (`loc`) and message (`msg`)",
    502: "the vendor did not answer or failed; nothing was changed, try again",
    503: "Kafka did not acknowledge; nothing was changed, try again",
}


@contextmanager
def control_errors() -> Iterator[None]:
    try:
        yield
    except ControlError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"description": _DESCRIPTIONS[s], "model": ErrorBody} for s in statuses}


def public_base(settings: Settings, request: Request) -> str:
    """Where vendors and browsers reach this api: SFGR_PUBLIC_BASE_URL, else this request's base."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/")
