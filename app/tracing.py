"""OpenTelemetry tracing: off unless the standard `OTEL_*` variables ask for it
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER`
other than `none`; `OTEL_SDK_DISABLED=true` wins). Then each process exports its spans over OTLP
(HTTP/protobuf), named `OTEL_SERVICE_NAME` or `sfgr-<process>`:

- the api's request spans (FastAPI instrumentation), and a producer span per Kafka publish whose
  context goes into the messages' `traceparent` header;
- the consumers continue that trace in a consumer span per message (`consume`), and each vendor
  call is a child span (aiohttp-client instrumentation), as are the database calls (asyncpg);
- every log line written inside a span carries its `trace_id` and `span_id` (app/logs.py).

Without tracing the headers still carry a `traceparent` (app/trace_context.py): the caller's trace
continued, or a new one, so that a trace can be followed in the logs all the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

_provider: TracerProvider | None = None


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return True
    return environ.get("OTEL_TRACES_EXPORTER", "none").lower() not in ("", "none")


def start_tracing(process: str, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Turn tracing on for this process when the environment asks for it (or with `exporter`, in
    tests): the provider, with the vendor-call and database instrumentations; None when off."""
    global _provider
    if _provider is not None:
        return _provider
    if exporter is None and not wanted():
        return None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"sfgr-{process}"})
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _provider = provider
    return provider


def stop_tracing() -> None:
    """Export what is buffered (at the process's end)."""
    if _provider is not None:
        _provider.shutdown()


def instrument_api(app: Any) -> None:
    """The api's request spans, when tracing is on."""
    if _provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=_provider, excluded_urls="healthz,readyz,metrics"
        )


def tracer() -> trace.Tracer:
    return trace.get_tracer("sfgr-sync", tracer_provider=_provider)


def current_traceparent() -> str | None:
    """The current span's context as a `traceparent` header, or None when no span records."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def publishing(topic: str) -> Iterator[None]:
    """A producer span around one publish."""
    with tracer().start_as_current_span(
        f"{topic} publish",
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
    ):
        yield


@contextmanager
def consuming(topic: str, headers: Mapping[str, str], **attributes: str) -> Iterator[None]:
    """A consumer span for one message, in the trace its `traceparent` header names."""
    parent = propagate.extract(dict(headers))
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(
            f"{topic} process",
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.source.name": topic, **attributes},
        ):
            yield
    finally:
        otel_context.detach(token)
