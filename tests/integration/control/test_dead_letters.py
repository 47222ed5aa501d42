"""Dead letters through the API: listed newest first and by sync, read with their event, replayed
to the topic they came from (read back from the real broker), or discarded; each only once."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from app.bus import Topics
from app.domain.events import ChangeEvent, Kind, Transport
from app.domain.sides import Side
from app.settings import Settings
from tests.integration.control.harness import Api, StoredSync, sql, stored_sync


def change_event(source: Side, record_id: str, **extra: Any) -> ChangeEvent:
    return ChangeEvent(
        event_id=f"ev-{uuid.uuid4().hex[:8]}",
        source=source,
        transport=Transport.CHANGE_DATA_CAPTURE if source is Side.SALESFORCE else Transport.WEBHOOK,
        kind=Kind.UPDATED,
        object_type="Lead" if source is Side.SALESFORCE else "contact",
        record_id=record_id,
        fields={"Phone": "+48600100200"},
        **extra,
    )


async def add_letter(api: Api, event: dict[str, Any], sync_id: uuid.UUID | None = None) -> int:
    [row] = await sql(
        api.settings,
        "INSERT INTO dead_letters (sync_id, topic, partition, \"offset\", key, event_id, event, reason, "
        "error_class, attempts) VALUES ($1, 'sfgr.x', 0, 7, $2, $3, $4, 'getresponse 400 1000: invalid', "
        "'Permanent', 1) RETURNING id",
        sync_id, event.get("record_id"), event.get("event_id"), json.dumps(event),
    )
    letter_id: int = row["id"]
    return letter_id


async def read_back(settings: Settings, topic: str, *, within: float = 15.0) -> list[Any]:
    """Every message on the test's own topic: it has nothing else on it, so the first one found is it
    (Tansu's end offsets cannot tell when a topic is read to its end)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            records = [r for rs in batches.values() for r in rs]
            if records:
                return records
    finally:
        await consumer.stop()
    raise AssertionError(f"nothing on {topic} within {within} s")


@pytest.fixture
async def sync(api: Api) -> StoredSync:
    return await stored_sync(api.settings)


async def test_list_is_newest_first_by_sync_and_paged(api: Api, sync: StoredSync) -> None:
    mine_by_id = await add_letter(api, {"raw": "not json"}, sync.id)
    mine_by_connection = await add_letter(
        api, change_event(Side.SALESFORCE, "00Q1", connection_id=str(sync.salesforce_connection_id)).model_dump(mode="json")
    )
    mine_by_list = await add_letter(
        api, change_event(Side.GETRESPONSE, "c1", campaign_id=sync.campaign_id).model_dump(mode="json")
    )
    others = await add_letter(api, change_event(Side.GETRESPONSE, "c2", campaign_id="elsewhere").model_dump(mode="json"))

    everything = (await api.get("/v1/dead-letters")).json()
    assert [i["id"] for i in everything["items"]] == [others, mine_by_list, mine_by_connection, mine_by_id]
    assert everything["next_before_id"] is None
    ours = (await api.get(f"/v1/dead-letters?sync_id={sync.id}")).json()
    assert [i["id"] for i in ours["items"]] == [mine_by_list, mine_by_connection, mine_by_id]

    first = (await api.get(f"/v1/dead-letters?sync_id={sync.id}&limit=2")).json()
    assert [i["id"] for i in first["items"]] == [mine_by_list, mine_by_connection]
    rest = (await api.get(f"/v1/dead-letters?sync_id={sync.id}&limit=2&before_id={first['next_before_id']}")).json()
    assert [i["id"] for i in rest["items"]] == [mine_by_id] and rest["next_before_id"] is None
    assert rest["items"][0]["replayable"] is False and rest["items"][0]["source"] is None


async def test_one_dead_letter_is_read_with_its_event(api: Api) -> None:
    event = change_event(Side.SALESFORCE, "00Q2").model_dump(mode="json")
    letter_id = await add_letter(api, event)
    body = (await api.get(f"/v1/dead-letters/{letter_id}")).json()
    assert body["event"] == event
    assert body["status"] == "open" and body["replayable"] is True and body["source"] == "salesforce"
    assert (await api.get("/v1/dead-letters/999999")).status_code == 404


@pytest.mark.parametrize("source", [Side.SALESFORCE, Side.GETRESPONSE])
async def test_replay_publishes_the_same_event_to_its_source_topic_once(api: Api, source: Side) -> None:
    event = change_event(source, "00Q5g00000AbCdEAAA" if source is Side.SALESFORCE else "pVyRW")
    letter_id = await add_letter(api, event.model_dump(mode="json"))

    response = await api.post(f"/v1/dead-letters/{letter_id}/replay")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "replayed" and response.json()["replayed_at"]

    topics = Topics.from_settings(api.settings)
    topic = topics.salesforce_changes if source is Side.SALESFORCE else topics.getresponse_changes
    [record] = await read_back(api.settings, topic)
    assert record.key.decode() == event.record_id
    assert ChangeEvent.from_bytes(record.value) == event
    assert dict(record.headers)["event_id"] == event.event_id.encode()
    assert dict(record.headers)["sfgr-replayed-from-dead-letter"] == str(letter_id).encode()

    again = await api.post(f"/v1/dead-letters/{letter_id}/replay")
    assert again.status_code == 409
    assert again.json()["detail"].startswith(f"dead letter {letter_id} was already replayed at ")


async def test_a_malformed_message_cannot_be_replayed(api: Api) -> None:
    letter_id = await add_letter(api, {"raw": "{not json"})
    response = await api.post(f"/v1/dead-letters/{letter_id}/replay")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"dead letter {letter_id} is a malformed message, not a ChangeEvent: there is nothing to replay; discard it"
    )


async def test_discard_marks_it_and_closes_it_for_good(api: Api) -> None:
    letter_id = await add_letter(api, change_event(Side.SALESFORCE, "00Q3").model_dump(mode="json"))
    response = await api.delete(f"/v1/dead-letters/{letter_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "discarded"
    assert (await api.delete(f"/v1/dead-letters/{letter_id}")).status_code == 409
    assert (await api.post(f"/v1/dead-letters/{letter_id}/replay")).status_code == 409
    assert (await api.get("/v1/dead-letters")).json()["items"] == []
    assert [i["id"] for i in (await api.get("/v1/dead-letters?status=discarded")).json()["items"]] == [letter_id]
    assert (await api.delete("/v1/dead-letters/999999")).status_code == 404
