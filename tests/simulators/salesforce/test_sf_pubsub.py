"""The Pub/Sub API server as a subscriber meets it (api-contracts A5), through a client generated
from the project's own `pubsub_api.proto`, its events decoded by the subscriber's own decoder."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from app.clients.eventbus import pubsub_api_pb2 as pb
from app.clients.eventbus.pubsub_api_pb2_grpc import PubSubStub
from app.domain.events import ChangeEvent
from app.inbound.pubsub_events import AvroSchema, pubsub_change_events
from tests.fixtures.simulators import SF_ORG_ID
from tests.simulators.salesforce.harness import SalesforceSim

LEADS = "/data/LeadChangeEvent"


class Client:
    def __init__(self, sim: SalesforceSim) -> None:
        self.sim = sim
        self.address = sim.http.get("/_sim/pubsub").json()["address"]
        self.channel = grpc.insecure_channel(self.address)
        self.stub = PubSubStub(self.channel)
        self.schemas: dict[str, AvroSchema] = {}

    def metadata(self, token: str | None = None) -> list[tuple[str, str]]:
        return [("accesstoken", token or self.sim.token), ("instanceurl", self.sim.url), ("tenantid", SF_ORG_ID)]

    @contextmanager
    def stream(self, first: Any, metadata: list[tuple[str, str]] | None = None) -> Iterator[tuple[Any, queue.Queue[Any]]]:
        requests: queue.Queue[Any] = queue.Queue()
        requests.put(first)

        def send() -> Iterator[Any]:
            while (item := requests.get()) is not None:
                yield item

        call = self.stub.Subscribe(send(), metadata=metadata or self.metadata(), timeout=10)
        try:
            yield call, requests
        finally:
            requests.put(None)
            call.cancel()

    def decode(self, event: Any) -> list[ChangeEvent]:
        schema_id = event.event.schema_id
        if schema_id not in self.schemas:
            info = self.stub.GetSchema(pb.SchemaRequest(schema_id=schema_id), metadata=self.metadata())
            self.schemas[schema_id] = AvroSchema.from_json(schema_id, info.schema_json)
        parsed = pubsub_change_events(
            self.schemas[schema_id], event.event.payload, event.replay_id,
            connection_id="c", client_id="sfgr-sync", received_at=datetime.now(UTC),
        )
        return parsed.events


@pytest.fixture
def client(sim: SalesforceSim) -> Iterator[Client]:
    sim.log_in()
    sim.configure(pubsub_keepalive_s=0.2)
    made = Client(sim)
    try:
        yield made
    finally:
        made.channel.close()


def _fetch(topic: str = LEADS, n: int = 10, preset: int = pb.EARLIEST, replay_id: bytes = b"") -> Any:
    return pb.FetchRequest(topic_name=topic, replay_preset=preset, replay_id=replay_id, num_requested=n)


def _error(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        for _ in call:
            pass
    error: Any = raised.value
    trailers = dict(error.trailing_metadata() or ())
    assert "rpcId" in error.details()
    return error.code(), trailers.get("error-code", "")


def _events(call: Any, count: int) -> list[Any]:
    got: list[Any] = []
    for response in call:
        got.extend(response.events)
        if len(got) >= count:
            return got
    raise AssertionError("the stream ended early")


def test_a_lead_created_edited_deleted_and_undeleted_decodes_into_the_same_change_events(
    sim: SalesforceSim, client: Client
) -> None:
    lead_id = sim.create(FirstName="Pat", Email="pat@example.com", Phone="+48600100200")
    sim.http.patch(f"/_sim/records/Lead/{lead_id}", json={"LastName": "Kowalska", "Phone": None}).raise_for_status()
    sim.http.delete(f"/_sim/records/Lead/{lead_id}").raise_for_status()
    sim.http.post(f"/_sim/records/Lead/{lead_id}/undelete").raise_for_status()
    with client.stream(_fetch()) as (call, _):
        raw = _events(call, 4)
    assert all(len(e.replay_id) > 8 for e in raw)
    created, updated, deleted, undeleted = [client.decode(e)[0] for e in raw]
    assert [e.kind for e in (created, updated, deleted, undeleted)] == ["created", "updated", "deleted", "undeleted"]
    assert created.fields["FirstName"] == "Pat" and created.fields["Email"] == "pat@example.com"
    assert "Title" not in created.fields  # an empty field, as CometD leaves it out
    assert created.fields["CreatedDate"].endswith("Z")  # epoch ms back into the CometD form
    # Every field was present and null when unchanged: only the changed ones remain, nulls explicit.
    # (LastModifiedById changed too: the REST user created the Lead, the UI user edited it.)
    changed = {"LastName", "Phone", "LastModifiedDate", "LastModifiedById"}
    assert set(updated.fields) == changed and set(updated.changed_fields or []) == changed
    assert updated.fields["LastName"] == "Kowalska" and updated.fields["Phone"] is None
    assert deleted.fields == {} and undeleted.fields["Email"] == "pat@example.com"
    assert created.event_id.startswith("cdc:") and created.detail["pubsub_replay_id"] == raw[0].replay_id.hex()


def test_update_headers_carry_hex_bitmaps_with_nested_compound_positions(sim: SalesforceSim, client: Client) -> None:
    lead_id = sim.create()
    sim.http.patch(f"/_sim/records/Lead/{lead_id}", json={"FirstName": "Ann"}).raise_for_status()
    with client.stream(_fetch()) as (call, _):
        update = _events(call, 2)[1]
    schema = client.schemas.get(update.event.schema_id) or AvroSchema.from_json(
        update.event.schema_id,
        client.stub.GetSchema(pb.SchemaRequest(schema_id=update.event.schema_id), metadata=client.metadata()).schema_json,
    )
    header = schema.decode(update.event.payload)["ChangeEventHeader"]
    assert header["changedFields"][0].startswith("0x") and "1-0x2" in header["changedFields"]
    assert schema.decode(update.event.payload)["Email"] is None  # unchanged: null although the record has one


def test_credit_is_capped_at_100_and_keepalives_carry_the_latest_replay_id(sim: SalesforceSim, client: Client) -> None:
    sim.create()
    with client.stream(_fetch(n=150, preset=pb.LATEST)) as (call, requests):
        keepalive = next(call)
        assert list(keepalive.events) == [] and keepalive.pending_num_requested == 100
        assert keepalive.latest_replay_id
        requests.put(pb.FetchRequest(topic_name="/data/ContactChangeEvent", num_requested=1))
        assert _error(call) == (
            grpc.StatusCode.INVALID_ARGUMENT, "sfdc.platform.eventbus.grpc.subscription.fetch.topic.mismatch"
        )


def test_events_come_only_as_far_as_the_credit_goes(sim: SalesforceSim, client: Client) -> None:
    for _ in range(3):
        sim.create()
    with client.stream(_fetch(n=2)) as (call, requests):
        first = next(call)
        assert len(first.events) == 2 and first.pending_num_requested == 0
        requests.put(pb.FetchRequest(num_requested=5))
        second = next(call)
        assert len(second.events) == 1 and second.pending_num_requested == 4


@pytest.mark.parametrize(
    ("first", "code", "suffix"),
    [
        (_fetch(n=0), grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.requested.events.invalid"),
        (_fetch(preset=pb.CUSTOM), grpc.StatusCode.INVALID_ARGUMENT, "subscription.fetch.replayid.validation.failed"),
        (_fetch(preset=pb.CUSTOM, replay_id=b"\x00" * 10), grpc.StatusCode.INVALID_ARGUMENT,
         "subscription.fetch.replayid.corrupted"),
        (_fetch(topic="/data/NopeChangeEvent"), grpc.StatusCode.NOT_FOUND, "topic.not.found"),
        (_fetch(topic="/data/CampaignChangeEvent"), grpc.StatusCode.PERMISSION_DENIED,
         "subscription.topic.cannot.subscribe"),
    ],
)
def test_a_bad_first_request_ends_the_stream_with_its_status_and_error_code(
    client: Client, first: Any, code: grpc.StatusCode, suffix: str
) -> None:
    with client.stream(first) as (call, _):
        assert _error(call) == (code, f"sfdc.platform.eventbus.grpc.{suffix}")


def test_missing_metadata_and_a_bad_token_are_unauthenticated(client: Client) -> None:
    with client.stream(_fetch(), metadata=[("accesstoken", client.sim.token)]) as (call, _):
        assert _error(call) == (grpc.StatusCode.UNAUTHENTICATED, "sfdc.platform.eventbus.grpc.service.auth.headers.invalid")
    with client.stream(_fetch(), metadata=client.metadata("00D!nope")) as (call, _):
        assert _error(call) == (grpc.StatusCode.UNAUTHENTICATED, "sfdc.platform.eventbus.grpc.service.auth.error")


def test_a_replay_id_past_the_72_hour_retention_is_corrupted(sim: SalesforceSim, client: Client) -> None:
    sim.create()
    with client.stream(_fetch()) as (call, _):
        [old] = _events(call, 1)
    sim.http.post("/_sim/clock", json={"advance_seconds": 73 * 3600}).raise_for_status()
    with client.stream(_fetch(preset=pb.CUSTOM, replay_id=old.replay_id)) as (call, _):
        assert _error(call) == (grpc.StatusCode.INVALID_ARGUMENT, "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted")


@pytest.mark.parametrize(
    ("fault", "code", "suffix"),
    [
        ({"path": "/_sim/sessions/expire", "json": None}, grpc.StatusCode.UNAUTHENTICATED, "service.auth.error"),
        ({"path": "/_sim/pubsub/faults", "json": {"drop_streams": True}}, grpc.StatusCode.UNAVAILABLE,
         "service.unavailable"),
        ({"path": "/_sim/pubsub/faults", "json": {"allocation_exhausted": True}}, grpc.StatusCode.RESOURCE_EXHAUSTED,
         "subscription.limit.exceeded"),
    ],
)
def test_faults_end_an_open_stream(
    sim: SalesforceSim, client: Client, fault: dict[str, Any], code: grpc.StatusCode, suffix: str
) -> None:
    with client.stream(_fetch(preset=pb.LATEST)) as (call, _):
        next(call)  # a keepalive: the stream is open
        sim.http.post(fault["path"], json=fault["json"]).raise_for_status()
        assert _error(call) == (code, f"sfdc.platform.eventbus.grpc.{suffix}")


def test_too_many_clients_refuses_new_streams(sim: SalesforceSim, client: Client) -> None:
    sim.http.post("/_sim/pubsub/faults", json={"too_many_clients": True}).raise_for_status()
    with client.stream(_fetch()) as (call, _):
        assert _error(call) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "sfdc.platform.eventbus.grpc.concurrent.client.limit.exceeded")


def test_auth_refresh_carries_a_new_token_into_an_open_stream_and_a_bad_one_ends_it(
    sim: SalesforceSim, client: Client
) -> None:
    with client.stream(_fetch(preset=pb.LATEST)) as (call, requests):
        next(call)  # a keepalive: open
        sim.log_in()  # a second session's token
        requests.put(pb.FetchRequest(num_requested=1, auth_refresh=sim.token))
        assert next(call).pending_num_requested == 11  # still open, the credit topped up
        requests.put(pb.FetchRequest(num_requested=1, auth_refresh="00D!not-a-token"))
        assert _error(call) == (grpc.StatusCode.UNAUTHENTICATED, "sfdc.platform.eventbus.grpc.service.auth.refresh.invalid")


def test_get_topic_of_an_object_not_selected_is_permission_denied(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.stub.GetTopic(pb.TopicRequest(topic_name="/data/CampaignChangeEvent"), metadata=client.metadata())
    error: Any = raised.value
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert dict(error.trailing_metadata())["error-code"] == "sfdc.platform.eventbus.grpc.topic.meta.permission"


def test_get_topic_names_the_schema_of_a_single_entity_channel(client: Client) -> None:
    info = client.stub.GetTopic(pb.TopicRequest(topic_name=LEADS), metadata=client.metadata())
    assert info.can_subscribe and info.schema_id and info.tenant_guid == SF_ORG_ID
