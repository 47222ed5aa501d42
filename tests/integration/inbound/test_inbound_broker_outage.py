"""With Kafka down nothing is acknowledged, so the senders deliver again; once Kafka is back their
retries are accepted and published exactly once (design.md, "Processes": acknowledge only after
Kafka acknowledged)."""

from __future__ import annotations

import asyncio
import time

from app.settings import Settings
from devstack.broker import TansuBroker
from tests.integration.inbound.harness import connect, published, running_api
from tests.unit.inbound.payloads import (
    cdc_event,
    event_relay_envelope,
    json_body,
    new_id,
    notification,
    outbound_envelope,
    webhook_event,
)


async def test_nothing_is_acknowledged_while_kafka_is_down_and_retries_are_published_once(
    settings: Settings, own_broker: TansuBroker
) -> None:
    settings = settings.model_copy(update={
        "kafka_bootstrap_servers": own_broker.bootstrap, "kafka_request_timeout_ms": 3000})
    connected = await connect(settings)
    lead_id, notification_id = new_id("00Q"), new_id("04l")
    soap = outbound_envelope([notification(lead_id, {"Email": "down@example.com"}, notification_id=notification_id)],
                             org_id=connected.org_id)
    webhook = json_body(webhook_event("contact_removed_link", contact_id="gone1", account_id=connected.account_id))
    webhook_headers = {"Content-Type": "application/json", "X-Webhook-ID": "retry-me-1"}
    relayed_lead = new_id("00Q")
    relayed = json_body(event_relay_envelope(cdc_event("Lead", "DELETE", [relayed_lead], transaction_key="tx-down"),
                                             org_id=connected.org_id))
    relay_headers = {"Content-Type": "application/json", "X-Sfgr-Api-Key": connected.event_relay_key}

    async with running_api(settings) as api:

        async def relay() -> int:
            started = time.perf_counter()
            response = await api.client.post("/v1/salesforce/event-relay", content=relayed, headers=relay_headers)
            assert time.perf_counter() - started < 5.0, "EventBridge gives up after 5 s"
            return response.status_code

        async def deliver() -> tuple[int, bytes, int, dict[str, str], float]:
            started = time.perf_counter()
            om = await api.client.post("/v1/salesforce/outbound-messages", params={"key": connected.outbound_key},
                                       content=soap, headers={"Content-Type": "text/xml"})
            om_seconds = time.perf_counter() - started
            started = time.perf_counter()
            gr = await api.client.post("/v1/getresponse/webhooks", params={"secret": connected.webhook_secret},
                                       content=webhook, headers=webhook_headers)
            assert time.perf_counter() - started < 5.0, "GetResponse gives up after 5 s"
            assert om_seconds < 10.0
            return om.status_code, om.content, gr.status_code, gr.json(), om_seconds

        await asyncio.to_thread(own_broker.stop)
        om_status, om_body, gr_status, gr_body, _ = await deliver()
        assert om_status == 503
        assert b"<faultcode>soapenv:Server</faultcode>" in om_body
        assert b"deliver again" in om_body
        assert b"Ack" not in om_body
        assert gr_status == 503
        assert gr_body["status"] == "ERROR"
        assert await relay() == 503  # EventBridge retries a 5xx for 24 h

        await asyncio.to_thread(own_broker.start)
        om_status, om_body, gr_status, gr_body, _ = await deliver()
        assert om_status == 200
        assert b"<Ack>true</Ack>" in om_body
        assert (gr_status, gr_body) == (200, {"status": "OK"})
        assert await relay() == 200

        salesforce = await published(api.settings, api.topics.salesforce_changes)
        getresponse = await published(api.settings, api.topics.getresponse_changes)
    assert sorted((m.key, m.headers["event_id"]) for m in salesforce) == sorted([
        (lead_id, notification_id), (relayed_lead, f"cdc:tx-down:1:{relayed_lead}")])
    assert [(m.key, m.headers["event_id"]) for m in getresponse] == [("gone1", "gr-webhook:retry-me-1")]
