"""The Event Relay key of the Salesforce connection: shown once by the connect, rotatable, with the
replaced key accepted for a grace period (EventBridge does not retry a 401)."""

from __future__ import annotations

from app.crypto import SecretBox
from app.db.session import create_engine, session_factory, transaction
from tests.fixtures.connections import save_connections
from tests.fixtures.simulators import GR_ACCOUNT_ID, SF_ORG_ID
from tests.integration.control.harness import Api, query_of, running_api
from tests.unit.inbound.payloads import cdc_event, event_relay_envelope, json_body, new_id

ROTATE = "/v1/connections/salesforce/event-relay-key"


async def relay_status(api: Api, key: str) -> int:
    body = json_body(event_relay_envelope(cdc_event("Lead", "DELETE", [new_id("00Q")]), org_id=SF_ORG_ID))
    response = await api.client.post("/v1/salesforce/event-relay", content=body,
                                      headers={"Content-Type": "application/json", "X-Sfgr-Api-Key": key})
    return response.status_code


async def test_the_connect_shows_the_event_relay_endpoint_header_and_key_once(api: Api, salesforce_url: str) -> None:
    inbound = (await api.connect_salesforce(salesforce_url))["inbound"]
    assert inbound["event_relay_url"] == "http://sfgr.test/v1/salesforce/event-relay"
    assert inbound["event_relay_key_header"] == "X-Sfgr-Api-Key"
    assert len(inbound["event_relay_key"]) >= 40
    assert inbound["event_relay_key"] not in (await api.get("/v1/connections")).text
    assert await relay_status(api, inbound["event_relay_key"]) == 200


async def test_a_rotation_shows_a_new_key_and_the_old_one_works_until_its_grace_ends(
    api: Api, salesforce_url: str
) -> None:
    old = (await api.connect_salesforce(salesforce_url))["inbound"]["event_relay_key"]
    response = await api.post(ROTATE)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["event_relay_url"] == "http://sfgr.test/v1/salesforce/event-relay"
    assert rotated["event_relay_key_header"] == "X-Sfgr-Api-Key"
    assert rotated["event_relay_key"] != old and rotated["previous_key_valid_until"] is not None
    assert await relay_status(api, rotated["event_relay_key"]) == 200
    assert await relay_status(api, old) == 200

    # Without a grace period the replaced key stops at once.
    async with running_api(api.settings.model_copy(update={"event_relay_key_grace_s": 0})) as strict:
        again = (await strict.post(ROTATE)).json()
        assert again["previous_key_valid_until"] is None
        assert await relay_status(strict, again["event_relay_key"]) == 200
        assert await relay_status(strict, rotated["event_relay_key"]) == 401


async def test_an_org_connected_before_event_relay_gains_a_key_and_keeps_its_other_secrets(
    api: Api, salesforce_url: str
) -> None:
    engine = create_engine(api.settings)
    try:
        async with transaction(session_factory(engine)) as session:
            await save_connections(session, SecretBox(api.settings), org_id=SF_ORG_ID, account_id=GR_ACCOUNT_ID,
                                   salesforce_auth="client_credentials",
                                   salesforce_secrets={"outbound_key": "old-key", "change_events_secret": "old-hmac"})
    finally:
        await engine.dispose()
    inbound = (await api.connect_salesforce(salesforce_url))["inbound"]
    assert query_of(inbound["outbound_message_url"])["key"] == "old-key"
    assert inbound["change_events_secret"] == "old-hmac"
    assert inbound["event_relay_key"]


async def test_rotating_without_a_connected_org_is_404(api: Api) -> None:
    response = await api.post(ROTATE)
    assert response.status_code == 404
    assert response.json()["detail"] == "no Salesforce connection is connected"


async def test_rotating_needs_the_admin_scope(api: Api, salesforce_url: str) -> None:
    await api.connect_salesforce(salesforce_url)
    assert (await api.client.post(ROTATE)).status_code == 401
