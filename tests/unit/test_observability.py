"""What a worker's /healthz says, and how vendor calls are labelled (app/observability.py,
app/metrics.py)."""

from __future__ import annotations

import time

import pytest

from app.metrics import operation_of
from app.observability import Health


def test_health_is_ok_while_every_loop_beats_and_names_the_one_that_stalled() -> None:
    health = Health(stall_s=5.0)
    consumer, retrier = health.heartbeat("consumer"), health.heartbeat("retrier")
    assert health.report()[0] is True
    consumer.last = time.monotonic() - 6.0
    retrier.beat()
    healthy, body = health.report()
    assert healthy is False
    assert body["stalled"] == ["consumer"]
    consumer.beat()
    assert health.report()[0] is True


def test_the_same_loop_name_is_one_heartbeat() -> None:
    health = Health(stall_s=1.0)
    assert health.heartbeat("poll") is health.heartbeat("poll")


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("PATCH", "/services/data/v62.0/sobjects/Lead/00Q5g00000AbCdEFGH", "PATCH sobjects/Lead"),
        ("GET", "/services/data/v62.0/query", "GET query"),
        ("POST", "/services/data/v62.0/composite/sobjects", "POST composite/sobjects"),
        ("POST", "/services/oauth2/token", "POST oauth2"),
        ("POST", "/v3/contacts", "POST contacts"),
        ("POST", "/v3/contacts/pV3r/custom-fields", "POST contacts"),
        ("GET", "/v3/campaigns/Gr7Mn", "GET campaigns"),
    ],
)
def test_a_vendor_call_is_labelled_by_method_and_the_paths_fixed_part(method: str, path: str, operation: str) -> None:
    assert operation_of(method, path) == operation
