"""API tokens of the control API: issued once, kept only as their SHA-256, checked per request.

Scopes, and what each one grants (`granted`):

- `syncs:admin`: everything: connections, sync configurations, dead letters; implies the others;
- `resync:write`: start resyncs; implies `read`, because whoever starts a resync has to follow it;
- `read`: every GET of the control API.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import tokens

TOKEN_PREFIX = "sfgr_"  # noqa: S105 - marks a string as ours in logs and secret scanners
# last_used_at is a hint for people auditing tokens, not a log: one write a minute per token is
# enough, and keeps a busy client from turning every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_LIFETIME = re.compile(r"(?P<count>\d{1,6})(?P<unit>[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Scope(StrEnum):
    SYNCS_ADMIN = "syncs:admin"
    RESYNC_WRITE = "resync:write"
    READ = "read"


_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.SYNCS_ADMIN: frozenset(Scope),
    Scope.RESYNC_WRITE: frozenset({Scope.RESYNC_WRITE, Scope.READ}),
    Scope.READ: frozenset({Scope.READ}),
}


def granted(scopes: Iterable[str]) -> frozenset[Scope]:
    """Every scope a token holding `scopes` may use; unknown names grant nothing."""
    known = {s for s in Scope if s.value in set(scopes)}
    return frozenset(g for s in known for g in _IMPLIES[s])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: uuid.UUID
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def public(self) -> dict[str, Any]:
        """What may be shown about a token: everything but the secret, which is not kept anyway."""
        return {
            "id": str(self.id),
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `token` is shown once and never stored."""

    info: TokenInfo
    token: str


def parse_lifetime(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`: how long a token lives; raises ValueError naming the format."""
    found = _LIFETIME.fullmatch(text.strip())
    if found is None or int(found["count"]) == 0:
        raise ValueError(
            f"{text!r} is not a lifetime: give a positive whole number and a unit, e.g. 90d, 12h, 30m"
        )
    return timedelta(seconds=int(found["count"]) * _UNIT_SECONDS[found["unit"]])


async def create_token(
    session: AsyncSession, *, name: str, scopes: Iterable[str], expires_in: timedelta | None = None
) -> IssuedToken:
    wanted = list(dict.fromkeys(scopes))
    unknown = [s for s in wanted if s not in {v.value for v in Scope}]
    if unknown or not wanted:
        known = ", ".join(s.value for s in Scope)
        raise ValueError(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; known scopes: {known}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + expires_in if expires_in is not None else None
    row = await tokens.add_token(
        session, name=name, token_hash=hash_token(token), scopes=wanted, expires_at=expires_at
    )
    await session.commit()
    await session.refresh(row)
    return IssuedToken(TokenInfo.model_validate(row), token)


async def list_tokens(session: AsyncSession) -> list[TokenInfo]:
    return [TokenInfo.model_validate(r) for r in await tokens.all_tokens(session)]


async def revoke_token(session: AsyncSession, token_id: uuid.UUID) -> TokenInfo | None:
    """Revokes the token (idempotent); None when there is no such token."""
    row = await tokens.token_by_id(session, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = func.now()
        await session.commit()
        await session.refresh(row)
    return TokenInfo.model_validate(row)


async def authenticate(session: AsyncSession, presented: str) -> TokenInfo | None:
    """The token behind `presented` if it exists (revoked or expired or not); records the use of a
    live one."""
    row = await tokens.token_by_hash(session, hash_token(presented))
    if row is None:
        return None
    info = TokenInfo.model_validate(row)
    if row.revoked_at is None and not info.expired(datetime.now(UTC)):
        await tokens.record_token_use(session, row.id, resolution=LAST_USED_RESOLUTION)
        await session.commit()
    return info


async def token_by_id(session: AsyncSession, token_id: uuid.UUID) -> TokenInfo | None:
    """The token with this id (revoked or not): the admin UI's session names its token by id."""
    row = await tokens.token_by_id(session, token_id)
    return TokenInfo.model_validate(row) if row is not None else None
