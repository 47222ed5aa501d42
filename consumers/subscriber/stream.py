"""One Pub/Sub API stream: one channel of one org, from its stored replay id to Kafka
(api-contracts A5).

- Authentication: the connection's access token (any grant it was connected with, through the
  same client the REST calls use) with `instanceurl` and `tenantid` in the call's metadata. An
  `UNAUTHENTICATED` end refreshes the token and subscribes again from the stored replay id.
- Flow control: `salesforce_pubsub_batch` credit (at most 100) is asked for first and topped up
  whenever a response reports half of it or less still open.
- Payloads: Avro decoded against the schema named by the event (fetched once per id), then the
  one set of CDC rules every transport shares (app/inbound/change_events.py); our own echoes
  (`changeOrigin` names our client id) are counted and dropped; CampaignMember events become
  rereads of their members (app/inbound/campaign_members.py).
- **A replay id is stored only once Kafka acknowledged its event**: each response's events are
  published, then its last replay id is stored with the newest commit time. A keepalive's
  `latest_replay_id` is stored too (it passes no event this stream still owes).
- A stored replay id refused as expired or unknown (`replayid.corrupted`) is logged as an error
  and counted; every Lead/Contact changed since the last processed commit is published as one
  `reread` per object (`detail.since`), and only then is the replay id dropped and the stream
  started again as `salesforce_pubsub_expired_replay` says: nothing is lost, nothing loops.
- A stream that started at LATEST (a first run) and ended before any position was stored would
  start at LATEST again and skip what was committed in between: it re-reads from when it first
  subscribed (less `UNANCHORED_MARGIN` for the clocks' skew) before it subscribes again.
- Every other error of A5's table backs off (a spent daily allocation, RESOURCE_EXHAUSTED, for
  `salesforce_pubsub_exhausted_wait_s`, saying why) and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bus import Bus, event_message
from app.clients.eventbus import pubsub_api_pb2 as pb
from app.clients.eventbus.pubsub_api_pb2_grpc import PubSubStub
from app.clients.salesforce import SalesforceClient
from app.clients.salesforce_auth import AccessToken
from app.db import pubsub_replay
from app.db.session import transaction
from app.domain.events import ChangeEvent, Kind, Source, Transport
from app.domain.sides import ObjectType
from app.inbound.campaign_members import as_member_rereads
from app.inbound.change_events import OVERFLOW_RECORD_ID
from app.inbound.errors import InboundRejected
from app.inbound.pubsub_events import AvroSchema, pubsub_change_events
from app.logs import get_logger
from app.metrics import PUBSUB_ERRORS, PUBSUB_EVENTS, PUBSUB_REPLAY_EXPIRED, subscriber_heard
from app.settings import Settings

log = get_logger(__name__)

ERROR_PREFIX = "sfdc.platform.eventbus.grpc."
CORRUPTED = "subscription.fetch.replayid.corrupted"
UNANCHORED_MARGIN = timedelta(seconds=60)


@dataclass
class OrgContext:
    """What every stream of one org shares: the connection, its REST client (for tokens), the gRPC
    channel, the schema cache and the health callback."""

    settings: Settings
    connection_id: uuid.UUID
    org_id: str
    salesforce: Callable[[], Any]  # async () -> SalesforceClient, always the current one
    channel: grpc.aio.Channel
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    heard: Callable[[], None]
    schemas: dict[str, AvroSchema] = field(default_factory=dict)
    token: AccessToken | None = None

    @property
    def stub(self) -> Any:
        return PubSubStub(self.channel)  # type: ignore[no-untyped-call]

    async def access_token(self, *, refresh: bool = False) -> AccessToken:
        client: SalesforceClient = await self.salesforce()
        self.token = await client.access_token(stale=self.token if refresh else None)
        return self.token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        assert self.token is not None
        return (
            ("accesstoken", self.token.access_token),
            ("instanceurl", self.token.instance_url),
            ("tenantid", self.org_id),
        )

    async def schema(self, schema_id: str) -> AvroSchema:
        if schema_id not in self.schemas:
            info = await self.stub.GetSchema(pb.SchemaRequest(schema_id=schema_id), metadata=self.metadata())
            self.schemas[schema_id] = AvroSchema.from_json(schema_id, info.schema_json)
        return self.schemas[schema_id]


def error_code(error: grpc.aio.AioRpcError) -> str:
    """The suffix of the `error-code` trailer (`service.auth.error`), or the status name."""
    for key, value in error.trailing_metadata() or ():
        if key == "error-code" and isinstance(value, str):
            return value.removeprefix(ERROR_PREFIX)
    return str(error.code().name).lower()


def channel_objects(channel: str) -> list[ObjectType]:
    """What a gap re-read of the channel reads: its object, or Leads and Contacts for a channel
    that may carry both (`/data/ChangeEvents`, a custom `__chn` channel)."""
    name = channel.removeprefix("/data/").removesuffix("ChangeEvent")
    for object_type in ObjectType:
        if object_type.value == name:
            return [object_type]
    if name == "CampaignMember":
        return []  # memberships have no SystemModstamp query of their own; reconciliation covers them
    return list(ObjectType)


class ChannelStream:
    def __init__(self, org: OrgContext, channel: str, *, stopping: asyncio.Event) -> None:
        self.org = org
        self.settings = org.settings
        self.channel = channel
        self.stopping = stopping
        # Since when this channel streams from LATEST with no position stored yet (a first run).
        self.unanchored_since: datetime | None = None
        self.responses = 0  # of the current stream: after one, a failure starts the backoff afresh

    async def run(self) -> None:
        """Subscribe, and again after every end, until the process stops; nothing here raises."""
        failures = 0
        while not self.stopping.is_set():
            self.responses = 0
            try:
                await self.follow()
                if self.stopping.is_set():
                    return
                # The server closed the stream without an error: ask again, gently.
                failures = 1 if self.responses else failures + 1
                delay = self._backoff(failures)
                log.info("pubsub stream closed by the server; subscribing again", channel=self.channel)
            except grpc.aio.AioRpcError as error:
                failures = 1 if self.responses else failures + 1
                delay = await self._guarded(self._after_error(error, failures), failures)
            except Exception as error:  # a publish, a database write or a token request failed
                failures = 1 if self.responses else failures + 1
                delay = self._backoff(failures)
                log.warning("pubsub stream failed; subscribing again from the stored replay id",
                            channel=self.channel, error=f"{type(error).__name__}: {error}"[:300],
                            retry_in_s=delay)
            delay = max(delay, await self._guarded(self._reread_unanchored(), failures))
            await self._sleep(delay)

    async def _guarded(self, step: Coroutine[Any, Any, float | None], failures: int) -> float:
        """The step's delay; a failing step (Kafka, Postgres or the token endpoint away) is logged
        and waits out the backoff, so that one channel's stream never stops for good."""
        try:
            return await step or 0.0
        except Exception as error:
            delay = self._backoff(failures)
            log.warning("pubsub recovery step failed; trying again", channel=self.channel,
                        error=f"{type(error).__name__}: {error}"[:300], retry_in_s=delay)
            return delay

    def _backoff(self, failures: int) -> float:
        base, most = self.settings.salesforce_pubsub_retry_base_s, self.settings.salesforce_pubsub_retry_max_s
        return float(min(most, base * 2 ** max(0, failures - 1)))

    async def _after_error(self, error: grpc.aio.AioRpcError, failures: int) -> float:
        code = error_code(error)
        PUBSUB_ERRORS.labels(self.channel, code).inc()
        status = error.code()
        if status is grpc.StatusCode.UNAUTHENTICATED:
            log.info("pubsub access token refused; refreshing it", channel=self.channel, error_code=code)
            await self.org.access_token(refresh=True)
            return 0.0 if failures <= 2 else self._backoff(failures - 2)
        if code == CORRUPTED:
            await self._reread_gap()
            return 0.0
        if status is grpc.StatusCode.RESOURCE_EXHAUSTED:
            wait = (
                self.settings.salesforce_pubsub_exhausted_wait_s
                if code == "subscription.limit.exceeded"
                else self._backoff(failures)
            )
            log.warning(
                "pubsub refused the subscription: the org's daily event delivery allocation is spent"
                if code == "subscription.limit.exceeded"
                else "pubsub refused the subscription: too many streams or clients",
                channel=self.channel, error_code=code, retry_in_s=wait,
            )
            return wait
        delay = self._backoff(failures)
        level = log.warning if status is grpc.StatusCode.UNAVAILABLE else log.error
        level("pubsub stream ended", channel=self.channel, status=status.name, error_code=code,
              details=(error.details() or "")[:300], retry_in_s=delay)
        return delay

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _first_request(self) -> pb.FetchRequest:
        async with self.org.sessions() as session:
            stored = await pubsub_replay.stored_replay(session, self.org.connection_id, self.channel)
        batch = self.settings.salesforce_pubsub_batch
        if stored is not None and stored.replay_id:
            return pb.FetchRequest(
                topic_name=self.channel,
                replay_preset=pb.CUSTOM,
                replay_id=stored.replay_id,
                num_requested=batch,
            )
        start = (
            self.settings.salesforce_pubsub_start
            if stored is None
            else self.settings.salesforce_pubsub_expired_replay
        )
        preset = pb.EARLIEST if start == "earliest" else pb.LATEST
        if preset == pb.LATEST and self.unanchored_since is None:
            self.unanchored_since = datetime.now(UTC)
        return pb.FetchRequest(topic_name=self.channel, replay_preset=preset, num_requested=batch)

    async def follow(self) -> None:
        """One subscription, until it ends (an error raises) or the process stops."""
        if self.org.token is None:
            await self.org.access_token()
        first = await self._first_request()
        requests: asyncio.Queue[pb.FetchRequest] = asyncio.Queue()
        requests.put_nowait(first)

        async def send() -> AsyncIterator[pb.FetchRequest]:
            while True:
                yield await requests.get()

        call = self.org.stub.Subscribe(send(), metadata=self.org.metadata())
        log.info("pubsub subscribed", channel=self.channel, connection_id=str(self.org.connection_id),
                 preset=pb.ReplayPreset.Name(first.replay_preset))
        stop = asyncio.create_task(self.stopping.wait())
        try:
            while True:
                read = asyncio.ensure_future(call.read())
                done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    read.cancel()
                    return
                response = read.result()
                if response is grpc.aio.EOF:
                    return
                self.org.heard()
                self.responses += 1
                await self._take(response)
                batch = self.settings.salesforce_pubsub_batch
                if response.pending_num_requested <= batch // 2:
                    requests.put_nowait(pb.FetchRequest(num_requested=batch - response.pending_num_requested))
        finally:
            stop.cancel()
            call.cancel()

    async def _take(self, response: pb.FetchResponse) -> None:
        """Publishes the response's events and then, Kafka having acknowledged them, stores its
        position; a keepalive's position is stored as it comes."""
        if not response.events:
            if response.latest_replay_id:
                await self._store(bytes(response.latest_replay_id), None)
            return
        received = datetime.now(UTC)
        events: list[ChangeEvent] = []
        newest: datetime | None = None
        for consumer_event in response.events:
            found = await self._decode(consumer_event, received)
            if found:
                events.extend(found)
                stamp = max(e.source_timestamp or received for e in found)
                newest = stamp if newest is None else max(newest, stamp)
        if events:
            topic = self.org.bus.topics.salesforce_changes
            await self.org.bus.publish([event_message(topic, e) for e in events])
            log.info("pubsub events published", channel=self.channel, events=len(events),
                     event_ids=[e.event_id for e in events[:10]])
        await self._store(bytes(response.events[-1].replay_id), newest)

    async def _decode(self, consumer_event: pb.ConsumerEvent, received: datetime) -> list[ChangeEvent]:
        subscriber_heard(self.channel)
        replay_id = bytes(consumer_event.replay_id)
        try:
            schema = await self.org.schema(consumer_event.event.schema_id)
            parsed = pubsub_change_events(
                schema,
                consumer_event.event.payload,
                replay_id,
                connection_id=str(self.org.connection_id),
                client_id=self.settings.salesforce_client_id,
                received_at=received,
            )
        except (InboundRejected, ValueError) as exc:
            PUBSUB_EVENTS.labels(self.channel, "unreadable").inc()
            log.error("pubsub event cannot be read; skipped", channel=self.channel,
                      replay_id=replay_id.hex(), error=str(exc)[:300])
            return []
        if not parsed.events:
            PUBSUB_EVENTS.labels(self.channel, "echo").inc()
            return []
        PUBSUB_EVENTS.labels(self.channel, "published").inc()
        members, _ = as_member_rereads(parsed.events)
        return members

    async def _store(self, replay_id: bytes, last_commit_at: datetime | None) -> None:
        async with transaction(self.org.sessions) as session:
            await pubsub_replay.save_replay(
                session, self.org.connection_id, self.channel, replay_id, last_commit_at=last_commit_at
            )
        self.unanchored_since = None

    async def _reread_unanchored(self) -> None:
        if self.unanchored_since is None:
            return
        since = self.unanchored_since - UNANCHORED_MARGIN
        log.warning(
            "pubsub stream from LATEST ended before any position was stored; re-reading what changed "
            "since it subscribed", channel=self.channel, since=since.isoformat(),
        )
        await self._publish_rereads(since, "stream_without_position")

    async def _reread_gap(self) -> None:
        """The stored replay id is past retention (or unknown): re-read every record changed since
        the last processed commit, then drop the replay id so that the next subscribe starts anew."""
        PUBSUB_REPLAY_EXPIRED.labels(self.channel).inc()
        now = datetime.now(UTC)
        async with self.org.sessions() as session:
            stored = await pubsub_replay.stored_replay(session, self.org.connection_id, self.channel)
        since = (stored.last_commit_at or stored.heard_at) if stored is not None else now
        log.error(
            "pubsub refused the stored replay id: expired (older than the 72 h retention) or unknown; "
            "re-reading every record changed since the last processed commit",
            channel=self.channel, connection_id=str(self.org.connection_id), since=since.isoformat(),
            objects=[o.value for o in channel_objects(self.channel)],
            resubscribe=self.settings.salesforce_pubsub_expired_replay,
        )
        await self._publish_rereads(since, "replay_id_expired")
        async with transaction(self.org.sessions) as session:
            await pubsub_replay.forget_replay(session, self.org.connection_id, self.channel)

    async def _publish_rereads(self, since: datetime, reason: str) -> None:
        """One `reread` per object of the channel: every record whose SystemModstamp is at or after
        `since` goes through the consumers."""
        now = datetime.now(UTC)
        events = [
            ChangeEvent(
                event_id=f"pubsub-gap:{self.channel}:{object_type.value}:{int(since.timestamp() * 1000)}",
                source=Source.SALESFORCE,
                transport=Transport.CHANGE_DATA_CAPTURE,
                kind=Kind.REREAD,
                connection_id=str(self.org.connection_id),
                object_type=object_type.value,
                record_id=OVERFLOW_RECORD_ID,
                source_timestamp=now,
                received_at=now,
                detail={"reread": "entity", "since": since.isoformat(), "reason": reason},
            )
            for object_type in channel_objects(self.channel)
        ]
        if events:
            topic = self.org.bus.topics.salesforce_changes
            await self.org.bus.publish([event_message(topic, e) for e in events])
