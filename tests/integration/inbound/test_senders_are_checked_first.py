"""Every inbound endpoint fails closed: an Outbound Message needs its connection's key, whatever
the org id says; the key and the webhook secret are checked from the URL, and the relay's
signature header from the headers, before a byte of the body is read; and a body gets a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from app.settings import Settings
from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, connect, published, running_api
from tests.unit.inbound.payloads import (
    cdc_event,
    json_body,
    new_id,
    notification,
    outbound_envelope,
    webhook_event,
)

SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
JSON = {"Content-Type": "application/json"}
BODY_READ_TIMEOUT_S = 0.5


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    tuned = settings.model_copy(update={"max_body_bytes": MAX_BODY_BYTES, "body_read_timeout_s": BODY_READ_TIMEOUT_S})
    async with running_api(tuned) as running:
        yield running


async def never_ending(started: asyncio.Event) -> AsyncIterator[bytes]:
    """A body that sends one byte and then nothing more, ever."""
    yield b"<"
    started.set()
    await asyncio.Event().wait()


async def trickle() -> AsyncIterator[bytes]:
    """One byte every 0.2 s, for longer than the body read deadline."""
    for _ in range(50):
        yield b" "
        await asyncio.sleep(0.2)


async def test_a_connection_without_an_outbound_key_accepts_no_outbound_message(settings: Settings, api: Api) -> None:
    keyless = await connect(settings, outbound_key="")
    body = outbound_envelope([notification(new_id("00Q"), {})], org_id=keyless.org_id)

    response = await api.client.post("/v1/salesforce/outbound-messages", content=body, headers=SOAP)

    # 503 while no connection has a key, 401 when another test's connection (same database) has one.
    assert response.status_code in (401, 503), response.text
    assert b"<Ack>" not in response.content
    assert await published(api.settings, api.topics.salesforce_changes, within=1) == []


async def test_without_the_key_the_org_id_is_never_looked_at(settings: Settings, api: Api) -> None:
    connected = await connect(settings)
    for org_id in (connected.org_id, new_id("00D")):  # ours or not: the same answer, so nothing is learnt
        body = outbound_envelope([notification(new_id("00Q"), {})], org_id=org_id)
        response = await api.client.post("/v1/salesforce/outbound-messages", content=body,
                                         params={"key": "guess"}, headers=SOAP)
        assert response.status_code == 401, response.text
        assert b"?key= parameter is wrong" in response.content


async def test_the_key_of_one_org_does_not_admit_another_orgs_message(settings: Settings, api: Api) -> None:
    connected = await connect(settings)
    other = await connect(settings)
    body = outbound_envelope([notification(new_id("00Q"), {})], org_id=other.org_id)

    response = await api.client.post("/v1/salesforce/outbound-messages", content=body,
                                     params={"key": connected.outbound_key}, headers=SOAP)

    assert response.status_code == 403
    assert b"is not the connected org" in response.content


async def test_a_signature_timestamp_of_non_ascii_digits_is_401_not_a_crash(settings: Settings, api: Api) -> None:
    await connect(settings)
    raw = json_body(cdc_event("Lead", "DELETE", [new_id("00Q")]))
    header = f"t=²,v1={'0' * 64}".encode("latin-1")  # HTTP header bytes are read as latin-1: 0xB2 is "²"

    response = await api.client.post("/v1/salesforce/change-events", content=raw,
                                     headers={**JSON, "X-Sfgr-Signature": header})  # type: ignore[dict-item]

    assert response.status_code == 401
    assert response.json()["reason"] == "malformed_signature"


@pytest.mark.parametrize("endpoint", ["outbound_message", "change_events", "event_relay", "webhook"])
async def test_a_sender_that_fails_authentication_is_answered_before_its_body_arrives(
    settings: Settings, api: Api, endpoint: str
) -> None:
    await connect(settings)
    started = asyncio.Event()
    requests = {
        "outbound_message": ("/v1/salesforce/outbound-messages", {"key": "wrong"}, SOAP),
        "change_events": ("/v1/salesforce/change-events", {}, {**JSON, "X-Sfgr-Signature": f"t=1,v1={'0' * 64}"}),
        "event_relay": ("/v1/salesforce/event-relay", {}, {**JSON, settings.event_relay_key_header: "wrong"}),
        "webhook": ("/v1/getresponse/webhooks", {"secret": "wrong"}, JSON),
    }
    path, params, headers = requests[endpoint]

    response = await asyncio.wait_for(
        api.client.post(path, params=params, headers=headers, content=never_ending(started)),  # type: ignore[arg-type]
        timeout=5,
    )

    assert response.status_code == 401
    assert not started.is_set()  # not even the first chunk was asked for


@pytest.mark.parametrize("endpoint", ["outbound_message", "webhook"])
async def test_a_body_that_trickles_in_is_refused_at_the_read_deadline(
    settings: Settings, api: Api, endpoint: str
) -> None:
    connected: Connected = await connect(settings)
    path, params, headers = {
        "outbound_message": ("/v1/salesforce/outbound-messages", {"key": connected.outbound_key}, SOAP),
        "webhook": ("/v1/getresponse/webhooks", {"secret": connected.webhook_secret}, JSON),
    }[endpoint]
    began = time.monotonic()

    response = await asyncio.wait_for(
        api.client.post(path, params=params, headers=headers, content=trickle()),  # type: ignore[arg-type]
        timeout=5,
    )

    assert response.status_code == 408
    assert "SFGR_BODY_READ_TIMEOUT_S" in response.text
    assert time.monotonic() - began < 3


async def test_a_webhook_for_a_known_secret_still_arrives_whole(settings: Settings, api: Api) -> None:
    connected = await connect(settings)
    event = webhook_event("contact_added", account_id=connected.account_id)
    response = await api.client.post("/v1/getresponse/webhooks", params={"secret": connected.webhook_secret},
                                     headers=JSON, content=json_body(event))
    assert response.status_code == 200, response.text
