"""Both vendors' simulators as real servers on free loopback ports, started once for this
directory. Every test gets them reset to the baseline of `client_sims.py`, and a client of each
that talks to them the way production talks to the vendors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from client_sims import CALL_CLIENT, GR_API_KEY, GR_BASELINE, SF_BASELINE, Sim, sf_client_credentials

from app.clients.getresponse import GetResponseClient
from app.clients.limits import AccountLimiter, AccountLimits
from app.clients.salesforce import SalesforceClient
from simulators.common.server import ServerThread
from simulators.getresponse.app import GetResponseSimConfig
from simulators.getresponse.app import create_app as create_getresponse
from simulators.salesforce.app import SalesforceSimConfig
from simulators.salesforce.app import create_app as create_salesforce


@pytest.fixture(scope="session")
def salesforce_url() -> Iterator[str]:
    with ServerThread(create_salesforce(SalesforceSimConfig())) as server:
        yield server.url


@pytest.fixture(scope="session")
def getresponse_url() -> Iterator[str]:
    with ServerThread(create_getresponse(GetResponseSimConfig())) as server:
        yield server.url


@pytest.fixture
def sf_sim(salesforce_url: str) -> Iterator[Sim]:
    sim = Sim(salesforce_url)
    sim.reset(SF_BASELINE)
    yield sim
    sim.close()


@pytest.fixture
def gr_sim(getresponse_url: str) -> Iterator[Sim]:
    sim = Sim(getresponse_url)
    sim.reset(GR_BASELINE)
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
