"""The baseline of the `inbound` benchmark: a FastAPI app that parses the same bodies as the api's
inbound endpoints, with the same parsers, and does nothing else (no connection lookup, no Kafka).

Run by the benchmark as its own uvicorn process (`python -m uvicorn bench.inbound_baseline:app`),
so that it and the load generator do not share a GIL.
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from app.db.connections import InboundSecrets
from app.inbound.event_relay import parse_event_relay
from app.inbound.outbound_messages import outbound_change_events, parse_outbound_message
from app.inbound.soap import SOAP_REPLY_MEDIA_TYPE, ack_envelope
from app.inbound.webhooks import parse_webhook

app = FastAPI()
CONNECTION = "00000000-0000-0000-0000-000000000000"
# The org the benchmark's Event Relay posts name (the dev stack's), so that the org check passes.
ORG = InboundSecrets(uuid.UUID(CONNECTION), os.environ.get("SFGR_BENCH_ORG_ID", ""), {})


@app.post("/v1/salesforce/outbound-messages")
async def outbound_messages(request: Request) -> Response:
    message = parse_outbound_message(await request.body())
    outbound_change_events(message, connection_id=CONNECTION)
    return Response(ack_envelope(), media_type=SOAP_REPLY_MEDIA_TYPE)


@app.post("/v1/getresponse/webhooks")
async def webhooks(request: Request) -> JSONResponse:
    parse_webhook(
        await request.body(),
        webhook_id=request.headers.get("X-Webhook-ID"),
        connection_id=CONNECTION,
        account_id="",
    )
    return JSONResponse({"status": "OK"})


@app.post("/v1/salesforce/event-relay")
async def event_relay(request: Request) -> JSONResponse:
    parsed = parse_event_relay(await request.body(), connection=ORG, client_id="sfgr-bench")
    return JSONResponse({"status": "OK", "published": len(parsed.events), "ignored": parsed.echoes})
