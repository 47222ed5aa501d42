"""The api in-process (httpx over ASGI, inside the app's lifespan) against the real Postgres and
the real broker of tests/conftest.py; see harness.py for the helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.settings import Settings
from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, connect, running_api


@pytest.fixture
async def connected(settings: Settings) -> Connected:
    """A Salesforce org and a GetResponse account of this test's own, with every inbound secret."""
    return await connect(settings)


@pytest.fixture
async def api(settings: Settings, connected: Connected) -> AsyncIterator[Api]:
    async with running_api(settings.model_copy(update={"max_body_bytes": MAX_BODY_BYTES})) as running:
        yield running
