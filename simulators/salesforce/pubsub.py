"""The Pub/Sub API (`eventbus.v1.PubSub`) over plaintext gRPC on loopback, faithful to
api-contracts A5: GetTopic, GetSchema and Subscribe for Change Data Capture channels.

- Every call needs the metadata `accesstoken` (a live OAuth session of the org), `instanceurl`
  and `tenantid` (the org id): missing ones are UNAUTHENTICATED `service.auth.headers.invalid`,
  a bad or expired token `service.auth.error`, also in the middle of a stream.
- Channels: `/data/ChangeEvents` (every selected entity) and `/data/<Object>ChangeEvent`; an
  unknown one is NOT_FOUND `topic.not.found`, an object not selected for CDC PERMISSION_DENIED
  (`subscription.topic.cannot.subscribe` to Subscribe, `topic.meta.permission` to GetTopic).
- A later FetchRequest may carry a new access token in `auth_refresh`; an invalid one is
  UNAUTHENTICATED `service.auth.refresh.invalid`.
- Subscribe is pull-based: credit from `num_requested` (<= 0 is INVALID_ARGUMENT, more than 100
  counts as 100), reported in each response's `pending_num_requested`; only the first request's
  topic and replay position count, a later request naming another topic is `topic.mismatch`.
  While credit is open and no event is available, an empty response carrying `latest_replay_id`
  comes every `pubsub_keepalive_s`.
- Replay: LATEST, EARLIEST (the oldest event within 72 h on the simulator's clock) or CUSTOM with
  an opaque replay id; CUSTOM without one is `replayid.validation.failed`, an unknown or expired
  one `replayid.corrupted`.
- Faults (control API): every open stream dropped (UNAVAILABLE `service.unavailable`), the daily
  allocation spent (RESOURCE_EXHAUSTED `subscription.limit.exceeded`), too many clients (new
  streams RESOURCE_EXHAUSTED `concurrent.client.limit.exceeded`).

Each error ends the stream with its gRPC status, the trailer `error-code:
sfdc.platform.eventbus.grpc.<suffix>` and a message holding an `rpcId`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc

from simulators.salesforce import pubsub_avro, schema
from simulators.salesforce.eventbus import pubsub_api_pb2 as pb
from simulators.salesforce.eventbus import pubsub_api_pb2_grpc as pb_grpc
from simulators.salesforce.state import Simulator

MAX_CREDIT = 100
CANNOT_SUBSCRIBE = "subscription.topic.cannot.subscribe"
ALL_CHANGES = "/data/ChangeEvents"


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, suffix: str, message: str) -> None:
        super().__init__(message)
        self.code, self.suffix, self.message = code, suffix, message


async def _abort(context: grpc.aio.ServicerContext, refused: _Refused) -> NoReturn:
    rpc_id = str(uuid.uuid4())
    context.set_trailing_metadata((("error-code", f"sfdc.platform.eventbus.grpc.{refused.suffix}"),))
    await context.abort(refused.code, f"{refused.message} rpcId: {rpc_id}")
    raise AssertionError("abort returns only by raising")


class PubSubServicer(pb_grpc.PubSubServicer):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        token, instance, tenant = (metadata.get(k) for k in ("accesstoken", "instanceurl", "tenantid"))
        if not token or not instance or not tenant:
            raise _Refused(
                grpc.StatusCode.UNAUTHENTICATED, "service.auth.headers.invalid",
                "accesstoken, instanceurl and tenantid metadata are required",
            )
        if tenant != self.sim.config.org_id:
            raise _Refused(grpc.StatusCode.UNAUTHENTICATED, "service.auth.error", "tenantid is not this org")
        self._check_token(str(token))

    def _check_token(self, token: str) -> None:
        if self.sim.sessions.validate(token, self.sim.config.session_timeout_s) is None:
            expired = "the access token is invalid or expired"
            raise _Refused(grpc.StatusCode.UNAUTHENTICATED, "service.auth.error", expired)

    def _entities(self, topic: str, *, refused: str = CANNOT_SUBSCRIBE) -> frozenset[str]:
        selected = self.sim.config.cdc_entities
        if topic == ALL_CHANGES:
            return frozenset(selected)
        name = topic.removeprefix("/data/").removesuffix("ChangeEvent")
        sobject = schema.SOBJECTS.get(name)
        if not topic.startswith("/data/") or not topic.endswith("ChangeEvent") or sobject is None:
            raise _Refused(grpc.StatusCode.NOT_FOUND, "topic.not.found", f"topic {topic!r} does not exist")
        if sobject.name not in selected:
            not_selected = f"{sobject.name} is not selected for Change Data Capture"
            raise _Refused(grpc.StatusCode.PERMISSION_DENIED, refused, not_selected)
        return frozenset({sobject.name})

    async def GetTopic(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            self._authenticate(context)
            entities = self._entities(request.topic_name, refused="topic.meta.permission")
        except _Refused as refused:
            await _abort(context, refused)
        single = next(iter(entities)) if len(entities) == 1 and request.topic_name != ALL_CHANGES else None
        return pb.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=self.sim.config.org_id,
            can_publish=False,
            can_subscribe=True,
            schema_id=pubsub_avro.schema_id(single) if single else "",
            rpc_id=str(uuid.uuid4()),
        )

    async def GetSchema(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            self._authenticate(context)
        except _Refused as refused:
            await _abort(context, refused)
        for entity in schema.SOBJECTS:
            if pubsub_avro.schema_id(entity) == request.schema_id:
                return pb.SchemaInfo(
                    schema_json=pubsub_avro.schema_json(entity), schema_id=request.schema_id,
                    rpc_id=str(uuid.uuid4()),
                )
        await _abort(context, _Refused(grpc.StatusCode.NOT_FOUND, "schema.not.found", "no such schema"))

    async def Subscribe(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        stream = _Stream(self, context)
        try:
            async for response in stream.run(request_iterator):
                yield response
        except _Refused as refused:
            await _abort(context, refused)


class _Stream:
    def __init__(self, servicer: PubSubServicer, context: grpc.aio.ServicerContext) -> None:
        self.servicer = servicer
        self.sim = servicer.sim
        self.context = context
        self.credit = 0
        self.topic = ""
        self.failure: _Refused | None = None
        self.ended = False
        self.token = ""

    async def run(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        self.servicer._authenticate(self.context)
        if self.sim.pubsub_faults.too_many_clients:
            raise _Refused(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "concurrent.client.limit.exceeded",
                "too many concurrent clients for this org",
            )
        first = await anext(requests, None)
        if first is None:
            return
        self.token = str(dict(self.context.invocation_metadata() or ()).get("accesstoken", ""))
        entities = self.servicer._entities(first.topic_name)
        self.topic = first.topic_name
        position = self._start(first)
        self._add_credit(first.num_requested)
        drops = self.sim.pubsub_faults.drops
        log = self.sim.event_log
        waiter = log.waiter()
        reader = asyncio.create_task(self._read(requests, waiter))
        try:
            while True:
                waiter.clear()
                if self.failure is not None:
                    raise self.failure
                if self.ended:
                    return
                self._check_faults(drops)
                self.servicer._check_token(self.token)
                if self.credit > 0:
                    found = log.after(position, entities, self.credit)
                    if found:
                        position = found[-1].counter
                        self.credit -= len(found)
                        yield pb.FetchResponse(
                            events=[self._consumer_event(e) for e in found],
                            latest_replay_id=found[-1].replay_id,
                            rpc_id=str(uuid.uuid4()),
                            pending_num_requested=self.credit,
                        )
                        continue
                try:
                    await asyncio.wait_for(waiter.wait(), self.sim.config.pubsub_keepalive_s)
                except TimeoutError:
                    # An event logged as the wait timed out goes out first: a keepalive's
                    # latest_replay_id must never pass an event this stream still owes.
                    if self.credit > 0 and not log.after(position, entities, 1):
                        yield pb.FetchResponse(
                            latest_replay_id=log.latest_replay_id(), rpc_id=str(uuid.uuid4()),
                            pending_num_requested=self.credit,
                        )
        finally:
            log.forget(waiter)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    def _start(self, first: Any) -> int:
        log = self.sim.event_log
        if first.replay_preset == pb.CUSTOM:
            if not first.replay_id:
                raise _Refused(
                    grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.replayid.validation.failed",
                    "a CUSTOM replay preset needs a replay id",
                )
            position = log.position_of(bytes(first.replay_id))
            if position is None:
                raise _Refused(
                    grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.replayid.corrupted",
                    "the replay id is unknown or outside the 72 h retention window",
                )
            return position
        if first.replay_preset == pb.EARLIEST:
            return log.earliest_counter()
        return log.latest_counter()

    def _add_credit(self, requested: int) -> None:
        if requested <= 0:
            raise _Refused(
                grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.requested.events.invalid",
                "num_requested must be above 0",
            )
        self.credit = min(MAX_CREDIT, self.credit + requested)

    def _check_faults(self, drops: int) -> None:
        faults = self.sim.pubsub_faults
        if faults.allocation_exhausted:
            raise _Refused(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "subscription.limit.exceeded",
                "the org's daily event delivery allocation is spent",
            )
        if faults.drops != drops:
            raise _Refused(grpc.StatusCode.UNAVAILABLE, "service.unavailable", "the service is unavailable")

    async def _read(self, requests: AsyncIterator[Any], waiter: asyncio.Event) -> None:
        try:
            async for request in requests:
                if request.topic_name and request.topic_name != self.topic:
                    raise _Refused(
                        grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.topic.mismatch",
                        f"this stream subscribes to {self.topic}, not {request.topic_name}",
                    )
                if request.auth_refresh:
                    # A new access token for the open stream (A5: FetchRequest.auth_refresh).
                    timeout = self.sim.config.session_timeout_s
                    if self.sim.sessions.validate(request.auth_refresh, timeout) is None:
                        raise _Refused(
                            grpc.StatusCode.UNAUTHENTICATED, "service.auth.refresh.invalid",
                            "auth_refresh does not hold a valid access token",
                        )
                    self.token = request.auth_refresh
                self._add_credit(request.num_requested)
                waiter.set()
        except _Refused as refused:
            self.failure = refused
        self.ended = self.failure is None
        waiter.set()

    def _consumer_event(self, event: Any) -> Any:
        entity = event.header["entityName"]
        return pb.ConsumerEvent(
            event=pb.ProducerEvent(
                id=str(uuid.uuid5(uuid.NAMESPACE_OID, event.replay_id.hex())),
                schema_id=pubsub_avro.schema_id(entity),
                payload=pubsub_avro.encode(event),
            ),
            replay_id=event.replay_id,
        )


class PubSubServer:
    """The gRPC server, on the simulator's event loop, on a loopback port (0: a free one)."""

    def __init__(self, sim: Simulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        server = grpc.aio.server()
        pb_grpc.add_PubSubServicer_to_server(PubSubServicer(self.sim), server)  # type: ignore[no-untyped-call]
        self.port = server.add_insecure_port(f"{self.host}:{self.port}")
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=0.5)
            self._server = None
