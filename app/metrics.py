"""Prometheus metrics of the api and the consumers (one registry per process: the default one)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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

EVENTS_APPLIED = Counter("sfgr_events_applied_total", "Change events fully applied", ["role"])
EVENTS_RETRIED = Counter(
    "sfgr_events_retried_total", "Events sent to the retry topic after in-place retries", ["role", "error"]
)
DEAD_LETTERS = Counter("sfgr_dead_letters_total", "Events dead-lettered", ["role", "error"])
VENDOR_WRITES = Counter("sfgr_vendor_writes_total", "Writes made to a vendor", ["vendor", "operation"])
DECISIONS = Counter("sfgr_decisions_total", "Field decisions taken by the resolver", ["rule"])
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
    "sfgr_pubsub_replay_expired_total",
    "Stored replay ids the Pub/Sub API refused as expired or unknown (each followed by a gap re-read)",
    ["channel"],
)
