"""The connections' inbound secrets, cached in the process for a few seconds.

Every inbound request needs them (org id, `?key=`, the CDC relay's HMAC key, the webhook
`?secret=`); a small TTL keeps Postgres off the hot path, and a changed secret takes effect within
`CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crypto import SecretBox
from app.db.connections import InboundSecrets, inbound_secrets
from app.inbound.errors import InboundRejected

CACHE_SECONDS = 5.0
# A webhook must be answered within 5 s (api-contracts B9), lookup and publish together.
LOOKUP_TIMEOUT_S = 2.0


class InboundSecretsCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, list[InboundSecrets]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def of_kind(self, kind: str) -> list[InboundSecrets]:
        """The connected connections of `kind` with their opened secrets (possibly none)."""
        cached = self._fresh(kind)
        if cached is not None:
            return cached
        async with self._locks.setdefault(kind, asyncio.Lock()):
            cached = self._fresh(kind)  # another request may have loaded it meanwhile
            if cached is not None:
                return cached
            found = await self._load(kind)
            self._entries[kind] = (self._clock() + self._ttl, found)
            return found

    def forget(self, kind: str) -> None:
        """Read `kind` again on its next use: this process just changed its secrets."""
        self._entries.pop(kind, None)

    def _fresh(self, kind: str) -> list[InboundSecrets] | None:
        entry = self._entries.get(kind)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return None

    async def _load(self, kind: str) -> list[InboundSecrets]:
        async def read() -> list[InboundSecrets]:
            async with self._sessions() as session:
                return await inbound_secrets(session, self._box, kind)

        try:
            return await asyncio.wait_for(read(), LOOKUP_TIMEOUT_S)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise InboundRejected(
                503, "database_unavailable",
                f"the {kind} connection could not be read ({type(exc).__name__}); deliver again",
            ) from exc
        except ValueError as exc:  # SecretBox: sealed with another key
            raise InboundRejected(
                503, "secrets_unreadable", f"the {kind} connection's secrets: {exc}"
            ) from exc
