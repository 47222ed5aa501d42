"""The connection behind each endpoint: none configured is a 503 (deliver again later), and the
secrets come from a short in-process cache rather than from Postgres on every request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from app.crypto import SecretBox
from app.db.connections import SALESFORCE
from app.db.migrate import upgrade
from app.db.session import create_engine, session_factory
from app.inbound.secrets import InboundSecretsCache
from app.settings import Settings
from tests.integration.inbound.harness import Api, connect, published, running_api
from tests.unit.inbound.payloads import (
    cdc_event,
    json_body,
    new_id,
    notification,
    outbound_envelope,
    sign,
    webhook_event,
)


@pytest.fixture
def empty_database_url(create_database: Callable[[], str]) -> str:
    url = create_database()
    upgrade(url)
    return url


@pytest.fixture
async def api_without_connections(settings: Settings, empty_database_url: str) -> AsyncIterator[Api]:
    async with running_api(settings.model_copy(update={"database_url": SecretStr(empty_database_url)})) as running:
        yield running


async def test_without_connections_every_endpoint_answers_503_and_publishes_nothing(
    api_without_connections: Api,
) -> None:
    api = api_without_connections
    soap = await api.client.post(
        "/v1/salesforce/outbound-messages", params={"key": "k"},
        content=outbound_envelope([notification(new_id("00Q"), {})]), headers={"Content-Type": "text/xml"})
    raw = json_body(cdc_event("Lead", "DELETE", [new_id("00Q")]))
    cdc = await api.client.post("/v1/salesforce/change-events", content=raw,
                                headers={"Content-Type": "application/json", "X-Sfgr-Signature": sign("s", raw)})
    webhook = await api.client.post("/v1/getresponse/webhooks", params={"secret": "s"},
                                    content=json_body(webhook_event("contact_added")),
                                    headers={"Content-Type": "application/json"})

    assert (soap.status_code, cdc.status_code, webhook.status_code) == (503, 503, 503)
    assert b"<faultcode>soapenv:Server</faultcode>" in soap.content
    assert b"no Salesforce connection with an Outbound Message key is configured" in soap.content
    assert b"<Ack>" not in soap.content
    assert "no Salesforce connection" in cdc.json()["message"]
    assert webhook.json()["status"] == "ERROR"
    assert "no GetResponse connection" in webhook.json()["message"]
    assert await published(api.settings, api.topics.salesforce_changes) == []
    assert await published(api.settings, api.topics.getresponse_changes) == []


async def test_the_cache_reads_postgres_once_per_ttl(settings: Settings) -> None:
    connected = await connect(settings)
    engine = create_engine(settings)
    now = [1000.0]
    reads = [0]
    sessions = session_factory(engine)

    def counting_sessions() -> object:
        reads[0] += 1
        return sessions()

    cache = InboundSecretsCache(counting_sessions, SecretBox(settings), ttl=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    try:
        first = await cache.of_kind(SALESFORCE)
        assert connected.org_id in {c.external_id for c in first}
        now[0] += 4.9
        assert await cache.of_kind(SALESFORCE) is first
        assert reads[0] == 1
        newer = await connect(settings)
        now[0] += 0.2
        assert newer.org_id in {c.external_id for c in await cache.of_kind(SALESFORCE)}
        assert reads[0] == 2
    finally:
        await engine.dispose()
