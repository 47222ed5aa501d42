"""The status of one sync: its state, its people, its failures, how far behind the consumers are,
and how much of each vendor's API allowance is left.

- Counts are SQL counts (links by state; open dead letters; dead letters created in the last hour).
- The last event per direction is the latest `processed_events` row of that direction's consumer
  for this sync (their ids are `<sync id>:<event id>`).
- Consumer lag comes from Kafka: end offsets minus the group's committed offsets over the role's
  topics. It is per consumer group, so shared by every sync. Tansu (tests, demo) reports end
  offsets wrongly, so its lag figures are meaningless; Apache Kafka's are right.
- API usage: Salesforce `limits` (DailyApiRequests, one call, which itself counts); GetResponse's
  `X-RateLimit-Remaining` of the 10-minute window as the account's limiter saw it on one cheap
  call (the list of this sync).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import CONSUMER_GROUPS, ConsumerRole, Topics, client_options
from app.clients.errors import VendorError
from app.clients.vendors import Vendors
from app.control.errors import NotFound
from app.db import dead_letters, jobs, links, processed_events, syncs
from app.db.models import Sync
from app.domain.jobs import JobKind
from app.domain.states import LinkState, SyncState
from app.settings import Settings

TO_GETRESPONSE = ConsumerRole.SALESFORCE_TO_GETRESPONSE
TO_SALESFORCE = ConsumerRole.GETRESPONSE_TO_SALESFORCE
KAFKA_TIMEOUT_S = 5.0
VENDOR_TIMEOUT_S = 10.0


class LinkCounts(BaseModel):
    linked: int
    pending: int = Field(description="waiting for GetResponse to show an asynchronously created contact")
    deleted: int


class DirectionStatus(BaseModel):
    consumer_group: str
    last_event_at: datetime | None = Field(description="when this sync last applied an event this way")
    lag: int | None = Field(
        description="messages not yet committed by the group and its retrier (all syncs); None: unknown"
    )
    lag_error: str | None = None


class SalesforceUsage(BaseModel):
    used: int | None = None
    limit: int | None = None
    remaining: int | None = None
    error: str | None = None


class GetResponseUsage(BaseModel):
    remaining_in_window: int | None = Field(None, description="X-RateLimit-Remaining of the 10-minute window")
    window_limit: int | None = None
    error: str | None = None


class SyncStatus(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "sync_id": "0f6d2f4c-8d8b-4a53-9a8e-7b1c2d3e4f50",
                    "state": "active",
                    "first_sync_running": False,
                    "links": {"linked": 1250, "pending": 3, "deleted": 17},
                    "dead_letters_open": 2,
                    "errors_last_hour": 1,
                    "salesforce_to_getresponse": {
                        "consumer_group": "sfgr.salesforce-to-getresponse",
                        "last_event_at": "2026-11-26T10:00:00Z",
                        "lag": 0,
                        "lag_error": None,
                    },
                    "getresponse_to_salesforce": {
                        "consumer_group": "sfgr.getresponse-to-salesforce",
                        "last_event_at": "2026-11-26T09:58:00Z",
                        "lag": 4,
                        "lag_error": None,
                    },
                    "salesforce_api": {"used": 5210, "limit": 100000, "remaining": 94790, "error": None},
                    "getresponse_api": {"remaining_in_window": 29874, "window_limit": 30000, "error": None},
                }
            ]
        }
    }

    sync_id: uuid.UUID
    state: SyncState
    first_sync_running: bool
    links: LinkCounts
    dead_letters_open: int
    errors_last_hour: int = Field(description="dead letters created in the last hour")
    salesforce_to_getresponse: DirectionStatus
    getresponse_to_salesforce: DirectionStatus
    salesforce_api: SalesforceUsage
    getresponse_api: GetResponseUsage


async def sync_status(
    session: AsyncSession, vendors: Vendors, settings: Settings, sync_id: uuid.UUID
) -> SyncStatus:
    sync = await syncs.sync_by_id(session, sync_id)
    if sync is None:
        raise NotFound(f"no sync {sync_id}")
    by_state = await links.link_counts_by_state(session, sync_id)
    open_letters = await dead_letters.open_dead_letters_count(session, sync)
    recent_letters = await dead_letters.recent_dead_letters_count(session, sync, within=timedelta(hours=1))
    first_sync_running = await jobs.jobs_in_progress_count(session, sync_id, JobKind.FIRST_SYNC)
    last = {
        role: await processed_events.last_processed_at(session, role, sync_id)
        for role in (TO_GETRESPONSE, TO_SALESFORCE)
    }
    (lags, sf_usage, gr_usage) = await asyncio.gather(
        _lags(settings), _salesforce_usage(vendors, sync), _getresponse_usage(vendors, sync)
    )
    return SyncStatus(
        sync_id=sync_id,
        state=sync.state,
        first_sync_running=bool(first_sync_running),
        links=LinkCounts(
            linked=by_state.get(LinkState.LINKED, 0),
            pending=by_state.get(LinkState.PENDING, 0),
            deleted=by_state.get(LinkState.DELETED, 0) + by_state.get(LinkState.REMOVING, 0),
        ),
        dead_letters_open=open_letters,
        errors_last_hour=recent_letters,
        salesforce_to_getresponse=DirectionStatus(last_event_at=last[TO_GETRESPONSE], **lags[TO_GETRESPONSE]),
        getresponse_to_salesforce=DirectionStatus(last_event_at=last[TO_SALESFORCE], **lags[TO_SALESFORCE]),
        salesforce_api=sf_usage,
        getresponse_api=gr_usage,
    )


async def _lags(settings: Settings) -> dict[str, dict[str, Any]]:
    """Per direction: what its live group and its retrier have not yet committed, together."""
    topics = Topics.from_settings(settings)
    found: dict[str, dict[str, Any]] = {}
    for role_name in (TO_GETRESPONSE, TO_SALESFORCE):
        consumers = CONSUMER_GROUPS[role_name]
        group = consumers.group_id(settings)
        try:
            lag = await asyncio.wait_for(
                _group_lag(settings, group, consumers.topics(topics)), KAFKA_TIMEOUT_S
            )
            if consumers.retry_topic is not None:
                lag += await asyncio.wait_for(
                    _group_lag(settings, consumers.retry_group_id(settings), [consumers.retry_topic(topics)]),
                    KAFKA_TIMEOUT_S,
                )
            found[role_name] = {"consumer_group": group, "lag": lag}
        except Exception as exc:  # any broker trouble: the rest of the status is still worth showing
            error = f"{type(exc).__name__}: {exc}"
            found[role_name] = {"consumer_group": group, "lag": None, "lag_error": error}
    return found


async def _group_lag(settings: Settings, group: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await consumer.start()
    try:
        known = await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            if topic in known
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        await admin.start()
        # Named partitions, not "all of the group's": Tansu answers the latter with a response
        # aiokafka cannot decode, and these are the only partitions that matter anyway.
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await consumer.stop()
        await admin.close()
    lag = 0
    for tp in partitions:
        done = committed.get(tp)
        # A partition the group never committed is read from the earliest offset (the runner's
        # auto_offset_reset), so all of it is still to do.
        position = done.offset if done is not None and done.offset >= 0 else starts[tp]
        lag += max(0, ends[tp] - position)
    return lag


async def _salesforce_usage(vendors: Vendors, sync: Sync) -> SalesforceUsage:
    try:
        client = await vendors.salesforce(sync.salesforce_connection_id)
        limits = await asyncio.wait_for(client.limits(), VENDOR_TIMEOUT_S)
    except (VendorError, TimeoutError) as exc:
        return SalesforceUsage(error=str(exc) or type(exc).__name__)
    daily = limits.get("DailyApiRequests") or {}
    limit, remaining = daily.get("Max"), daily.get("Remaining")
    if not isinstance(limit, int) or not isinstance(remaining, int):
        return SalesforceUsage(error="limits answered without DailyApiRequests")
    return SalesforceUsage(used=limit - remaining, limit=limit, remaining=remaining)


async def _getresponse_usage(vendors: Vendors, sync: Sync) -> GetResponseUsage:
    try:
        client = await vendors.getresponse(sync.getresponse_connection_id)
        await asyncio.wait_for(client.campaign(sync.campaign_id), VENDOR_TIMEOUT_S)
    except (VendorError, TimeoutError) as exc:
        return GetResponseUsage(error=str(exc) or type(exc).__name__)
    limiter = client.limiter
    # The limiter keeps the vendor's X-RateLimit-Remaining of the current frame but does not
    # publish it; read it rather than parse the headers a second time.
    return GetResponseUsage(
        remaining_in_window=limiter._frame.remaining, window_limit=limiter.limits.per_window
    )
