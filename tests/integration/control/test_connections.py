"""Connecting and disconnecting the Salesforce org and the GetResponse account, against the
simulators: the OAuth web-server flow as a browser walks it, JWT, sandbox hosts, key checks,
GetResponse MAX, and a disconnect that revokes, cancels and keeps the links."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.clients.vendors import Vendors
from app.crypto import SecretBox
from app.db.session import create_engine, session_factory, transaction
from app.db.syncs import insert_sync
from devstack.defaults import DEMO_MAPPING
from tests.fixtures.simulators import (
    GR_ACCOUNT_ID,
    GR_API_KEY,
    SANDBOX_ORG_ID,
    SF_CLIENT_ID,
    SF_ORG_ID,
    SF_USERNAME,
)
from tests.integration.control.harness import MAIN_LIST, Api, configure_sim, query_of, sql

CALLBACK = "http://sfgr.test/v1/connections/salesforce/callback"


async def oauth_connect(api: Api, environment: str = "production") -> httpx.Response:
    """The web-server flow as a browser walks it: our redirect, the login host's redirect back with
    a code, and our callback (which the browser reaches without any bearer token)."""
    start = await api.get(f"/v1/connections/salesforce/authorize?environment={environment}")
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient(timeout=10) as browser:
        approved = await browser.get(start.headers["location"])
    assert approved.status_code == 302, approved.text
    back = approved.headers["location"]
    assert back.startswith(CALLBACK + "?")
    return await api.client.get(back.removeprefix("http://sfgr.test"))


async def stored_credentials(api: Api, kind: str) -> dict[str, Any]:
    [row] = await sql(api.settings, "SELECT credentials FROM connections WHERE kind = $1", kind)
    return SecretBox(api.settings).open(row["credentials"])


def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


async def test_authorize_redirects_to_the_production_login_host_with_pkce_and_a_state(
    api: Api, salesforce_url: str
) -> None:
    response = await api.get("/v1/connections/salesforce/authorize")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{salesforce_url}/services/oauth2/authorize?")
    query = query_of(location)
    assert query["response_type"] == "code"
    assert query["client_id"] == SF_CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 32
    [state] = await sql(api.settings, "SELECT environment, state_hash FROM oauth_states")
    assert state["environment"] == "production"
    assert query["state"] not in state["state_hash"]  # only its hash is kept


async def test_oauth_callback_stores_the_refresh_token_and_shows_the_inbound_endpoints_once(
    api: Api, salesforce_url: str
) -> None:
    response = await oauth_connect(api)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["connection"]["external_id"] == SF_ORG_ID
    assert body["connection"]["auth_kind"] == "oauth_web_server"
    assert body["connection"]["api_base_url"] == salesforce_url
    inbound = body["inbound"]
    assert inbound["outbound_message_url"].startswith("http://sfgr.test/v1/salesforce/outbound-messages?key=")
    assert inbound["change_events_url"] == "http://sfgr.test/v1/salesforce/change-events"
    credentials = await stored_credentials(api, "salesforce")
    assert credentials["grant"] == "refresh_token" and credentials["refresh_token"]
    assert credentials["token_url"] == f"{salesforce_url}/services/oauth2/token"

    listed = await api.get("/v1/connections")
    assert listed.status_code == 200
    assert inbound["change_events_secret"] not in listed.text
    assert credentials["refresh_token"] not in listed.text

    # The stored refresh token is what the consumers use.
    vendors = Vendors(api.settings, session_factory(create_engine(api.settings)))
    try:
        client = await vendors.salesforce(uuid.UUID(body["connection"]["id"]))
        assert (await client.describe("Lead"))["name"] == "Lead"
    finally:
        await vendors.close()


async def test_a_state_is_good_for_one_callback_only(api: Api, salesforce_url: str) -> None:
    start = await api.get("/v1/connections/salesforce/authorize")
    async with httpx.AsyncClient(timeout=10) as browser:
        back = (await browser.get(start.headers["location"])).headers["location"]
    first = await api.client.get(back.removeprefix("http://sfgr.test"))
    assert first.status_code == 200
    again = await api.client.get(back.removeprefix("http://sfgr.test"))
    assert again.status_code == 400
    assert again.json()["detail"].startswith("unknown or expired state")


async def test_an_unknown_or_expired_state_is_400(api: Api, salesforce_url: str) -> None:
    unknown = await api.client.get("/v1/connections/salesforce/callback?code=abc&state=never-issued")
    assert unknown.status_code == 400
    start = await api.get("/v1/connections/salesforce/authorize")
    await sql(api.settings, "UPDATE oauth_states SET expires_at = now() - interval '1 second'")
    async with httpx.AsyncClient(timeout=10) as browser:
        back = (await browser.get(start.headers["location"])).headers["location"]
    expired = await api.client.get(back.removeprefix("http://sfgr.test"))
    assert expired.status_code == 400
    assert "unknown or expired state" in expired.json()["detail"]


async def test_a_refused_authorization_is_400_with_salesforces_reason(api: Api, salesforce_url: str) -> None:
    start = await api.get("/v1/connections/salesforce/authorize")
    state = query_of(start.headers["location"])["state"]
    response = await api.client.get(
        f"/v1/connections/salesforce/callback?state={state}&error=access_denied&error_description=end-user+denied"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Salesforce did not authorize: access_denied: end-user denied"


async def test_sandbox_uses_the_sandbox_login_host(api: Api, salesforce_url: str, sandbox_url: str) -> None:
    start = await api.get("/v1/connections/salesforce/authorize?environment=sandbox")
    assert start.headers["location"].startswith(f"{sandbox_url}/services/oauth2/authorize?")
    response = await oauth_connect(api, "sandbox")
    assert response.status_code == 200, response.text
    connection = response.json()["connection"]
    assert connection["external_id"] == SANDBOX_ORG_ID
    assert connection["settings"] == {
        "environment": "sandbox", "login_url": sandbox_url, "user_id": connection["settings"]["user_id"]
    }


async def test_an_unknown_environment_is_422(api: Api) -> None:
    assert (await api.get("/v1/connections/salesforce/authorize?environment=staging")).status_code == 422


async def test_jwt_connect_gets_one_token_and_reads_the_org(api: Api, salesforce_url: str) -> None:
    private, public = rsa_pem()
    await configure_sim(salesforce_url, jwt_public_key=public)
    response = await api.post(
        "/v1/connections/salesforce/jwt",
        json={"consumer_key": SF_CLIENT_ID, "username": SF_USERNAME, "private_key_pem": private},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["connection"]["external_id"] == SF_ORG_ID
    assert body["connection"]["auth_kind"] == "jwt_bearer"
    assert body["connection"]["settings"]["username"] == SF_USERNAME
    credentials = await stored_credentials(api, "salesforce")
    assert credentials["grant"] == "jwt_bearer"
    assert credentials["audience"] == salesforce_url
    assert credentials["private_key_pem"] == private


async def test_jwt_signed_with_another_key_is_400_naming_salesforces_error(api: Api, salesforce_url: str) -> None:
    _, public = rsa_pem()
    other, _ = rsa_pem()
    await configure_sim(salesforce_url, jwt_public_key=public)
    response = await api.post(
        "/v1/connections/salesforce/jwt",
        json={"consumer_key": SF_CLIENT_ID, "username": SF_USERNAME, "private_key_pem": other},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Salesforce refused the jwt_bearer grant: salesforce 400 invalid_grant")
    assert (await sql(api.settings, "SELECT id FROM connections")) == []


async def test_jwt_with_a_key_that_is_not_pem_is_400(api: Api, salesforce_url: str) -> None:
    response = await api.post(
        "/v1/connections/salesforce/jwt",
        json={"consumer_key": SF_CLIENT_ID, "username": SF_USERNAME, "private_key_pem": "not a key"},
    )
    assert response.status_code == 400
    assert "private_key_pem is not an RSA private key" in response.json()["detail"]


async def test_another_org_while_one_is_connected_is_409(api: Api, salesforce_url: str, sandbox_url: str) -> None:
    assert (await oauth_connect(api)).status_code == 200
    response = await oauth_connect(api, "sandbox")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Salesforce org {SF_ORG_ID} is connected; disconnect it first (DELETE /v1/connections/salesforce) "
        f"to connect {SANDBOX_ORG_ID}"
    )


async def test_connecting_the_same_org_again_keeps_its_inbound_secrets(api: Api, salesforce_url: str) -> None:
    first = (await oauth_connect(api)).json()
    second = await api.connect_salesforce(salesforce_url)
    assert second["inbound"] == first["inbound"]
    assert second["connection"]["id"] == first["connection"]["id"]
    assert second["connection"]["auth_kind"] == "client_credentials"


async def test_getresponse_key_is_checked_before_it_is_stored(api: Api, getresponse_url: str) -> None:
    body = await api.connect_getresponse(getresponse_url)
    assert body["connection"]["external_id"] == GR_ACCOUNT_ID
    assert body["account_id_source"] == "given"
    assert body["lists"] == 2
    assert body["inbound"]["webhook_url"].startswith("http://sfgr.test/v1/getresponse/webhooks?secret=")
    assert await stored_credentials(api, "getresponse") == {"api_key": GR_API_KEY}


async def test_a_refused_getresponse_key_is_400_and_nothing_is_stored(api: Api, getresponse_url: str) -> None:
    response = await api.post(
        "/v1/connections/getresponse", json={"api_key": "wrong", "api_base_url": f"{getresponse_url}/v3"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("GetResponse refused the API key: getresponse 401 1014")
    assert (await sql(api.settings, "SELECT id FROM connections")) == []


async def test_without_an_account_id_it_is_derived_from_the_default_list_with_a_warning(
    api: Api, getresponse_url: str
) -> None:
    response = await api.post(
        "/v1/connections/getresponse", json={"api_key": GR_API_KEY, "api_base_url": f"{getresponse_url}/v3"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["account_id_source"] == "derived"
    assert body["connection"]["external_id"] == f"list-{MAIN_LIST}"
    assert "account_id" in body["warnings"][0]


async def test_getresponse_max_sends_the_bare_domain(api: Api, getresponse_url: str) -> None:
    await configure_sim(getresponse_url, max_domain="example.com")
    without = await api.post(
        "/v1/connections/getresponse", json={"api_key": GR_API_KEY, "api_base_url": f"{getresponse_url}/v3"}
    )
    assert without.status_code == 400
    body = await api.connect_getresponse(getresponse_url, domain="https://www.Example.com/")
    assert body["connection"]["settings"]["max_domain"] == "example.com"
    assert body["connection"]["api_base_url"] == f"{getresponse_url}/v3"


async def test_both_credentials_or_none_is_422(api: Api) -> None:
    response = await api.post("/v1/connections/getresponse", json={"api_key": "a", "oauth_token": "b"})
    assert response.status_code == 422


async def test_disconnect_revokes_the_token_cancels_the_syncs_and_keeps_the_links(
    api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    salesforce = (await oauth_connect(api)).json()["connection"]
    getresponse = (await api.connect_getresponse(getresponse_url))["connection"]
    refresh_token = (await stored_credentials(api, "salesforce"))["refresh_token"]
    engine = create_engine(api.settings)
    try:
        async with transaction(session_factory(engine)) as session:
            sync_id = await insert_sync(
                session, name="s", salesforce_connection_id=uuid.UUID(salesforce["id"]),
                getresponse_connection_id=uuid.UUID(getresponse["id"]), campaign_id=MAIN_LIST,
                salesforce_objects=["Lead"], create_as="Lead", preferred_system="salesforce", mapping=DEMO_MAPPING,
            )
    finally:
        await engine.dispose()
    await sql(api.settings, "INSERT INTO contact_links (sync_id, state, email_normalized, base, pending_changes, "
              "lookup_attempts, removed_from_list, version) VALUES ($1, 'linked', 'a@b.example', '{}', '{}', 0, "
              "false, 0)", sync_id)

    response = await api.delete("/v1/connections/salesforce")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_revoked"] is True
    assert body["cancelled_syncs"] == [str(sync_id)]
    assert body["connection"]["state"] == "disconnected"

    async with httpx.AsyncClient(timeout=10) as http:
        refreshed = await http.post(
            f"{salesforce_url}/services/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": SF_CLIENT_ID},
        )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    [sync] = await sql(api.settings, "SELECT state FROM syncs WHERE id = $1", sync_id)
    assert sync["state"] == "cancelled"
    assert len(await sql(api.settings, "SELECT id FROM contact_links WHERE sync_id = $1", sync_id)) == 1
    again = await api.delete("/v1/connections/salesforce")
    assert again.status_code == 404


async def test_disconnecting_a_client_credentials_org_has_nothing_to_revoke(api: Api, salesforce_url: str) -> None:
    await api.connect_salesforce(salesforce_url)
    body = (await api.delete("/v1/connections/salesforce")).json()
    assert body["token_revoked"] is False
    assert body["revocation"].startswith("nothing to revoke for the client_credentials grant")
    assert await stored_credentials(api, "salesforce") == {}


async def test_disconnecting_getresponse_drops_the_key_and_cancels_its_syncs(api: Api, getresponse_url: str) -> None:
    await api.connect_getresponse(getresponse_url)
    body = (await api.delete("/v1/connections/getresponse")).json()
    assert body["connection"]["state"] == "disconnected" and body["token_revoked"] is False
    assert await stored_credentials(api, "getresponse") == {}
    again = await api.connect_getresponse(getresponse_url)
    assert again["connection"]["state"] == "connected"


async def test_authorize_without_a_configured_connected_app_is_409_naming_the_settings(api: Api) -> None:
    api.settings.salesforce_oauth_client_id = None
    response = await api.get("/v1/connections/salesforce/authorize")
    assert response.status_code == 409
    assert "SFGR_SALESFORCE_OAUTH_CLIENT_ID" in response.json()["detail"]
