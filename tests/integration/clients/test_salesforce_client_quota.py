"""SalesforceClient against the Salesforce simulator: the org's 24 h quota (Sforce-Limit-Info,
403 REQUEST_LIMIT_EXCEEDED, our reserve for the org's other users) and transport failures
(api-contracts A3 "API request limits", C6)."""

from __future__ import annotations

import asyncio

import pytest

from app.clients.errors import RateLimited, Transient
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_auth import ClientCredentialsGrant
from devstack.ports import free_port
from tests.fixtures.simulators import Sim
from tests.integration.clients.harness import CALL_CLIENT, eventually, sf_client_credentials


def rest_calls(sim: Sim) -> int:
    return len(sim.calls("/services/data"))


async def test_usage_is_tracked_from_every_answer(sf: SalesforceClient, sf_sim: Sim) -> None:
    assert sf.api_usage is None
    await sf.limits()
    await sf.describe("Lead")
    quota = sf_sim.control("GET", "/_sim/quota")
    assert sf.api_usage == (quota["used"], quota["limit"]) == (2, 100_000)


async def test_a_spent_org_quota_is_rate_limited_with_a_long_wait(sf_sim: Sim) -> None:
    async with SalesforceClient(
        sf_client_credentials(sf_sim), call_options_client=CALL_CLIENT, quota_retry_after_s=120
    ) as client:
        await client.limits()
        sf_sim.configure(api_quota=1)  # the org's other users spent the rest meanwhile
        with pytest.raises(RateLimited) as refused:
            await client.describe("Lead")
        assert (refused.value.status, refused.value.code) == (403, "REQUEST_LIMIT_EXCEEDED")
        assert refused.value.retry_after == 120
        assert client.api_usage == (1, 1)
        calls = rest_calls(sf_sim)
        with pytest.raises(RateLimited):
            await client.describe("Lead")
        assert rest_calls(sf_sim) == calls  # known to be spent: not asked again


@pytest.mark.parametrize(("reserve_calls", "reserve_fraction", "allowed"), [(4, 0.0, 6), (0, 0.5, 5)])
async def test_the_client_stops_short_of_the_reserve_without_calling(
    sf_sim: Sim, reserve_calls: int, reserve_fraction: float, allowed: int
) -> None:
    sf_sim.configure(api_quota=10)
    async with SalesforceClient(
        sf_client_credentials(sf_sim),
        call_options_client=CALL_CLIENT,
        reserve_calls=reserve_calls,
        reserve_fraction=reserve_fraction,
    ) as client:
        for _ in range(allowed):
            await client.limits()
        with pytest.raises(RateLimited) as refused:
            await client.limits()
    assert refused.value.code == "RESERVE_REACHED"
    assert 0 < refused.value.retry_after <= 300
    assert rest_calls(sf_sim) == allowed


async def test_concurrent_calls_do_not_overshoot_the_reserve(sf_sim: Sim) -> None:
    sf_sim.configure(api_quota=10)
    async with SalesforceClient(
        sf_client_credentials(sf_sim), call_options_client=CALL_CLIENT, reserve_calls=4
    ) as client:
        await client.limits()
        outcomes = await asyncio.gather(*(client.limits() for _ in range(10)), return_exceptions=True)
    assert sum(isinstance(o, RateLimited) for o in outcomes) >= 5
    assert rest_calls(sf_sim) <= 6


async def test_after_the_retry_interval_one_call_probes_whether_the_quota_recovered(sf_sim: Sim) -> None:
    sf_sim.configure(api_quota=3)
    async with SalesforceClient(
        sf_client_credentials(sf_sim),
        call_options_client=CALL_CLIENT,
        reserve_calls=1,
        quota_retry_after_s=0.2,
    ) as client:
        await client.limits()
        await client.limits()
        with pytest.raises(RateLimited):
            await client.limits()
        sf_sim.configure(api_quota=100)  # the rolling window moved on
        await asyncio.sleep(0.25)
        await client.limits()
        await client.limits()
    assert client.api_usage == (4, 100)


async def test_an_injected_503_is_transient(sf: SalesforceClient, sf_sim: Sim) -> None:
    sf_sim.faults(error_rate=1.0, error_statuses=[503], path_prefix="/services/data")
    with pytest.raises(Transient) as failed:
        await sf.describe("Lead")
    assert (failed.value.status, failed.value.code) == (503, "SERVER_UNAVAILABLE")


async def test_a_failing_token_endpoint_is_transient(sf: SalesforceClient, sf_sim: Sim) -> None:
    sf_sim.faults(error_rate=1.0, error_statuses=[503], path_prefix="/services/oauth2")
    with pytest.raises(Transient):
        await sf.limits()


async def test_a_call_that_hangs_past_the_timeout_is_transient(sf_sim: Sim) -> None:
    sf_sim.faults(timeout_rate=1.0, timeout_seconds=1.0, path_prefix="/services/data")
    async with SalesforceClient(
        sf_client_credentials(sf_sim), call_options_client=CALL_CLIENT, timeout_s=0.2
    ) as client:
        with pytest.raises(Transient) as failed:
            await client.limits()
    assert "timeout" in failed.value.message

    async def hung_call_ended() -> bool:
        return bool(sf_sim.calls("/services/data"))

    await eventually(hung_call_ended, what="the hung call to end, so that no later test sees it")


async def test_a_refused_connection_is_transient() -> None:
    credentials = ClientCredentialsGrant(
        token_url=f"http://127.0.0.1:{free_port()}/services/oauth2/token",
        client_id="x",
        client_secret="y",
    )
    async with SalesforceClient(credentials, call_options_client=CALL_CLIENT) as client:
        with pytest.raises(Transient):
            await client.limits()
