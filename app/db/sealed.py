"""Every column that holds a Fernet-sealed secret, re-encrypted under the current key.

Rows are locked as they are read (`FOR UPDATE`), so that a connect or a rotation of inbound
secrets running at the same time is not overwritten with its older value.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connection, OAuthState


async def reseal_all(session: AsyncSession, reseal: Callable[[bytes], bytes]) -> dict[str, int]:
    """Applies `reseal` to each sealed value; returns how many values of each column it rewrote."""
    counts = {"connections.credentials": 0, "connections.inbound_secret": 0, "oauth_states.code_verifier": 0}
    for connection in await session.scalars(select(Connection).with_for_update()):
        connection.credentials = reseal(connection.credentials)
        counts["connections.credentials"] += 1
        if connection.inbound_secret is not None:
            connection.inbound_secret = reseal(connection.inbound_secret)
            counts["connections.inbound_secret"] += 1
    for state in await session.scalars(select(OAuthState).with_for_update()):
        state.code_verifier = reseal(state.code_verifier)
        counts["oauth_states.code_verifier"] += 1
    await session.flush()
    return counts
