"""Salesforce deliveries: Outbound Messages (SOAP) and Change Data Capture events (JSON, via a relay).

Both answer only after Kafka acknowledged every event; see `app/inbound/` for the parsing and the
sender checks, and api-contracts A1/A2 for the vendor's side.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import InboundSecretsDep, ResourcesDep
from app.db.connections import SALESFORCE
from app.inbound.authentication import (
    SIGNATURE_HEADER,
    check_org,
    check_signature_header,
    connection_for_outbound_key,
    connection_for_signature,
)
from app.inbound.body import JSON_MEDIA_TYPES, SOAP_MEDIA_TYPES, read_body
from app.inbound.campaign_members import as_member_rereads
from app.inbound.change_events import parse_change_events
from app.inbound.errors import InboundRejected, note_rejection, rejection_body
from app.inbound.outbound_messages import outbound_change_events, parse_outbound_message
from app.inbound.publishing import PublishContext, publish_events
from app.inbound.soap import SOAP_REPLY_MEDIA_TYPE, ack_envelope, fault_envelope
from app.logs import get_logger
from app.metrics import INBOUND_IGNORED, INBOUND_RECEIVED
from app.settings import Settings

router = APIRouter(prefix="/v1/salesforce", tags=["inbound"])
log = get_logger(__name__)

OUTBOUND_ENDPOINT = "salesforce_outbound_messages"
CHANGE_EVENTS_ENDPOINT = "salesforce_change_events"
# Salesforce waits 60 s per Outbound Message attempt (api-contracts A1); answer well before.
OUTBOUND_PUBLISH_LIMIT_S = 30.0


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
    "/change-events",
    summary="Receive Change Data Capture events (CometD JSON) from the relay, signed with X-Sfgr-Signature",
    responses={
        200: {"description": '{"status": "OK", "published": n, "ignored": m}'},
        400: {"description": "not CometD change events (Pub/Sub payloads included)"},
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
    if parsed.echoes:
        INBOUND_IGNORED.labels(CHANGE_EVENTS_ENDPOINT, "echo").inc(parsed.echoes)
        log.info("echoes of our own writes ignored", records=parsed.echoes)
    if ignored:
        INBOUND_IGNORED.labels(CHANGE_EVENTS_ENDPOINT, "campaign_member").inc(ignored)
    log.info("change events accepted", published=len(events), echoes=parsed.echoes, ignored=ignored)
    return JSONResponse({"status": "OK", "published": len(events), "ignored": parsed.echoes + ignored})
