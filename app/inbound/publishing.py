"""Publish one request's events and wait for Kafka's acknowledgement of all of them.

The sender is acknowledged only after this returns; a `PublishFailed` becomes a 503 so that the
sender delivers again (Salesforce retries Outbound Messages for 24 h, GetResponse webhooks 3 times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.bus import Bus, PublishFailed, event_message
from app.domain.events import ChangeEvent
from app.inbound.errors import InboundRejected
from app.logs import get_logger, request_id_var
from app.metrics import INBOUND_PUBLISHED, PUBLISH_SECONDS, count_events
from app.trace_context import traceparent_for
from app.tracing import current_traceparent, publishing

log = get_logger(__name__)


@dataclass(frozen=True)
class PublishContext:
    """Who is publishing: the metric label of the endpoint and the request's correlation ids."""

    endpoint: str
    request_id: str
    traceparent: str

    @classmethod
    def of_request(cls, endpoint: str, incoming_traceparent: str | None) -> PublishContext:
        """The current request's id (set by the middleware) and a span of ours in its trace."""
        return cls(endpoint, request_id_var.get() or "", traceparent_for(incoming_traceparent))


async def publish_events(
    bus: Bus, topic: str, events: Sequence[ChangeEvent], *, context: PublishContext, within: float
) -> None:
    """Returns once Kafka acknowledged every event; raises InboundRejected(503) otherwise."""
    if not events:
        return
    for event in events:
        count_events("inbound", event.source.value, "received")
    try:
        with publishing(topic):
            # With tracing on, the producer span is the consumers' parent (app/tracing.py).
            traceparent = current_traceparent() or context.traceparent
            messages = [
                event_message(topic, event, traceparent=traceparent, request_id=context.request_id)
                for event in events
            ]
            seconds = await bus.publish(messages, within=within)
    except PublishFailed as exc:
        log.error("publish failed", endpoint=context.endpoint, events=len(messages), error=str(exc))
        raise InboundRejected(
            503, "kafka_unavailable",
            "the events could not be stored (Kafka did not acknowledge them); nothing was accepted, "
            "deliver again",
        ) from exc
    PUBLISH_SECONDS.labels(context.endpoint).observe(seconds)
    INBOUND_PUBLISHED.labels(context.endpoint).inc(len(messages))
    for event in events:
        count_events("inbound", event.source.value, "published")
    log.info("events published", endpoint=context.endpoint, topic=topic, events=len(messages),
             event_ids=[e.event_id for e in events[:10]], seconds=round(seconds, 4))
