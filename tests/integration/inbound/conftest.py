"""The api in-process (httpx over ASGI, inside the app's lifespan) against the real Postgres and
the real broker of tests/conftest.py; see inbound_harness.py for the helpers."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The payload builders live beside the parser tests, so that both speak of the same payloads.
sys.path.append(str(Path(__file__).resolve().parents[2] / "unit" / "inbound"))

from inbound_harness import MAX_BODY_BYTES, Api, Connected, connect, running_api

from app.settings import Settings


@pytest.fixture
async def connected(settings: Settings) -> Connected:
    """A Salesforce org and a GetResponse account of this test's own, with every inbound secret."""
    return await connect(settings)


@pytest.fixture
async def api(settings: Settings, connected: Connected) -> AsyncIterator[Api]:
    async with running_api(settings.model_copy(update={"max_body_bytes": MAX_BODY_BYTES})) as running:
        yield running
