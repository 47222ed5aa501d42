"""Connections: store them (credentials sealed), find them, tell whether one changed, and read
what the inbound endpoints check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.db.models import Connection
from app.domain.states import ConnectionState

SALESFORCE = "salesforce"
GETRESPONSE = "getresponse"


@dataclass(frozen=True)
class ConnectionVersion:
    """What changes whenever a connection does: connecting again (`save_connection`) and
    disconnecting both move `updated_at`, and the sealed credentials differ after every write,
    since sealing is randomised; the digest also catches a writer that forgets `updated_at`."""

    state: ConnectionState
    updated_at: datetime
    credentials_digest: str


# In a connection's sealed inbound secrets, beside the current secrets by name: the ones a rotation
# replaced, and until when they are still accepted (app/control/inbound_secrets.py).
PREVIOUS = "previous"
PREVIOUS_UNTIL = "previous_until"


@dataclass(frozen=True)
class InboundSecrets:
    """What an inbound endpoint checks a sender against, for one connection: the current secrets,
    and the previous ones until the end of a rotation's overlap."""

    connection_id: uuid.UUID
    external_id: str  # Salesforce org id (18 chars) or GetResponse account id
    secrets: dict[str, str]
    previous: dict[str, str] = field(default_factory=dict)
    previous_until: datetime | None = None

    @classmethod
    def of_sealed(cls, connection_id: uuid.UUID, external_id: str, opened: dict[str, Any]) -> InboundSecrets:
        until = opened.get(PREVIOUS_UNTIL)
        return cls(
            connection_id=connection_id,
            external_id=external_id,
            secrets={k: v for k, v in opened.items() if isinstance(v, str) and k != PREVIOUS_UNTIL},
            previous=dict(opened.get(PREVIOUS) or {}),
            previous_until=datetime.fromisoformat(until) if isinstance(until, str) else None,
        )

    def accepted(self, name: str, *, now: datetime) -> tuple[str, ...]:
        """Every value of the secret `name` a sender may present now: the current one, and the
        previous one while the overlap lasts."""
        values = [self.secrets[name]] if self.secrets.get(name) else []
        if self.previous_until is not None and now < self.previous_until and self.previous.get(name):
            values.append(self.previous[name])
        return tuple(values)


async def save_connection(
    session: AsyncSession,
    box: SecretBox,
    *,
    kind: str,
    external_id: str,
    api_base_url: str,
    auth_kind: str,
    credentials: dict[str, Any],
    inbound_secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Insert or replace the connection of this kind and external id; returns its id."""
    values = {
        "kind": kind,
        "external_id": external_id,
        "api_base_url": api_base_url,
        "auth_kind": auth_kind,
        "credentials": box.seal(credentials),
        "inbound_secret": box.seal(inbound_secrets) if inbound_secrets is not None else None,
        "settings": settings or {},
        "state": ConnectionState.CONNECTED,
    }
    statement = (
        insert(Connection)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_update(
            constraint="uq_connections_kind_external_id", set_={**values, "updated_at": func.now()}
        )
        .returning(Connection.id)
    )
    connection_id: uuid.UUID = (await session.execute(statement)).scalar_one()
    return connection_id


async def connected(session: AsyncSession, kind: str) -> list[Connection]:
    rows = await session.scalars(
        select(Connection).where(Connection.kind == kind, Connection.state == ConnectionState.CONNECTED)
    )
    return list(rows)


def _version_columns() -> tuple[Any, ...]:
    return Connection.state, Connection.updated_at, func.md5(Connection.credentials)


async def connection_version(session: AsyncSession, connection_id: uuid.UUID) -> ConnectionVersion | None:
    """The connection's version, in one small row (no credentials); None when there is no such
    connection."""
    statement = select(*_version_columns()).where(Connection.id == connection_id)
    row = (await session.execute(statement)).one_or_none()
    return ConnectionVersion(*row) if row is not None else None


async def connection_with_version(
    session: AsyncSession, connection_id: uuid.UUID
) -> tuple[Connection, ConnectionVersion] | None:
    """The connection as the database has it now, whatever its state, with its version."""
    statement = (
        select(Connection, *_version_columns())
        .where(Connection.id == connection_id)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    connection, *version = row
    return connection, ConnectionVersion(*version)


async def inbound_secrets(session: AsyncSession, box: SecretBox, kind: str) -> list[InboundSecrets]:
    return [
        InboundSecrets.of_sealed(c.id, c.external_id, box.open(c.inbound_secret) if c.inbound_secret else {})
        for c in await connected(session, kind)
    ]


async def latest_connected(session: AsyncSession, kind: str) -> Connection | None:
    """The connected connection of `kind`; the most recently changed one, should there be several."""
    connection: Connection | None = await session.scalar(
        select(Connection)
        .where(Connection.kind == kind, Connection.state == ConnectionState.CONNECTED)
        .order_by(Connection.updated_at.desc())
    )
    return connection


async def connection_by_external_id(session: AsyncSession, kind: str, external_id: str) -> Connection | None:
    """The connection of this org or account, whatever its state."""
    connection: Connection | None = await session.scalar(
        select(Connection).where(Connection.kind == kind, Connection.external_id == external_id)
    )
    return connection


async def connection_by_id(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    """The connection as the database has it now, also when the session holds an older copy
    (`save_connection` writes around the session)."""
    return await session.get(Connection, connection_id, populate_existing=True)


async def all_connections(session: AsyncSession) -> list[Connection]:
    """Every connection, connected or not, by kind and then oldest first."""
    return list(await session.scalars(select(Connection).order_by(Connection.kind, Connection.created_at)))
