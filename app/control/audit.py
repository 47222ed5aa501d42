"""Who did what: every control-plane change is recorded with its actor, its target and the change
itself, secrets redacted, and read back newest first (`GET /v1/audit`, `sfgr audit`).

An entry is written in the session of the change, after the change succeeded: a refused or
failed request leaves no entry, and every entry is of a change that happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import audit

MAX_PAGE = 200
REDACTED = "[redacted]"
# A key naming any of these holds a secret (api_key, client_secret, private_key_pem, outbound_key,
# webhook_url with its ?secret=, refresh_token, password ...): its value is never recorded.
_SECRET_WORDS = ("secret", "key", "token", "password", "private", "pem", "credential", "_url")
# Keys that contain such a word and name no secret.
_NOT_SECRET = frozenset({"api_base_url", "my_domain_url", "token_id", "consumer_key_id", "keys_resealed"})

ActorKind = Literal["token", "cli", "oauth_callback"]


@dataclass(frozen=True)
class Actor:
    """Who made a change: an API token (its id and name), the command line, or the browser coming
    back from Salesforce's authorization (authenticated by its one-time state)."""

    kind: ActorKind
    id: str | None
    name: str

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", None, "cli")

    @classmethod
    def oauth_callback(cls, started_by: Actor | None) -> Actor:
        """The browser back from Salesforce, in the name of whoever started the authorization
        (stored with its one-time state); an authorization started before that was stored has none."""
        if started_by is None:
            return cls("oauth_callback", None, "OAuth callback (authorized in Salesforce)")
        return cls("oauth_callback", started_by.id, f"{started_by.name} (authorized in Salesforce)")

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> Actor | None:
        if not stored:
            return None
        return cls(stored["kind"], stored.get("id"), stored["name"])


def redacted(value: Any) -> Any:
    """`value` with the value of every key that names a secret replaced by `REDACTED`."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _names_secret(str(k)) and v is not None else redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def _names_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _NOT_SECRET and any(word in lowered for word in _SECRET_WORDS)


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    target_kind: str,
    target_id: object | None,
    change: Mapping[str, Any] | None = None,
) -> None:
    """Adds the entry and commits it."""
    await audit.add_entry(
        session,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_kind=target_kind,
        target_id=str(target_id) if target_id is not None else None,
        change=redacted(dict(change or {})),
    )
    await session.commit()


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "at": "2026-11-30T15:00:00Z",
                    "actor_kind": "token",
                    "actor_id": "5b0c4f8e-3c0e-4a8e-9d55-0d7f3c1f2a10",
                    "actor_name": "ops",
                    "action": "sync.update",
                    "target_kind": "sync",
                    "target_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "change": {"preferred_system": "getresponse"},
                }
            ]
        },
    )

    id: int
    at: datetime
    actor_kind: str = Field(description="token, cli or oauth_callback")
    actor_id: str | None = Field(description="the API token's id")
    actor_name: str
    action: str
    target_kind: str
    target_id: str | None
    change: dict[str, Any] = Field(description="what was asked or changed; secrets are [redacted]")


class AuditPage(BaseModel):
    entries: list[AuditEntryRead]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


async def list_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
) -> AuditPage:
    rows = await audit.newest_entries(
        session, limit=limit, before_id=before_id, action=action, target_kind=target_kind,
        target_id=target_id, actor_id=actor_id, since=since,
    )
    entries = [AuditEntryRead.model_validate(r) for r in rows]
    return AuditPage(entries=entries, next_before_id=entries[-1].id if len(entries) == limit else None)
