"""POST /v1/getresponse/webhooks: `{"status":"OK"}` only once Kafka stored the events (api-contracts B9, C12)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.metrics import INBOUND_IGNORED
from tests.integration.inbound.harness import MAX_BODY_BYTES, Api, Connected, published
from tests.unit.inbound.payloads import json_body, webhook_event

URL = "/v1/getresponse/webhooks"
WEBHOOK_ID = "7b3c1f0e-5d4a-4e8b-9c2d-1a0b9c8d7e6f"


async def post(api: Api, connected: Connected, document: Any, *, secret: str | None = "",
               webhook_id: str | None = WEBHOOK_ID, headers: dict[str, str] | None = None,
               body: bytes | None = None) -> httpx.Response:
    params = {"secret": connected.webhook_secret if secret == "" else secret} if secret is not None else {}
    sent_headers = {"Content-Type": "application/json", "X-Request-ID": "gr-attempt-1"}
    if webhook_id is not None:
        sent_headers["X-Webhook-ID"] = webhook_id
    if isinstance(document, dict):
        sent_headers["X-Webhook-Type"] = document.get("type", "")
    return await api.client.post(URL, params=params, content=json_body(document) if body is None else body,
                                 headers=headers if headers is not None else sent_headers)


async def test_a_subscription_is_published_with_the_webhook_id_as_event_id(api: Api, connected: Connected) -> None:
    response = await post(api, connected, webhook_event(
        "contact_added", contact_id="pVyRW", campaign_id="bcd234", email="zoë@example.com", name="Zoë",
        account_id=connected.account_id))

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    [message] = await published(api.settings, api.topics.getresponse_changes)
    assert message.key == "pVyRW"
    assert message.headers["event_id"] == f"gr-webhook:{WEBHOOK_ID}"
    assert message.headers["request_id"] == response.headers["x-request-id"] == "gr-attempt-1"
    assert message.event.model_dump(mode="json", exclude={"received_at"}) == {
        "schema_version": 1, "event_id": f"gr-webhook:{WEBHOOK_ID}", "source": "getresponse",
        "transport": "webhook", "kind": "subscribed", "connection_id": connected.getresponse_connection_id,
        "sync_id": None, "object_type": "contact", "record_id": "pVyRW", "campaign_id": "bcd234",
        "email": "zoë@example.com", "fields": {"email": "zoë@example.com", "name": "Zoë"},
        "changed_fields": None, "source_timestamp": "2021-04-27T12:56:00Z", "origin": None,
        "detail": {"type": "contact_added", "account_id": connected.account_id},
    }


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [("contact_removed_link", "unsubscribed"), ("contact_removed_bounce", "removed"), ("contact_removed", "removed"),
     ("contact_custom_field_changed", "reread"), ("contact_email_changed", "reread"), ("contact_moved", "reread")],
)
async def test_each_contact_event_type_is_published_with_its_kind(
    api: Api, connected: Connected, event_type: str, kind: str
) -> None:
    response = await post(api, connected, webhook_event(event_type, account_id=connected.account_id))
    assert response.status_code == 200
    assert [m.event.kind for m in await published(api.settings, api.topics.getresponse_changes)] == [kind]


async def test_a_batch_array_is_published_one_message_per_event(api: Api, connected: Connected) -> None:
    events = [webhook_event("contact_removed_link", contact_id=f"c{i}", account_id=connected.account_id)
              for i in range(3)]
    response = await post(api, connected, events)

    assert response.status_code == 200
    messages = await published(api.settings, api.topics.getresponse_changes)
    assert sorted((m.key, m.headers["event_id"]) for m in messages) == [
        (f"c{i}", f"gr-webhook:{WEBHOOK_ID}:{i}") for i in range(3)]


async def test_a_retry_of_the_same_webhook_makes_the_same_event_id(api: Api, connected: Connected) -> None:
    event = webhook_event("contact_added", account_id=connected.account_id)
    first = await post(api, connected, event)
    retry = await post(api, connected, event)

    assert first.status_code == retry.status_code == 200
    messages = await published(api.settings, api.topics.getresponse_changes)
    assert [m.headers["event_id"] for m in messages] == [f"gr-webhook:{WEBHOOK_ID}"] * 2


async def test_unknown_and_engagement_types_are_acknowledged_counted_and_not_published(
    api: Api, connected: Connected
) -> None:
    unknown = INBOUND_IGNORED.labels("getresponse_webhooks", "unknown_type")
    engagement = INBOUND_IGNORED.labels("getresponse_webhooks", "not_a_contact_change")
    before = (unknown._value.get(), engagement._value.get())
    response = await post(api, connected, [webhook_event("contact_teleported", account_id=connected.account_id),
                                           webhook_event("contact_opened_message", account_id=connected.account_id)])

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    assert await published(api.settings, api.topics.getresponse_changes) == []
    assert (unknown._value.get(), engagement._value.get()) == (before[0] + 1, before[1] + 1)


REFUSED = [
    # (case id, request tweak, status, words)
    ("wrong-secret", {"secret": "guess"}, 401, "?secret= parameter is wrong"),
    ("missing-secret", {"secret": None}, 401, "?secret= parameter is missing"),
    ("invalid-json", {"body": b"{'type': 'contact_added'}"}, 400, "not valid JSON"),
    ("not-a-webhook", {"body": b'{"contact": {}}'}, 400, "no type"),
    ("other-account", {"document": webhook_event("contact_added", account_id="someoneElse")}, 403, "account"),
    ("form-content-type", {"headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "application/json"),
    ("oversize", {"body": b"[" + b" " * MAX_BODY_BYTES + b"]"}, 413, "larger than the limit"),
]


@pytest.mark.parametrize(("tweak", "status", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_refused_webhooks_say_why_and_nothing_reaches_kafka(
    api: Api, connected: Connected, tweak: dict[str, Any], status: int, words: str
) -> None:
    document = tweak.pop("document", webhook_event("contact_added", account_id=connected.account_id))
    response = await post(api, connected, document, **tweak)

    assert response.status_code == status
    body = response.json()
    assert body["status"] == "ERROR"
    assert words in body["message"]
    assert await published(api.settings, api.topics.getresponse_changes) == []
