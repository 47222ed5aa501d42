"""GetResponse webhooks (api-contracts B9, C12): `{"status":"OK"}` within 5 s, only once Kafka
stored the events; any other answer makes GetResponse retry (3 more times)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import InboundSecretsDep, ResourcesDep
from app.db.connections import GETRESPONSE
from app.inbound.authentication import connection_for_webhook_secret
from app.inbound.body import JSON_MEDIA_TYPES, read_body
from app.inbound.errors import InboundRejected, note_rejection, rejection_body
from app.inbound.publishing import PublishContext, publish_events
from app.inbound.webhooks import parse_webhook
from app.logs import get_logger
from app.metrics import INBOUND_IGNORED, INBOUND_RECEIVED

router = APIRouter(prefix="/v1/getresponse", tags=["inbound"])
log = get_logger(__name__)

WEBHOOKS_ENDPOINT = "getresponse_webhooks"
# GetResponse gives up on an answer after 5 s; the connection lookup and the reply need the rest.
WEBHOOK_PUBLISH_LIMIT_S = 2.5


@router.post(
    "/webhooks",
    summary="Receive GetResponse webhooks and acknowledge them once Kafka stored their events",
    responses={
        200: {"description": '{"status": "OK"} (also for event types that are not published)'},
        400: {"description": "not a webhook payload"},
        401: {"description": "?secret= missing or wrong"},
        403: {"description": "an event of another GetResponse account"},
        408: {"description": "the body did not arrive within SFGR_BODY_READ_TIMEOUT_S"},
        413: {"description": "body over the size limit"},
        415: {"description": "not application/json"},
        503: {"description": '{"status": "ERROR", ...}: no connection, or Kafka unavailable'},
    },
)
async def receive_webhook(
    request: Request,
    resources: ResourcesDep,
    secrets: InboundSecretsDep,
    secret: Annotated[str | None, Query(description="the secret configured in the webhook URL")] = None,
) -> JSONResponse:
    INBOUND_RECEIVED.labels(WEBHOOKS_ENDPOINT).inc()
    settings = resources.settings
    try:
        connection = connection_for_webhook_secret(await secrets.of_kind(GETRESPONSE), secret)
        body = await read_body(
            request, accepted=JSON_MEDIA_TYPES, max_bytes=settings.max_body_bytes,
            within=settings.body_read_timeout_s,
        )
        parsed = parse_webhook(
            body,
            webhook_id=request.headers.get("x-webhook-id"),
            connection_id=str(connection.connection_id),
            account_id=connection.external_id,
        )
        await publish_events(
            resources.bus, resources.bus.topics.getresponse_changes, parsed.events,
            context=PublishContext.of_request(WEBHOOKS_ENDPOINT, request.headers.get("traceparent")),
            within=min(settings.kafka_request_timeout_ms / 1000, WEBHOOK_PUBLISH_LIMIT_S),
        )
    except InboundRejected as rejected:
        note_rejection(WEBHOOKS_ENDPOINT, rejected)
        return JSONResponse(rejection_body(rejected), status_code=rejected.status)
    for ignored in parsed.ignored:
        INBOUND_IGNORED.labels(WEBHOOKS_ENDPOINT, ignored.reason).inc()
        log.info("webhook event not published", type=ignored.type, reason=ignored.reason)
    log.info("webhook accepted", published=len(parsed.events), ignored=len(parsed.ignored),
             webhook_type=request.headers.get("x-webhook-type"))
    return JSONResponse({"status": "OK"})
