"""The control API in-process against real Postgres (a database of each test's own, cloned from a
migrated template, because connections are one per kind) and the real broker, with the vendors'
simulators as real servers started once for this directory and reset for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from control_harness import (
    SANDBOX_ORG_ID,
    SF_CLIENT_ID,
    SF_CLIENT_SECRET,
    Api,
    clone_database,
    running_api,
)
from pydantic import SecretStr

from app.db.migrate import upgrade
from app.settings import Settings
from simulators.common.server import ServerThread
from simulators.getresponse.app import GetResponseSimConfig
from simulators.getresponse.app import create_app as create_getresponse
from simulators.salesforce.app import SalesforceSimConfig
from simulators.salesforce.app import create_app as create_salesforce


@pytest.fixture(scope="session")
def control_template(create_database: Callable[[], str]) -> str:
    url = create_database()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def salesforce_server() -> Iterator[str]:
    with ServerThread(create_salesforce(SalesforceSimConfig())) as server:
        yield server.url


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    config = SalesforceSimConfig(environment="sandbox", org_id=SANDBOX_ORG_ID)
    with ServerThread(create_salesforce(config)) as server:
        yield server.url


@pytest.fixture(scope="session")
def getresponse_server() -> Iterator[str]:
    with ServerThread(create_getresponse(GetResponseSimConfig())) as server:
        yield server.url


def _reset(url: str, **config: object) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post("/_sim/reset").raise_for_status()
        if config:
            http.post("/_sim/config", json=config).raise_for_status()


@pytest.fixture
def salesforce_url(salesforce_server: str) -> str:
    _reset(salesforce_server, api_quota=100_000, jwt_public_key=None, outbound_url=None, cdc_url=None)
    return salesforce_server


@pytest.fixture
def sandbox_url(sandbox_server: str) -> str:
    _reset(sandbox_server)
    return sandbox_server


@pytest.fixture
def getresponse_url(getresponse_server: str) -> str:
    _reset(getresponse_server, max_domain=None, webhook_url=None, create_delay_ms=50)
    return getresponse_server


@pytest.fixture
def control_settings(
    settings: Settings, control_template: str, salesforce_server: str, sandbox_server: str
) -> Settings:
    return settings.model_copy(
        update={
            "database_url": SecretStr(clone_database(control_template)),
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
