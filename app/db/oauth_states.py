"""Salesforce authorizations in progress (`oauth_states`): stored when the login host is sent the
state, taken once by the callback, dropped when expired."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OAuthState


async def add_state(
    session: AsyncSession,
    *,
    state_hash: str,
    environment: str,
    login_url: str,
    redirect_uri: str,
    code_verifier: bytes,
    expires_at: datetime,
    started_by: dict[str, Any],
) -> None:
    session.add(
        OAuthState(
            state_hash=state_hash,
            environment=environment,
            login_url=login_url,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            expires_at=expires_at,
            started_by=started_by,
        )
    )


async def drop_expired_states(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(delete(OAuthState).where(OAuthState.expires_at < now))


async def take_state(session: AsyncSession, state_hash: str, *, now: datetime) -> OAuthState | None:
    """The state, if it is known and unexpired, deleted in the same statement: a state is good for
    one callback, however many arrive at once."""
    taken: OAuthState | None = await session.scalar(
        delete(OAuthState)
        .where(OAuthState.state_hash == state_hash, OAuthState.expires_at >= now)
        .returning(OAuthState)
    )
    return taken
