"""The refusals every control route documents (`responses=AUTH_RESPONSES`); the token check
itself is a dependency of `app/api/deps.py` (`Admin`, `ResyncWriter`, `Reader`)."""

from __future__ import annotations

from typing import Any


def _error(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


# Add to every control route (`responses=AUTH_RESPONSES`) so that the schema shows both refusals.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error(
        "no token, an unknown one, or a revoked one (with `WWW-Authenticate: Bearer`)",
        "the API token is not known (wrong or mistyped token)",
    ),
    403: _error(
        "the token lacks the scope this endpoint needs",
        "this endpoint needs the scope resync:write; the token has: read",
    ),
}
