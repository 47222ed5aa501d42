"""Salesforce deliveries: Outbound Messages (SOAP), Change Data Capture events through Event Relay
(EventBridge's API destination) and through a custom relay (CometD JSON, signed).

Each answers only after Kafka acknowledged every event; see `app/inbound/` for the parsing and the
sender checks, and api-contracts A1, A2 and A6 for the vendor's side.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import InboundSecretsDep, ResourcesDep
from app.db.connections import SALESFORCE
from app.inbound.authentication import (
    SIGNATURE_HEADER,
    check_org,
    check_signature_header,
    connection_for_event_relay_key,
    connection_for_outbound_key,
    connection_for_signature,
)
from app.inbound.body import JSON_MEDIA_TYPES, SOAP_MEDIA_TYPES, read_body
from app.inbound.campaign_members import as_member_rereads
from app.inbound.change_events import parse_change_events
from app.inbound.errors import InboundRejected, note_rejection, rejection_body
from app.inbound.event_relay import parse_event_relay
from app.inbound.outbound_messages import outbound_change_events, parse_outbound_message
from app.inbound.publishing import PublishContext, publish_events
from app.inbound.soap import SOAP_REPLY_MEDIA_TYPE, ack_envelope, fault_envelope
from app.logs import get_logger
from app.metrics import INBOUND_IGNORED, INBOUND_RECEIVED, count_events
from app.settings import Settings

router = APIRouter(prefix="/v1/salesforce", tags=["inbound"])
log = get_logger(__name__)

OUTBOUND_ENDPOINT = "salesforce_outbound_messages"
CHANGE_EVENTS_ENDPOINT = "salesforce_change_events"
EVENT_RELAY_ENDPOINT = "salesforce_event_relay"
# Salesforce waits 60 s per Outbound Message attempt (api-contracts A1); answer well before.
OUTBOUND_PUBLISH_LIMIT_S = 30.0
# EventBridge gives up on an answer after 5 s (api-contracts A6) and retries; the key lookup and
# the reply need the rest.
EVENT_RELAY_PUBLISH_LIMIT_S = 2.5


def _publish_budget(settings: Settings, limit: float) -> float:
    return min(settings.kafka_request_timeout_ms / 1000, limit)


def _soap_reply(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=SOAP_REPLY_MEDIA_TYPE)


@router.post(
    "/outbound-messages",
    summary="Receive a Salesforce Outbound Message and acknowledge it once Kafka stored its events",
    response_class=Response,
    responses={
        200: {"description": "SOAP notificationsResponse with Ack true", "content": {"text/xml": {}}},
        400: {"description": "SOAP fault (soapenv:Client): not an Outbound Message, or forbidden XML"},
        401: {"description": "SOAP fault: ?key= missing or wrong (checked before the body is read)"},
        403: {"description": "SOAP fault: OrganizationId is not the 18-character id of the key's org"},
        408: {"description": "SOAP fault: the body did not arrive within SFGR_BODY_READ_TIMEOUT_S"},
        413: {"description": "SOAP fault: body over the size limit"},
        415: {"description": "SOAP fault: not text/xml or application/soap+xml"},
        503: {"description": "SOAP fault (soapenv:Server), no Ack: no connection, or Kafka unavailable"},
    },
)
async def receive_outbound_message(
    request: Request,
    resources: ResourcesDep,
    secrets: InboundSecretsDep,
    key: Annotated[str | None, Query(description="the per-connection secret of the endpoint URL")] = None,
) -> Response:
    INBOUND_RECEIVED.labels(OUTBOUND_ENDPOINT).inc()
    settings = resources.settings
    try:
        connection = connection_for_outbound_key(await secrets.of_kind(SALESFORCE), key)
        body = await read_body(
            request, accepted=SOAP_MEDIA_TYPES, max_bytes=settings.max_body_bytes,
            within=settings.body_read_timeout_s,
        )
        message = parse_outbound_message(body)
        check_org(connection, message.organization_id)
        events, ignored = as_member_rereads(
            outbound_change_events(message, connection_id=str(connection.connection_id))
        )
        await publish_events(
            resources.bus, resources.bus.topics.salesforce_changes, events,
            context=PublishContext.of_request(OUTBOUND_ENDPOINT, request.headers.get("traceparent")),
            within=_publish_budget(settings, OUTBOUND_PUBLISH_LIMIT_S),
        )
    except InboundRejected as rejected:
        note_rejection(OUTBOUND_ENDPOINT, rejected)
        fault = fault_envelope(server_fault=rejected.retryable, faultstring=rejected.message)
        return _soap_reply(fault, rejected.status)
    if ignored:
        INBOUND_IGNORED.labels(OUTBOUND_ENDPOINT, "campaign_member").inc(ignored)
    log.info("outbound message acknowledged", notifications=len(events), action_id=message.action_id)
    return _soap_reply(ack_envelope())


@router.post(
    "/event-relay",
    summary="Receive a Change Data Capture event from Event Relay (EventBridge API destination)",
    description=(
        "One EventBridge event per request, the change event in `detail.payload` (api-contracts A6). "
        "The API destination's connection sends the key shown at connect time (or by "
        "`POST /v1/connections/salesforce/event-relay-key`) in the header named by "
        "SFGR_EVENT_RELAY_KEY_HEADER (`X-Sfgr-Api-Key` by default). EventBridge retries 429 and 5xx "
        "for 24 h and drops other 4xx, so only a request that can never succeed gets a 4xx."
    ),
    responses={
        200: {"description": '{"status": "OK", "published": n, "ignored": m}, once Kafka stored the events'},
        400: {"description": "not an EventBridge event holding a change event in detail.payload"},
        401: {"description": "the API key header is missing or wrong (checked before the body is read)"},
        408: {"description": "the body did not arrive within SFGR_BODY_READ_TIMEOUT_S"},
        403: {"description": "the event's source names another org"},
        413: {"description": "body over the size limit"},
        415: {"description": "not application/json"},
        503: {"description": "no connection with an Event Relay key, database or Kafka unavailable"},
    },
)
async def receive_event_relay(
    request: Request, resources: ResourcesDep, secrets: InboundSecretsDep
) -> JSONResponse:
    INBOUND_RECEIVED.labels(EVENT_RELAY_ENDPOINT).inc()
    settings = resources.settings
    try:
        connection = connection_for_event_relay_key(
            await secrets.of_kind(SALESFORCE), request.headers.get(settings.event_relay_key_header),
            header=settings.event_relay_key_header, now=datetime.now(UTC),
        )
        body = await read_body(
            request, accepted=JSON_MEDIA_TYPES, max_bytes=settings.max_body_bytes,
            within=settings.body_read_timeout_s,
        )
        parsed = parse_event_relay(body, connection=connection, client_id=settings.salesforce_client_id)
        events, ignored = as_member_rereads(parsed.events)
        await publish_events(
            resources.bus, resources.bus.topics.salesforce_changes, events,
            context=PublishContext.of_request(EVENT_RELAY_ENDPOINT, request.headers.get("traceparent")),
            within=_publish_budget(settings, EVENT_RELAY_PUBLISH_LIMIT_S),
        )
    except InboundRejected as rejected:
        note_rejection(EVENT_RELAY_ENDPOINT, rejected)
        return JSONResponse(rejection_body(rejected), status_code=rejected.status)
    _count_ignored(EVENT_RELAY_ENDPOINT, parsed.echoes, ignored)
    log.info("event relay event accepted", published=len(events), echoes=parsed.echoes, ignored=ignored)
    return JSONResponse({"status": "OK", "published": len(events), "ignored": parsed.echoes + ignored})


def _count_ignored(endpoint: str, echoes: int, campaign_members: int) -> None:
    if echoes:
        INBOUND_IGNORED.labels(endpoint, "echo").inc(echoes)
        count_events("inbound", SALESFORCE, "echo", echoes)
        log.info("echoes of our own writes ignored", records=echoes)
    if campaign_members:
        INBOUND_IGNORED.labels(endpoint, "campaign_member").inc(campaign_members)


@router.post(
    "/change-events",
    summary="Receive CDC events (CometD JSON) from a custom relay, signed with X-Sfgr-Signature",
    description=(
        "For a relay of your own (for example a CometD or Pub/Sub API client that forwards events). "
        "Salesforce itself never posts here: use Event Relay (`/v1/salesforce/event-relay`), the "
        "Pub/Sub API subscriber, or Outbound Messages."
    ),
    responses={
        200: {"description": '{"status": "OK", "published": n, "ignored": m}'},
        400: {"description": "not CometD change events"},
        401: {"description": "signature missing, malformed, older or newer than 5 minutes, or wrong"},
        408: {"description": "the body did not arrive within SFGR_BODY_READ_TIMEOUT_S"},
        413: {"description": "body over the size limit"},
        415: {"description": "not application/json"},
        503: {"description": "no connection with a change events secret, or Kafka unavailable"},
    },
)
async def receive_change_events(
    request: Request, resources: ResourcesDep, secrets: InboundSecretsDep
) -> JSONResponse:
    INBOUND_RECEIVED.labels(CHANGE_EVENTS_ENDPOINT).inc()
    settings = resources.settings
    try:
        candidates = await secrets.of_kind(SALESFORCE)
        signature = check_signature_header(request.headers.get(SIGNATURE_HEADER), candidates, now=time.time())
        body = await read_body(
            request, accepted=JSON_MEDIA_TYPES, max_bytes=settings.max_body_bytes,
            within=settings.body_read_timeout_s,
        )
        connection = connection_for_signature(signature, body, candidates, now=time.time())
        parsed = parse_change_events(
            body, connection_id=str(connection.connection_id), client_id=settings.salesforce_client_id
        )
        events, ignored = as_member_rereads(parsed.events)
        await publish_events(
            resources.bus, resources.bus.topics.salesforce_changes, events,
            context=PublishContext.of_request(CHANGE_EVENTS_ENDPOINT, request.headers.get("traceparent")),
            within=_publish_budget(settings, OUTBOUND_PUBLISH_LIMIT_S),
        )
    except InboundRejected as rejected:
        note_rejection(CHANGE_EVENTS_ENDPOINT, rejected)
        return JSONResponse(rejection_body(rejected), status_code=rejected.status)
    _count_ignored(CHANGE_EVENTS_ENDPOINT, parsed.echoes, ignored)
    log.info("change events accepted", published=len(events), echoes=parsed.echoes, ignored=ignored)
    return JSONResponse({"status": "OK", "published": len(events), "ignored": parsed.echoes + ignored})
