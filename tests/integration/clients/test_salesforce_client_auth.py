"""SalesforceClient against the Salesforce simulator: getting, caching and refreshing access
tokens for each stored grant, and naming our client on every call (api-contracts A4, C3, C7)."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.clients.errors import Unauthorized
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_auth import (
    JwtBearerGrant,
    RefreshTokenGrant,
    jwt_assertion,
    salesforce_credentials,
)
from app.settings import get_settings
from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET, SF_USERNAME, Sim
from tests.integration.clients.harness import CALL_CLIENT, sf_client_credentials, sf_refresh_token

TOKEN_PATH = "/services/oauth2/token"
LEAD = {"LastName": "Lee", "Company": "Acme", "Email": "pat@example.com"}


def token_calls(sim: Sim) -> int:
    return len(sim.calls(TOKEN_PATH))


async def test_a_client_credentials_token_is_fetched_once_and_reused(
    sf: SalesforceClient, sf_sim: Sim
) -> None:
    lead_id = await sf.create("Lead", LEAD)
    await sf.get("Lead", lead_id)
    await sf.describe("Lead")
    assert token_calls(sf_sim) == 1
    assert sf.instance_url == sf_sim.url


async def test_an_expired_session_is_refreshed_once_and_the_call_replayed(
    sf: SalesforceClient, sf_sim: Sim
) -> None:
    await sf.limits()
    sf_sim.control("POST", "/_sim/sessions/expire")
    lead_id = await sf.create("Lead", LEAD)
    assert (await sf.get("Lead", lead_id))["LastName"] == "Lee"
    assert token_calls(sf_sim) == 2
    creates = [c["status"] for c in sf_sim.calls("/services/data") if c["method"] == "POST"]
    assert creates == [401, 201]


async def test_calls_that_meet_the_same_expired_session_share_one_refresh(
    sf: SalesforceClient, sf_sim: Sim
) -> None:
    lead_id = await sf.create("Lead", LEAD)
    sf_sim.control("POST", "/_sim/sessions/expire")
    records = await asyncio.gather(*(sf.get("Lead", lead_id) for _ in range(6)))
    assert {r["Id"] for r in records} == {lead_id}
    assert token_calls(sf_sim) == 2


async def test_a_refresh_token_grant_gets_a_new_access_token_after_expiry(sf_sim: Sim) -> None:
    credentials = RefreshTokenGrant(
        token_url=f"{sf_sim.url}{TOKEN_PATH}",
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
        refresh_token=sf_refresh_token(sf_sim),
    )
    async with SalesforceClient(credentials, call_options_client=CALL_CLIENT) as client:
        await client.limits()
        sf_sim.control("POST", "/_sim/sessions/expire")
        await client.limits()
    grants = [c for c in sf_sim.calls(TOKEN_PATH) if c["status"] == 200]
    assert len(grants) == 3  # the code exchange, then two refreshes


async def test_a_revoked_refresh_token_ends_in_unauthorized(sf_sim: Sim) -> None:
    refresh = sf_refresh_token(sf_sim)
    credentials = salesforce_credentials(
        {
            "grant": "refresh_token",
            "token_url": f"{sf_sim.url}{TOKEN_PATH}",
            "client_id": SF_CLIENT_ID,
            "refresh_token": refresh,
        }
    )
    async with SalesforceClient(credentials, call_options_client=CALL_CLIENT) as client:
        await client.limits()
        sf_sim.http.post("/services/oauth2/revoke", data={"token": refresh}).raise_for_status()
        with pytest.raises(Unauthorized) as refused:
            await client.limits()
    assert refused.value.code == "invalid_grant"


def rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_a_jwt_bearer_grant_signs_an_assertion_the_org_verifies(sf_sim: Sim) -> None:
    private, public = rsa_key_pair()
    sf_sim.configure(jwt_public_key=public)
    credentials = JwtBearerGrant(
        token_url=f"{sf_sim.url}{TOKEN_PATH}",
        consumer_key=SF_CLIENT_ID,
        username=SF_USERNAME,
        private_key_pem=private,
        audience="https://login.salesforce.com",
    )
    claims = jwt.decode(
        jwt_assertion(credentials), public, algorithms=["RS256"], audience=credentials.audience
    )
    assert claims["iss"] == SF_CLIENT_ID and claims["sub"] == SF_USERNAME
    assert 0 < claims["exp"] - time.time() <= 180
    async with SalesforceClient(credentials, call_options_client=CALL_CLIENT) as client:
        assert "DailyApiRequests" in await client.limits()


async def test_a_jwt_signed_with_another_key_is_unauthorized(sf_sim: Sim) -> None:
    sf_sim.configure(jwt_public_key=rsa_key_pair()[1])
    credentials = JwtBearerGrant(
        token_url=f"{sf_sim.url}{TOKEN_PATH}",
        consumer_key=SF_CLIENT_ID,
        username=SF_USERNAME,
        private_key_pem=rsa_key_pair()[0],
        audience="https://login.salesforce.com",
    )
    async with SalesforceClient(credentials, call_options_client=CALL_CLIENT) as client:
        with pytest.raises(Unauthorized):
            await client.limits()


async def test_a_wrong_client_secret_is_unauthorized(sf_sim: Sim) -> None:
    async with SalesforceClient(sf_client_credentials(sf_sim, secret="wrong")) as client:
        with pytest.raises(Unauthorized) as refused:
            await client.get("Lead", "00Q000000000000AAA")
    assert refused.value.code == "invalid_client"
    assert sf_sim.calls("/services/data") == []


async def test_every_call_names_our_client_in_sforce_call_options(sf: SalesforceClient, sf_sim: Sim) -> None:
    lead_id = await sf.create("Lead", LEAD)
    await sf.update("Lead", lead_id, {"Phone": "+48600100200"})
    await sf.create_many("Lead", [{"LastName": "Kim", "Company": "Beta"}])
    [row] = [r async for r in sf.query("SELECT Id FROM Lead WHERE LastName = 'Kim'")]
    await sf.delete("Lead", row["Id"])
    calls = sf_sim.calls("/services/data")
    assert [c["method"] for c in calls] == ["POST", "PATCH", "POST", "GET", "DELETE"]
    assert {c["client"] for c in calls} == {CALL_CLIENT}


def test_the_call_options_client_comes_from_the_settings_by_default(sf_sim: Sim) -> None:
    client = SalesforceClient(sf_client_credentials(sf_sim))
    assert client.call_options_client == get_settings().salesforce_client_id
