"""Both vendors' simulators (the shared servers of tests/fixtures/simulators.py), reset for every
test, and a client of each that talks to them the way production talks to the vendors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.clients.getresponse import GetResponseClient
from app.clients.limits import AccountLimiter, AccountLimits
from app.clients.salesforce import SalesforceClient
from tests.fixtures.simulators import GR_API_KEY, Sim
from tests.integration.clients.harness import CALL_CLIENT, sf_client_credentials


@pytest.fixture
def sf_sim(salesforce_server: str) -> Iterator[Sim]:
    sim = Sim(salesforce_server)
    sim.reset()
    yield sim
    sim.close()


@pytest.fixture
def gr_sim(getresponse_server: str) -> Iterator[Sim]:
    sim = Sim(getresponse_server)
    sim.reset(create_delay_ms=50)
    yield sim
    sim.close()


@pytest.fixture
async def sf(sf_sim: Sim) -> AsyncIterator[SalesforceClient]:
    async with SalesforceClient(
        sf_client_credentials(sf_sim), call_options_client=CALL_CLIENT, timeout_s=5
    ) as client:
        yield client


@pytest.fixture
async def gr(gr_sim: Sim) -> AsyncIterator[GetResponseClient]:
    """A client with a limiter of its own, so that no test inherits another's pauses."""
    limiter = AccountLimiter(AccountLimits())
    async with GetResponseClient(
        api_key=GR_API_KEY, base_url=f"{gr_sim.url}/v3", limiter=limiter, timeout_s=5
    ) as client:
        yield client
