"""Tracing, end to end: a stack of its own exports its spans over OTLP to a collector that keeps
them in memory here, and one trace runs from the Outbound Message the api received, through its
Kafka publish and the consumer that applied the change, to the GetResponse write (issue: operable
in production)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.stack import down, up
from tests.e2e.harness import Harness, unique_email


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver that keeps every span it is sent."""

    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                    with self.lock:
                        self.spans.append(Span(
                            service, span.name, span.kind, span.trace_id.hex(), span.span_id.hex(),
                            span.parent_span_id.hex(), attributes,
                        ))

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    kept = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            kept.receive(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kept, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def traced(tmp_path: Path, collector: tuple[Collector, str]) -> Iterator[tuple[Harness, Collector]]:
    kept, endpoint = collector
    stack = up(
        tmp_path / "stack",
        with_poller=False,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    harness = Harness(stack)
    try:
        # Only the Outbound Message reports the change: one path, one trace.
        harness.sf.post("/_sim/config", json={"cdc_url": None})
        yield harness, kept
    finally:
        harness.close()
        down(tmp_path / "stack")


SERVER, PRODUCER, CONSUMER, CLIENT = 2, 4, 5, 3  # OTLP's SpanKind numbers


def test_one_trace_runs_from_the_outbound_message_to_the_getresponse_write(
    traced: tuple[Harness, Collector],
) -> None:
    e2e, kept = traced
    email = unique_email("traced")
    e2e.sf_create("Lead", FirstName="Tra", LastName="Ced", Email=email, Company="Spans Inc")
    e2e.until(lambda: e2e.gr_active(email), within=20, what="contact on the list")

    def the_write() -> Span | None:
        return next(
            (s for s in kept.snapshot() if s.kind == CLIENT and s.service == "sfgr-consumer-salesforce-to-getresponse"
             and "/v3/contacts" in str(s.attributes.get("url.full") or s.attributes.get("http.url"))
             and s.name.startswith("POST")),
            None,
        )

    write, _ = e2e.until(the_write, within=20, what="the GetResponse write's span")
    trace = {s.span_id: s for s in kept.snapshot() if s.trace_id == write.trace_id}

    chain = [write]
    while chain[-1].parent_id in trace:
        chain.append(trace[chain[-1].parent_id])
    kinds = [(s.service, s.kind) for s in reversed(chain)]
    assert kinds[0] == ("sfgr-api", SERVER), kinds
    assert "/v1/salesforce/outbound-messages" in str(chain[-1].attributes.get("http.route")
                                                     or chain[-1].name), chain[-1]
    assert ("sfgr-api", PRODUCER) in kinds
    assert ("sfgr-consumer-salesforce-to-getresponse", CONSUMER) in kinds
    assert kinds.index(("sfgr-api", PRODUCER)) < kinds.index(("sfgr-consumer-salesforce-to-getresponse", CONSUMER))
    # The api's log line of the publish carries the trace id.
    api_log = Path(e2e.stack.process("api").log).read_text()
    assert f'"trace_id": "{write.trace_id}"' in api_log
