"""The control API in-process against real Postgres (a database of each test's own, copied from
`database_template`, because connections are one per kind) and the real broker, with the vendors'
simulators (the shared servers of tests/fixtures/simulators.py) reset for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from app.settings import Settings
from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET, reset_simulator
from tests.integration.control.harness import Api, running_api


@pytest.fixture
def sandbox_url(sandbox_server: str) -> str:
    reset_simulator(sandbox_server)
    return sandbox_server


@pytest.fixture
def getresponse_url(getresponse_server: str) -> str:
    reset_simulator(getresponse_server, create_delay_ms=50)
    return getresponse_server


@pytest.fixture
def control_settings(
    settings: Settings,
    create_database: Callable[..., str],
    database_template: str,
    salesforce_server: str,
    sandbox_server: str,
) -> Settings:
    return settings.model_copy(
        update={
            "database_url": SecretStr(create_database(template=database_template)),
            "salesforce_oauth_client_id": SF_CLIENT_ID,
            "salesforce_oauth_client_secret": SecretStr(SF_CLIENT_SECRET),
            "salesforce_login_url": salesforce_server,
            "salesforce_sandbox_login_url": sandbox_server,
        }
    )


@pytest.fixture
async def api(control_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(control_settings) as running:
        yield running
