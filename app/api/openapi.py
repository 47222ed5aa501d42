"""How the schema names things: operation ids people would type (`listSyncs`, `pauseSync`), from
each route's function name unless the route gives its own, and the one error body every refusal
of the control API has."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every 4xx and 5xx of the control API: `detail` says what is wrong; a 422 lists each problem."""

    model_config = {
        "json_schema_extra": {"examples": [{"detail": "no sync 0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50"}]}
    }

    detail: str | list[dict[str, Any]] = Field(
        description="what is wrong; for 422, every problem with its field path (`loc`) and message (`msg`)"
    )


def operation_id(route: APIRoute) -> str:
    """`pause_sync` -> `pauseSync`."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)
