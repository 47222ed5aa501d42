"""End to end, inbound only: the simulators deliver to the api over real HTTP, the api publishes to
the real broker. A Salesforce change arrives through both of its delivery paths (Outbound Message
and Change Data Capture), a GetResponse webhook through its own, and each simulator records an
acknowledged delivery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.bus import Topics
from app.main import create_app
from app.settings import Settings
from simulators.common.server import ServerThread
from simulators.getresponse.app import create_app as create_getresponse
from simulators.getresponse.config import GetResponseSimConfig
from simulators.salesforce.app import create_app as create_salesforce
from simulators.salesforce.config import SalesforceSimConfig
from tests.integration.inbound.harness import Connected, Published, connect, published
from tests.unit.inbound.payloads import new_id


class Servers:
    def __init__(self, connected: Connected, api: str, salesforce: str, getresponse: str) -> None:
        self.connected = connected
        self.api = api
        self.salesforce = salesforce
        self.getresponse = getresponse


@pytest.fixture
def servers(settings: Settings) -> Iterator[Servers]:
    connected = asyncio.run(connect(
        settings, org_id=new_id("00D"), account_id=f"acct{uuid.uuid4().hex[:8]}",
        outbound_key=uuid.uuid4().hex,
    ))
    with ServerThread(create_app(settings)) as api:
        salesforce_config = SalesforceSimConfig(
            org_id=connected.org_id,
            outbound_url=f"{api.url}/v1/salesforce/outbound-messages?key={connected.outbound_key}",
            cdc_url=f"{api.url}/v1/salesforce/change-events",
            cdc_secret=connected.change_events_secret,
        )
        getresponse_config = GetResponseSimConfig(
            account_id=connected.account_id,
            webhook_url=f"{api.url}/v1/getresponse/webhooks?secret={connected.webhook_secret}",
        )
        with ServerThread(create_salesforce(salesforce_config)) as salesforce, \
                ServerThread(create_getresponse(getresponse_config)) as getresponse:
            yield Servers(connected, api.url, salesforce.url, getresponse.url)


async def settled(client: httpx.AsyncClient, base: str, *, within: float = 20.0) -> list[dict[str, Any]]:
    """The simulator's delivery attempts, once it has nothing queued, in flight or to retry."""
    deadline = asyncio.get_running_loop().time() + within
    while not (await client.get(f"{base}/_sim/idle")).json()["idle"]:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{base} still delivering after {within} s")
        await asyncio.sleep(0.05)
    attempts: list[dict[str, Any]] = (await client.get(f"{base}/_sim/deliveries")).json()
    return attempts


def by_transport(messages: list[Published]) -> dict[str, list[Published]]:
    grouped: dict[str, list[Published]] = {}
    for message in messages:
        grouped.setdefault(message.event.transport, []).append(message)
    return grouped


async def test_a_salesforce_change_arrives_through_both_paths_and_a_webhook_through_its_own(
    servers: Servers, settings: Settings
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{servers.salesforce}/_sim/records/Lead", json={
            "FirstName": "Zoë", "LastName": "Łukasz", "Company": "Acme", "Email": "zoe.e2e@example.com"})
        assert created.status_code == 201, created.text
        lead_id = created.json()["id"]
        updated = await client.patch(f"{servers.salesforce}/_sim/records/Lead/{lead_id}", json={"Phone": "+48600100200"})
        assert updated.status_code == 200, updated.text
        subscribed = await client.post(f"{servers.getresponse}/_sim/contacts", json={
            "email": "gr.e2e@example.com", "name": "Gr Person"})
        assert subscribed.status_code == 201, subscribed.text
        contact_id = subscribed.json()["contactId"]

        salesforce_attempts = await settled(client, servers.salesforce)
        getresponse_attempts = await settled(client, servers.getresponse)

    assert {a["kind"] for a in salesforce_attempts if a["acknowledged"]} == {"outbound", "cdc"}
    assert all(a["acknowledged"] for a in salesforce_attempts), salesforce_attempts
    assert [(a["kind"], a["status"], a["acknowledged"]) for a in getresponse_attempts] == [
        ("contact_added", 200, True)]

    topics = Topics.from_settings(settings)
    salesforce = by_transport(await published(settings, topics.salesforce_changes))
    outbound = [m for m in salesforce["outbound_message"] if m.key == lead_id]
    assert outbound and all(m.event.kind == "changed" for m in outbound)
    assert outbound[-1].event.fields["Email"] == "zoe.e2e@example.com"
    assert outbound[-1].event.fields["LastName"] == "Łukasz"
    assert outbound[-1].event.connection_id == servers.connected.salesforce_connection_id
    cdc = [m for m in salesforce["change_data_capture"] if m.key == lead_id]
    assert [m.event.kind for m in cdc] == ["created", "updated"]
    assert cdc[0].event.fields["FirstName"] == "Zoë"
    assert cdc[1].event.fields["Phone"] == "+48600100200"
    assert "Phone" in (cdc[1].event.changed_fields or [])

    [webhook] = await published(settings, topics.getresponse_changes)
    assert webhook.key == contact_id
    assert webhook.event.kind == "subscribed"
    assert webhook.event.email == "gr.e2e@example.com"
    assert webhook.event.connection_id == servers.connected.getresponse_connection_id
    assert webhook.headers["event_id"].startswith("gr-webhook:")


async def test_merged_cdc_events_gaps_deletes_and_batched_webhooks_arrive_as_the_simulators_send_them(
    servers: Servers, settings: Settings
) -> None:
    sf, gr = servers.salesforce, servers.getresponse
    async with httpx.AsyncClient(timeout=10) as client:
        leads = [(await client.post(f"{sf}/_sim/records/Lead", json={
            "LastName": f"Mass{i}", "Company": "Acme", "Email": f"mass{i}@example.com"})).json()["id"] for i in range(2)]
        merged = await client.post(f"{sf}/_sim/records/Lead/mass-update", json={"ids": leads, "values": {"Status": "Working"}})
        assert merged.status_code == 200, merged.text
        assert (await client.delete(f"{sf}/_sim/records/Lead/{leads[0]}")).status_code == 200
        assert (await client.post(f"{sf}/_sim/records/Lead/{leads[0]}/undelete")).status_code == 200
        gap = await client.post(f"{sf}/_sim/cdc/gap", json={"entity": "Contact", "changeType": "GAP_OVERFLOW"})
        assert gap.status_code == 200, gap.text
        batching = await client.post(f"{gr}/_sim/config", json={"webhook_batching": True, "webhook_batch_window_ms": 200})
        assert batching.status_code == 200, batching.text
        contacts = [(await client.post(f"{gr}/_sim/contacts", json={"email": f"batch{i}@example.com"})).json()["contactId"]
                    for i in range(2)]

        salesforce_attempts = await settled(client, sf)
        getresponse_attempts = await settled(client, gr)

    assert all(a["acknowledged"] for a in salesforce_attempts + getresponse_attempts)
    assert len(getresponse_attempts) == 1, "both subscriptions travel in one batched request"

    topics = Topics.from_settings(settings)
    cdc = by_transport(await published(settings, topics.salesforce_changes))["change_data_capture"]
    kinds = {(m.key, m.event.kind) for m in cdc}
    assert {(lead, "updated") for lead in leads} <= kinds
    assert {(leads[0], "deleted"), (leads[0], "undeleted")} <= kinds
    mass = [m for m in cdc if m.event.kind == "updated" and m.event.fields.get("Status") == "Working"]
    assert sorted(m.key for m in mass) == sorted(leads)
    assert len({m.event.event_id for m in mass}) == 2, "one event per record, each with its own id"
    [overflow] = [m for m in cdc if m.event.kind == "reread"]
    assert (overflow.key, overflow.event.object_type, overflow.event.detail["reread"]) == (
        "000000000000000AAA", "Contact", "entity")

    webhooks = await published(settings, topics.getresponse_changes)
    assert sorted(m.key for m in webhooks) == sorted(contacts)
    assert {m.event.kind for m in webhooks} == {"subscribed"}
    assert len({m.event.event_id for m in webhooks}) == 2
