"""Retention (app/retention.py): applied event ids, decisions and resolved dead letters older than
their settings are deleted a batch at a time, young rows and open dead letters stay, and one pruner
at a time does it (real Postgres; a database of each test's own, since a round prunes every table)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.crypto import SecretBox
from app.db.models import ContactLink, DeadLetter, Decision, ProcessedEvent
from app.db.retention import retention_lock
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from app.retention import RetentionPruner
from app.settings import Environment, Settings
from devstack.defaults import DEMO_MAPPING
from tests.fixtures.connections import save_connections
from tests.fixtures.polling import arrives

Sessions = async_sessionmaker[AsyncSession]
DAY = timedelta(days=1)


@pytest.fixture
def settings(create_database: Callable[..., str], database_template: str) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=create_database(template=database_template),  # type: ignore[arg-type]
        log_format="console",
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return session_factory(engine)


def _pruner(settings: Settings, engine: AsyncEngine, **overrides: object) -> RetentionPruner:
    return RetentionPruner(settings.model_copy(update=overrides), engine=engine, sessions=session_factory(engine))


async def _a_link(settings: Settings, session: AsyncSession) -> ContactLink:
    org = f"00D{uuid.uuid4().hex[:15]}"
    sf, gr = await save_connections(
        session, SecretBox(settings), org_id=org, account_id=f"acct-{org}", salesforce_auth="client_credentials"
    )
    sync_id = await insert_sync(
        session, name="retention", salesforce_connection_id=sf, getresponse_connection_id=gr,
        campaign_id=f"list-{org}", salesforce_objects=["Lead"], create_as="Lead",
        preferred_system="salesforce", mapping=DEMO_MAPPING,
    )
    link = ContactLink(sync_id=sync_id, email_normalized=f"{org}@example.com")
    session.add(link)
    await session.flush()
    return link


def _decision(link: ContactLink, tag: str, at: datetime) -> Decision:
    return Decision(link_id=link.id, sync_id=link.sync_id, event_id=tag, field="email", rule="note",
                    reason=tag, created_at=at)


def _letter(tag: str, *, created: datetime, replayed: datetime | None = None,
            discarded: datetime | None = None) -> DeadLetter:
    return DeadLetter(topic="t", partition=0, offset=0, key=None, event_id=tag, event={"raw": tag}, reason=tag,
                      error_class="Permanent", created_at=created, replayed_at=replayed, discarded_at=discarded)


async def _left(sessions: Sessions) -> dict[str, set[str]]:
    async with sessions() as session:
        return {
            "processed_events": set(await session.scalars(select(ProcessedEvent.event_id))),
            "decisions": {d for d in await session.scalars(select(Decision.event_id)) if d},
            "dead_letters": {d for d in await session.scalars(select(DeadLetter.event_id)) if d},
        }


async def test_rows_older_than_their_retention_are_pruned_and_young_or_open_ones_kept(
    settings: Settings, engine: AsyncEngine, sessions: Sessions
) -> None:
    now = datetime.now(UTC)
    async with transaction(sessions) as session:
        link = await _a_link(settings, session)
        session.add_all([
            ProcessedEvent(consumer="c", event_id="event 8 days old", processed_at=now - 8 * DAY),
            ProcessedEvent(consumer="c", event_id="event 6 days old", processed_at=now - 6 * DAY),
            _decision(link, "decision 91 days old", now - 91 * DAY),
            _decision(link, "decision 89 days old", now - 89 * DAY),
            _letter("replayed 31 days ago", created=now - 40 * DAY, replayed=now - 31 * DAY),
            _letter("discarded 31 days ago", created=now - 40 * DAY, discarded=now - 31 * DAY),
            _letter("discarded 29 days ago", created=now - 40 * DAY, discarded=now - 29 * DAY),
            _letter("open for 100 days", created=now - 100 * DAY),
        ])

    done = await _pruner(settings, engine).prune_once()

    assert done is not None
    assert done.deleted == {"processed_events": 1, "decisions": 1, "dead_letters": 2}
    assert await _left(sessions) == {
        "processed_events": {"event 6 days old"},
        "decisions": {"decision 89 days old"},
        "dead_letters": {"discarded 29 days ago", "open for 100 days"},
    }


async def test_a_backlog_larger_than_a_batch_is_pruned_in_several_statements(
    settings: Settings, engine: AsyncEngine, sessions: Sessions
) -> None:
    old = datetime.now(UTC) - 100 * DAY
    async with transaction(sessions) as session:
        link = await _a_link(settings, session)
        session.add_all([ProcessedEvent(consumer="c", event_id=f"e{i}", processed_at=old) for i in range(23)])
        session.add_all([_decision(link, f"d{i}", old) for i in range(11)])
        session.add_all([_letter(f"l{i}", created=old, discarded=old) for i in range(7)])
        session.add(ProcessedEvent(consumer="c", event_id="young"))

    done = await _pruner(settings, engine, retention_batch_size=5).prune_once()

    assert done is not None
    assert done.deleted == {"processed_events": 23, "decisions": 11, "dead_letters": 7}
    # ceil(n / 5) statements, and one more where a table's last batch was exactly full
    assert done.statements == (4 + 1) + (2 + 1) + (1 + 1)
    assert await _left(sessions) == {"processed_events": {"young"}, "decisions": set(), "dead_letters": set()}


async def test_a_pruner_skips_its_round_while_another_holds_the_lock(
    settings: Settings, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with transaction(sessions) as session:
        session.add(ProcessedEvent(consumer="c", event_id="old", processed_at=datetime.now(UTC) - 30 * DAY))
    other_engine = create_engine(settings)  # another process
    try:
        async with retention_lock(other_engine) as held:
            assert held
            second = _pruner(settings, engine)
            assert await second.prune_once() is None
            assert second.rounds == 0
            async with retention_lock(engine) as also_held:
                assert not also_held
        assert await _left(sessions) == {"processed_events": {"old"}, "decisions": set(), "dead_letters": set()}
        # once the other let go (or its connection died), the next round is this one's
        done = await second.prune_once()
    finally:
        await other_engine.dispose()
    assert done is not None and done.deleted["processed_events"] == 1


async def test_the_running_pruner_does_a_round_at_start_and_stops_on_request(
    settings: Settings, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with transaction(sessions) as session:
        session.add(ProcessedEvent(consumer="c", event_id="old", processed_at=datetime.now(UTC) - 30 * DAY))
    pruner = _pruner(settings, engine, retention_interval_s=0.05)
    task = asyncio.create_task(pruner.run())
    try:
        async def two_rounds() -> bool:
            return pruner.rounds >= 2

        await arrives(two_rounds, within=10, what="a round at start and one an interval later")
    finally:
        pruner.stop()
        await asyncio.wait_for(task, 5)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
