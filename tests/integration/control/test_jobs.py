"""Starting first syncs and resyncs through the control API: 202 with the queued job and its
request on Kafka at once (the api's outbox relay, woken by the commit); 409 while a job of that
kind of the sync is queued or running; and with Kafka down still 202: the job stays queued, its
request unsent, until Kafka is back (no worker runs here, so every job stays queued)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.bus import Topics
from app.domain.jobs import JobRequest
from app.settings import Settings
from devstack.broker import TansuBroker
from tests.fixtures.polling import arrives
from tests.fixtures.topics import messages_on
from tests.integration.control.harness import Api, running_api, sql, stored_sync

WHOLE_SYNC: dict[str, Any] = {"whole_sync": True}


async def _outbox(settings: Settings) -> list[tuple[str, bool]]:
    """(job id, sent) of every row of the test's outbox, oldest first."""
    rows = await sql(settings, "SELECT value, sent_at FROM outbox ORDER BY id")
    return [(JobRequest.model_validate_json(row["value"]).job_id, row["sent_at"] is not None) for row in rows]


async def _requested(settings: Settings) -> list[str]:
    found = await messages_on(settings, Topics.from_settings(settings).resync_requests)
    return [JobRequest.model_validate_json(m.value).job_id for m in found]


async def test_a_first_sync_is_202_with_the_queued_job_and_its_request_is_sent_within_a_second(api: Api) -> None:
    sync = await stored_sync(api.settings)
    response = await api.post(f"/v1/syncs/{sync.id}/first-sync")
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["sync_id"], job["kind"], job["state"], job["dry_run"]) == (str(sync.id), "first_sync", "queued", False)
    assert response.headers["Location"] == f"/v1/syncs/{sync.id}/first-sync/{job['job_id']}"

    async def sent() -> bool:
        return await _outbox(api.settings) == [(job["job_id"], True)]

    await arrives(sent, within=1.0, what="the request sent")
    assert await _requested(api.settings) == [job["job_id"]]


async def test_a_second_job_of_a_kind_is_409_while_one_is_queued_but_a_dry_run_is_not(api: Api) -> None:
    sync = await stored_sync(api.settings)
    first = await api.post(f"/v1/syncs/{sync.id}/first-sync")
    assert first.status_code == 202, first.text
    again = await api.post(f"/v1/syncs/{sync.id}/first-sync")
    assert again.status_code == 409
    assert again.json()["detail"] == f"a first sync of sync {sync.id} is already queued or running"
    dry = await api.post(f"/v1/syncs/{sync.id}/first-sync", params={"dry_run": "true"})
    assert dry.status_code == 202, dry.text

    resync = await api.post("/v1/resync", json={"sync_id": str(sync.id), "scope": WHOLE_SYNC})
    assert resync.status_code == 202, resync.text  # another kind
    assert resync.headers["Location"] == f"/v1/resync/{resync.json()['job_id']}"
    refused = await api.post("/v1/resync", json={"sync_id": str(sync.id), "scope": WHOLE_SYNC})
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"a resync of sync {sync.id} is already queued or running"

    # A request for each job started; the refused ones left nothing behind.
    started = sorted(r.json()["job_id"] for r in (first, dry, resync))
    assert sorted(job_id for job_id, _ in await _outbox(api.settings)) == started


async def test_with_kafka_down_a_resync_is_202_and_stays_queued_until_kafka_is_back(
    control_settings: Settings, own_broker: TansuBroker
) -> None:
    settings = control_settings.model_copy(update={
        "kafka_bootstrap_servers": own_broker.bootstrap, "kafka_request_timeout_ms": 1000})
    sync = await stored_sync(settings)
    async with running_api(settings) as api:
        await asyncio.to_thread(own_broker.stop)
        # Before the outbox this was a 503 and a failed job; now the job waits for Kafka.
        response = await api.post("/v1/resync", json={"sync_id": str(sync.id), "scope": WHOLE_SYNC})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        async def tried_twice() -> bool:
            return api.relay.failed_passes >= 2

        await arrives(tried_twice, within=20, what="two failed relay passes")
        assert await _outbox(settings) == [(job_id, False)]
        assert (await api.get(f"/v1/resync/{job_id}")).json()["state"] == "queued"
        refused = await api.post("/v1/resync", json={"sync_id": str(sync.id), "scope": WHOLE_SYNC})
        assert refused.status_code == 409  # the queued job still counts

        await asyncio.to_thread(own_broker.start)

        async def sent() -> bool:
            return await _outbox(settings) == [(job_id, True)]

        await arrives(sent, within=30, what="the request sent once Kafka is back")
        assert await _requested(settings) == [job_id]
        assert (await api.get(f"/v1/resync/{job_id}")).json()["state"] == "queued"
