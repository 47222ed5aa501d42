"""POST /v1/connections/{kind}/rotate-inbound-secrets: new secrets shown once, the replaced ones
accepted for the overlap and refused after it; a reconnect keeps them; the rotation is audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.settings import Settings
from tests.fixtures.simulators import GR_ACCOUNT_ID, SF_ORG_ID
from tests.integration.control.harness import Api, running_api
from tests.unit.inbound.payloads import (
    cdc_event,
    json_body,
    new_id,
    notification,
    outbound_envelope,
    sign,
    webhook_event,
)


def secret_of(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


async def webhook(api: Api, secret: str) -> httpx.Response:
    return await api.client.post("/v1/getresponse/webhooks", params={"secret": secret},
                                 headers={"Content-Type": "application/json"},
                                 content=json_body(webhook_event("contact_added", account_id=GR_ACCOUNT_ID)))


async def outbound_message(api: Api, key: str) -> httpx.Response:
    body = outbound_envelope([notification(new_id("00Q"), {})], org_id=SF_ORG_ID)
    return await api.client.post("/v1/salesforce/outbound-messages", params={"key": key}, content=body,
                                 headers={"Content-Type": "text/xml"})


async def change_events(api: Api, secret: str) -> httpx.Response:
    raw = json_body(cdc_event("Lead", "DELETE", [new_id("00Q")]))
    return await api.client.post("/v1/salesforce/change-events", content=raw,
                                 headers={"Content-Type": "application/json", "X-Sfgr-Signature": sign(secret, raw)})


@pytest.fixture
async def no_overlap_api(control_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(control_settings.model_copy(update={"inbound_secret_overlap_s": 0.0})) as running:
        yield running


async def rotate(api: Api, kind: str) -> dict[str, Any]:
    response = await api.post(f"/v1/connections/{kind}/rotate-inbound-secrets")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_rotated_webhook_secret_is_new_and_the_old_one_works_through_the_overlap(
    api: Api, getresponse_url: str
) -> None:
    old = secret_of((await api.connect_getresponse(getresponse_url))["inbound"]["webhook_url"], "secret")

    rotated = await rotate(api, "getresponse")

    new = secret_of(rotated["inbound"]["webhook_url"], "secret")
    assert new != old
    assert rotated["rotated"] == ["webhook_secret"] and rotated["previous_valid_until"]
    assert (await webhook(api, new)).status_code == 200
    assert (await webhook(api, old)).status_code == 200
    assert (await webhook(api, "neither")).status_code == 401


async def test_after_the_overlap_the_old_secrets_are_refused(
    no_overlap_api: Api, salesforce_url: str, getresponse_url: str
) -> None:
    api = no_overlap_api
    old_webhook = secret_of((await api.connect_getresponse(getresponse_url))["inbound"]["webhook_url"], "secret")
    connected = (await api.connect_salesforce(salesforce_url))["inbound"]
    old_key, old_relay = secret_of(connected["outbound_message_url"], "key"), connected["change_events_secret"]

    getresponse, salesforce = await rotate(api, "getresponse"), await rotate(api, "salesforce")

    assert (await webhook(api, old_webhook)).status_code == 401
    assert (await outbound_message(api, old_key)).status_code == 401
    assert (await change_events(api, old_relay)).status_code == 401
    assert (await webhook(api, secret_of(getresponse["inbound"]["webhook_url"], "secret"))).status_code == 200
    assert (await outbound_message(api, secret_of(salesforce["inbound"]["outbound_message_url"], "key"))).status_code == 200
    assert (await change_events(api, salesforce["inbound"]["change_events_secret"])).status_code == 200


async def test_salesforce_secrets_rotate_together_and_the_old_ones_work_through_the_overlap(
    api: Api, salesforce_url: str
) -> None:
    connected = (await api.connect_salesforce(salesforce_url))["inbound"]

    rotated = await rotate(api, "salesforce")

    assert rotated["rotated"] == ["change_events_secret", "event_relay_key", "outbound_key"]
    assert rotated["inbound"]["change_events_secret"] != connected["change_events_secret"]
    assert rotated["inbound"]["event_relay_key"] != connected["event_relay_key"]
    assert (await outbound_message(api, secret_of(connected["outbound_message_url"], "key"))).status_code == 200
    assert (await change_events(api, connected["change_events_secret"])).status_code == 200


async def test_a_reconnect_keeps_the_rotated_secrets(api: Api, getresponse_url: str) -> None:
    await api.connect_getresponse(getresponse_url)
    new = secret_of((await rotate(api, "getresponse"))["inbound"]["webhook_url"], "secret")

    again = await api.connect_getresponse(getresponse_url)

    assert secret_of(again["inbound"]["webhook_url"], "secret") == new


async def test_rotating_without_a_connection_is_404(api: Api) -> None:
    response = await api.post("/v1/connections/getresponse/rotate-inbound-secrets")
    assert response.status_code == 404
    assert "no getresponse connection is connected" in response.json()["detail"]


async def test_the_rotation_is_audited_without_the_secrets(api: Api, getresponse_url: str) -> None:
    await api.connect_getresponse(getresponse_url)
    rotated = await rotate(api, "getresponse")

    [entry] = (await api.get("/v1/audit", params={"action": "connection.rotate_inbound_secrets.getresponse"})
               ).json()["entries"]

    assert entry["change"]["rotated"] == ["webhook_secret"]
    assert secret_of(rotated["inbound"]["webhook_url"], "secret") not in json.dumps(entry)
