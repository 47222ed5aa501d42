"""Sync configurations: rows read and changed by the control API and the job worker, and the
immutable view the consumers see, loaded and cached briefly."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Sync
from app.domain.groups import group_condition
from app.domain.mapping import SyncMapping
from app.domain.sides import ObjectType, Side
from app.domain.states import SyncState


@dataclass(frozen=True)
class SyncConfig:
    id: uuid.UUID
    name: str
    salesforce_connection_id: uuid.UUID
    getresponse_connection_id: uuid.UUID
    campaign_id: str
    salesforce_objects: frozenset[ObjectType]
    soql_filter: str | None
    salesforce_campaign_id: str | None
    create_as: ObjectType
    lead_source: str | None
    preferred: Side
    marker_field: str | None
    set_opt_out: bool
    mapping: SyncMapping
    state: SyncState
    skew: timedelta = timedelta(seconds=1)

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def paused(self) -> bool:
        return self.state is SyncState.PAUSED

    def group_condition(self, object_type: ObjectType) -> str | None:
        """The SOQL condition selecting the records of `object_type` that feed the list."""
        return group_condition(
            object_type, soql_filter=self.soql_filter, campaign_id=self.salesforce_campaign_id
        )

    @classmethod
    def from_row(cls, row: Sync, *, skew: timedelta = timedelta(seconds=1)) -> SyncConfig:
        return cls(
            id=row.id,
            name=row.name,
            salesforce_connection_id=row.salesforce_connection_id,
            getresponse_connection_id=row.getresponse_connection_id,
            campaign_id=row.campaign_id,
            salesforce_objects=frozenset(ObjectType(o) for o in row.salesforce_objects),
            soql_filter=row.soql_filter,
            salesforce_campaign_id=row.salesforce_campaign_id,
            create_as=ObjectType(row.create_as),
            lead_source=row.lead_source,
            preferred=Side(row.preferred_system),
            marker_field=row.marker_field,
            set_opt_out=row.set_opt_out,
            mapping=SyncMapping.model_validate(row.mapping),
            state=row.state,
            skew=skew,
        )


class SyncDirectory:
    """All syncs, re-read at most every `ttl` seconds: a configuration change reaches the consumers
    within that time without a database read per event."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: float = 2.0,
        skew: timedelta = timedelta(seconds=1),
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._skew = skew
        self._loaded_at = -1e9
        self._syncs: list[SyncConfig] = []

    async def all(self) -> list[SyncConfig]:
        if time.monotonic() - self._loaded_at > self._ttl:
            async with self._sessions() as session:
                rows = await session.scalars(select(Sync))
                self._syncs = [SyncConfig.from_row(r, skew=self._skew) for r in rows]
            self._loaded_at = time.monotonic()
        return self._syncs

    def invalidate(self) -> None:
        self._loaded_at = -1e9

    async def for_salesforce(self, connection_id: str | None, object_type: str) -> list[SyncConfig]:
        return [
            s
            for s in await self.all()
            if s.state.listening
            and (connection_id is None or str(s.salesforce_connection_id) == connection_id)
            and object_type in s.salesforce_objects
        ]

    async def for_campaign(self, campaign_id: str) -> SyncConfig | None:
        return next(
            (s for s in await self.all() if s.state.listening and s.campaign_id == campaign_id), None
        )

    async def by_id(self, sync_id: uuid.UUID) -> SyncConfig | None:
        return next((s for s in await self.all() if s.id == sync_id), None)


async def insert_sync(
    session: AsyncSession,
    *,
    name: str,
    salesforce_connection_id: uuid.UUID,
    getresponse_connection_id: uuid.UUID,
    campaign_id: str,
    salesforce_objects: list[str],
    create_as: str,
    preferred_system: str,
    mapping: SyncMapping,
    lead_source: str | None = None,
    marker_field: str | None = None,
    set_opt_out: bool = False,
    soql_filter: str | None = None,
    salesforce_campaign_id: str | None = None,
    state: SyncState = SyncState.ACTIVE,
) -> uuid.UUID:
    row = Sync(
        name=name,
        salesforce_connection_id=salesforce_connection_id,
        getresponse_connection_id=getresponse_connection_id,
        campaign_id=campaign_id,
        salesforce_objects=salesforce_objects,
        soql_filter=soql_filter,
        salesforce_campaign_id=salesforce_campaign_id,
        create_as=create_as,
        lead_source=lead_source,
        preferred_system=preferred_system,
        marker_field=marker_field,
        set_opt_out=set_opt_out,
        mapping=mapping.model_dump(mode="json"),
        state=state,
    )
    session.add(row)
    await session.flush()
    return row.id


async def sync_by_id(session: AsyncSession, sync_id: uuid.UUID, *, lock: bool = False) -> Sync | None:
    """The sync; with `lock`, its row is locked until the transaction ends."""
    if not lock:
        return await session.get(Sync, sync_id)
    row: Sync | None = await session.scalar(select(Sync).where(Sync.id == sync_id).with_for_update())
    return row


async def all_syncs(session: AsyncSession) -> list[Sync]:
    """Every sync, cancelled ones included, oldest first."""
    return list(await session.scalars(select(Sync).order_by(Sync.created_at, Sync.id)))


async def live_sync_id_of_list(
    session: AsyncSession, campaign_id: str, *, other_than: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The id of the sync, not cancelled, that the GetResponse list belongs to (one at most)."""
    statement = select(Sync.id).where(Sync.campaign_id == campaign_id, Sync.state != SyncState.CANCELLED)
    if other_than is not None:
        statement = statement.where(Sync.id != other_than)
    sync_id: uuid.UUID | None = await session.scalar(statement)
    return sync_id


async def cancel_syncs_using(session: AsyncSession, connection_id: uuid.UUID) -> list[uuid.UUID]:
    """Cancels every sync, not yet cancelled, that uses the connection; returns their ids."""
    of_connection = or_(
        Sync.salesforce_connection_id == connection_id, Sync.getresponse_connection_id == connection_id
    )
    cancelled = await session.scalars(
        update(Sync)
        .where(of_connection, Sync.state != SyncState.CANCELLED)
        .values(state=SyncState.CANCELLED, updated_at=func.now())
        .returning(Sync.id)
    )
    return list(cancelled)


async def set_sync_state(session: AsyncSession, sync_id: uuid.UUID, state: SyncState) -> None:
    """Moves the sync to `state`, unless it was cancelled meanwhile: a cancelled sync stays cancelled;
    a paused one stays paused, and goes to `state` when it is resumed."""
    await session.execute(
        update(Sync)
        .where(Sync.id == sync_id, Sync.state.not_in([SyncState.CANCELLED, SyncState.PAUSED]))
        .values(state=state)
    )
    await session.execute(
        update(Sync).where(Sync.id == sync_id, Sync.state == SyncState.PAUSED).values(paused_from=state)
    )
