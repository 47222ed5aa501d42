"""Prometheus metrics of every process (one registry per process: the default one).

Labels are bounded: directions, paths (the transports of `app/domain/events.py`), stages,
outcomes, vendors, operations (a method and the first segment of a vendor path, never an id),
HTTP statuses, consumer groups, topics and partitions, sync ids (a handful per deployment).
The README's "Operating" section says what to do when each one moves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import Counter, Gauge, Histogram

# --- the api's inbound endpoints -------------------------------------------------------------------

INBOUND_RECEIVED = Counter("sfgr_inbound_received_total", "Inbound requests received", ["endpoint"])
INBOUND_PUBLISHED = Counter(
    "sfgr_inbound_events_published_total", "Change events published to Kafka", ["endpoint"]
)
INBOUND_REJECTED = Counter("sfgr_inbound_rejected_total", "Inbound requests rejected", ["endpoint", "reason"])
INBOUND_IGNORED = Counter(
    "sfgr_inbound_events_ignored_total",
    "Inbound events accepted but not published (our own echoes, unknown webhook types)",
    ["endpoint", "reason"],
)
PUBLISH_SECONDS = Histogram(
    "sfgr_publish_seconds",
    "Time until Kafka acknowledged every event of one inbound request",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# --- a change's way through ------------------------------------------------------------------------

PROPAGATION_SECONDS = Histogram(
    "sfgr_propagation_seconds",
    "From a change's source timestamp to the target vendor's acknowledgement of our write",
    ["direction", "path"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
)
EVENTS = Counter(
    "sfgr_events_total",
    "Change events by stage (inbound, live, retry, poller) and outcome (received, published, "
    "applied, no_op, echo, retried, dead_lettered)",
    ["stage", "direction", "outcome"],
)
DECISIONS = Counter("sfgr_decisions_total", "Field decisions taken by the resolver", ["rule"])

# --- vendors ---------------------------------------------------------------------------------------

VENDOR_CALLS = Counter(
    "sfgr_vendor_calls_total",
    "Calls made to a vendor API, by operation and HTTP status (or timeout, error)",
    ["vendor", "operation", "status"],
)
VENDOR_WRITES = Counter("sfgr_vendor_writes_total", "Writes made to a vendor", ["vendor", "operation"])
VENDOR_RATE_LIMITED = Counter(
    "sfgr_vendor_rate_limited_total",
    "Calls a vendor refused for its rate limit (429, REQUEST_LIMIT_EXCEEDED) or our reserve held back",
    ["vendor"],
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "sfgr_rate_limit_wait_seconds",
    "How long a vendor call waited for the account's rate budget before it went out",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SALESFORCE_API_USAGE = Gauge(
    "sfgr_salesforce_api_usage_ratio",
    "Share of the org's rolling 24 h API allocation used, from the last Sforce-Limit-Info seen",
)

# --- Kafka, dead letters, the poller, the subscriber -----------------------------------------------

CONSUMER_LAG = Gauge(
    "sfgr_consumer_lag",
    "Messages between a group's committed offset and the partition's end offset",
    ["group", "topic", "partition"],
)
DEAD_LETTERS_STORED = Gauge("sfgr_dead_letters", "Dead letters in the table, by status", ["status"])
POLLER_WATERMARK_AGE = Gauge(
    "sfgr_poller_watermark_age_seconds",
    "Seconds since the poller last brought a sync's watermark up to date",
    ["sync"],
)
SUBSCRIBER_LAST_EVENT_AGE = Gauge(
    "sfgr_subscriber_last_event_age_seconds",
    "Seconds since the subscriber last received an event on a channel",
    ["channel"],
)
OUTBOX_SENT = Counter("sfgr_outbox_sent_total", "Outbox messages Kafka acknowledged and marked sent")
OUTBOX_FAILURES = Counter(
    "sfgr_outbox_failures_total", "Relay passes that sent nothing (Kafka or Postgres unreachable)", ["error"]
)

PUBSUB_EVENTS = Counter(
    "sfgr_pubsub_events_total", "Pub/Sub API events received by the subscriber", ["channel", "outcome"]
)
PUBSUB_ERRORS = Counter(
    "sfgr_pubsub_errors_total", "Pub/Sub API streams ended by an error, by error code", ["channel", "code"]
)
PUBSUB_REPLAY_EXPIRED = Counter(
    "sfgr_subscriber_replay_expired_total",
    "Stored replay ids the Pub/Sub API refused as expired or unknown (each followed by a gap re-read)",
    ["channel"],
)

BUILD_INFO = Gauge("sfgr_build_info", "Always 1; the running version is the label", ["version"])

for _vendor in ("salesforce", "getresponse"):
    VENDOR_RATE_LIMITED.labels(_vendor)


def build_version() -> str:
    try:
        return version("sfgr-sync")
    except PackageNotFoundError:
        return "unknown"


BUILD_INFO.labels(build_version()).set(1)


# --- what an event's handling did, for its outcome and its propagation time ------------------------


@dataclass
class Writes:
    """The vendor writes made while one event was applied: `acknowledged` is when the last one was."""

    count: int = 0
    acknowledged: float | None = None
    operations: list[str] = field(default_factory=list)


_writes: ContextVar[Writes | None] = ContextVar("sfgr_writes", default=None)


@contextmanager
def counting_writes() -> Iterator[Writes]:
    """Collect the writes made within (in this task and the tasks it starts)."""
    writes = Writes()
    token = _writes.set(writes)
    try:
        yield writes
    finally:
        _writes.reset(token)


def wrote(vendor: str, operation: str) -> None:
    """A vendor acknowledged a write of ours."""
    VENDOR_WRITES.labels(vendor, operation).inc()
    writes = _writes.get()
    if writes is not None:
        writes.count += 1
        writes.acknowledged = time.time()
        writes.operations.append(operation)


def observe_propagation(direction: str, path: str, since: datetime | None, acknowledged: float) -> None:
    if since is None:
        return
    started = since.timestamp() if since.tzinfo else since.replace(tzinfo=UTC).timestamp()
    PROPAGATION_SECONDS.labels(direction, path).observe(max(0.0, acknowledged - started))


def vendor_call(vendor: str, method: str, path: str, status: int | str) -> None:
    VENDOR_CALLS.labels(vendor, operation_of(method, path), str(status)).inc()


def operation_of(method: str, path: str) -> str:
    """`PATCH sobjects/Lead`, `POST contacts`: a method and the path's fixed part, never an id."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:2] == ["services", "oauth2"]:
        return f"{method} oauth2"
    if "data" in parts and parts.index("data") + 2 <= len(parts):
        parts = parts[parts.index("data") + 2 :]  # /services/data/vXX.X/...
    elif parts and parts[0] == "v3":
        parts = parts[1:]
    if not parts:
        return method
    head = parts[0]
    if head in ("sobjects", "composite") and len(parts) > 1 and not parts[1][:1].isdigit():
        head = f"{head}/{parts[1]}"
    return f"{method} {head}"


_heard_at: dict[str, float] = {}


def subscriber_heard(channel: str) -> None:
    """The subscriber received an event on `channel`: its silence gauge starts again from 0."""
    if channel not in _heard_at:
        SUBSCRIBER_LAST_EVENT_AGE.labels(channel).set_function(lambda: time.time() - _heard_at[channel])
    _heard_at[channel] = time.time()


def direction_from(source: str) -> str:
    """The direction a change from `source` (a Side's value) travels in."""
    return "to_getresponse" if source == "salesforce" else "to_salesforce"


def count_events(stage: str, source: str, outcome: str, n: int = 1) -> None:
    if n:
        EVENTS.labels(stage, direction_from(source), outcome).inc(n)
