"""Control-API tokens (`api_tokens`): stored by the SHA-256 of the token, found by it or by id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiToken


async def add_token(
    session: AsyncSession,
    *,
    name: str,
    token_hash: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
) -> ApiToken:
    token = ApiToken(name=name, token_hash=token_hash, scopes=list(scopes), expires_at=expires_at)
    session.add(token)
    await session.flush()
    return token


async def all_tokens(session: AsyncSession) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    return list(await session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


async def token_by_id(session: AsyncSession, token_id: uuid.UUID) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def token_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    token: ApiToken | None = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
    return token


async def record_token_use(session: AsyncSession, token_id: uuid.UUID, *, resolution: timedelta) -> None:
    """Sets last_used_at to now, unless it was set less than `resolution` ago."""
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < func.now() - resolution)
    await session.execute(
        update(ApiToken).where(ApiToken.id == token_id, stale).values(last_used_at=func.now())
    )
