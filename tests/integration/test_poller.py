"""The GetResponse poller (consumers/poller.py) against real Postgres, a real broker and the
GetResponse simulator in-process: a change counts as seen only once its event is on Kafka, and
the watermark moves only as far as what was published, so a publish that fails or a search page
that fails leaves the changes to the next poll, which publishes each of them once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.bus import Bus
from app.clients.getresponse_formats import parse_datetime
from app.db import watermarks
from app.db.session import create_engine, session_factory
from app.settings import Settings
from consumers.poller import Poller
from devstack.broker import TansuBroker
from tests.fixtures.simulators import reset_simulator
from tests.integration.consumers.harness import (
    GETRESPONSE_CONFIG,
    GetResponseAccount,
    clock_passes,
    running_engine,
    unique_email,
)
from tests.integration.inbound.harness import Published, published


@dataclass
class Polling:
    """A poller for one sync of the demo mapping on a database of the test's own (so it polls that
    sync alone), and the GetResponse account whose list it polls."""

    poller: Poller
    gr: GetResponseAccount
    settings: Settings

    async def watermark(self) -> datetime | None:
        (sync,) = await self.poller.syncs.all()
        async with self.poller.sessions() as session:
            return await watermarks.poller_watermark(session, sync.id)

    async def on_kafka(self) -> list[Published]:
        return await published(self.settings, self.poller.bus.topics.getresponse_changes)

    async def subscribe(self, tag: str) -> tuple[str, str]:
        """Someone joins the list through a form: their contact id and its changedOn."""
        contact_id = await self.gr.subscribe(unique_email(tag), "Sam Poll")
        return contact_id, (await self.gr.contact(contact_id))["changedOn"]


@pytest.fixture
def polling(
    settings: Settings,
    create_database: Callable[..., str],
    database_template: str,
    salesforce_server: str,
    getresponse_server: str,
) -> Callable[..., Any]:
    """`async with polling(page_size=2) as p:`; other keywords override the test's settings."""
    database_url = create_database(template=database_template)
    reset_simulator(salesforce_server)
    reset_simulator(getresponse_server, **GETRESPONSE_CONFIG)

    @asynccontextmanager
    async def start(*, page_size: int = 100, **overrides: Any) -> AsyncIterator[Polling]:
        polled = settings.model_copy(update={"database_url": SecretStr(database_url), **overrides})
        async with running_engine(database_url, salesforce_server, getresponse_server) as synced:
            bus = Bus(polled)
            engine = create_engine(polled)
            poller = Poller(polled, engine=engine, sessions=session_factory(engine), bus=bus, page_size=page_size)
            try:
                await bus.start()
                yield Polling(poller, synced.gr, polled)
            finally:
                await poller.vendors.close()
                await bus.stop()
                await engine.dispose()

    return start


@pytest.fixture
def own_broker(workdir: Path) -> Iterator[TansuBroker]:
    """A broker of this test alone, on a port that stays the same across stop and start."""
    broker = TansuBroker.create(workdir / "tansu-poller-outage.log")
    try:
        yield broker
    finally:
        broker.stop()


def event_ids(messages: list[Published]) -> list[str]:
    return sorted(m.event.event_id for m in messages)


async def test_a_change_whose_publish_failed_is_published_by_the_next_poll(
    polling: Callable[..., Any], own_broker: TansuBroker
) -> None:
    async with polling(kafka_bootstrap_servers=own_broker.bootstrap, kafka_request_timeout_ms=3000) as p:
        assert await p.poller.poll_all() == 0  # the sync's first poll: followed from now on
        start = await p.watermark()
        assert start is not None
        contact_id, changed_on = await p.subscribe("down")

        await asyncio.to_thread(own_broker.stop)
        assert await p.poller.poll_all() == 0
        assert await p.watermark() == start

        await asyncio.to_thread(own_broker.start)  # an empty broker: its memory storage starts afresh
        assert await p.poller.poll_all() == 1
        assert await p.watermark() == max(start, parse_datetime(changed_on))
        assert await p.poller.poll_all() == 0

        on_kafka = await p.on_kafka()
    assert [(m.key, m.event.event_id) for m in on_kafka] == [(contact_id, f"gr-poll:{contact_id}:{changed_on}")]


async def test_changes_after_a_failed_search_page_are_published_by_the_next_poll_and_none_twice(
    polling: Callable[..., Any],
) -> None:
    async with polling(page_size=2) as p:
        assert await p.poller.poll_all() == 0
        start = await p.watermark()
        assert start is not None
        first_page = [await p.subscribe("early") for _ in range(2)]
        await clock_passes(parse_datetime(first_page[-1][1]))
        later_pages = [await p.subscribe("late") for _ in range(3)]
        await p.gr.faults(
            error_rate=1.0, error_statuses=[503], path_prefix="/v3/contacts", methods=["GET"], query={"page": "2"}
        )
        mark = await p.gr.mark()

        assert await p.poller.poll_all() == 2  # the first page, read before the second failed
        searched = [(c["status"], "page=2" in c["query"]) for c in await p.gr.calls(mark)]
        assert searched == [(200, False), (503, True)]
        assert await p.watermark() == max(start, parse_datetime(first_page[-1][1]))
        assert event_ids(await p.on_kafka()) == sorted(f"gr-poll:{c}:{at}" for c, at in first_page)

        await p.gr.faults()
        assert await p.poller.poll_all() == 3
        assert await p.watermark() == parse_datetime(later_pages[-1][1])
        assert await p.poller.poll_all() == 0

        on_kafka = await p.on_kafka()
    assert event_ids(on_kafka) == sorted(f"gr-poll:{c}:{at}" for c, at in first_page + later_pages)
