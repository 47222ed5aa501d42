"""The traceparent published with every event: the caller's trace continued, or a new one."""

from __future__ import annotations

import re

import pytest

from app.trace_context import traceparent_for

SHAPE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_incoming_traceparent_keeps_its_trace_with_a_new_span() -> None:
    match = SHAPE.fullmatch(traceparent_for(INCOMING))
    assert match is not None
    assert match.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert match.group(2) != "00f067aa0ba902b7"
    assert match.group(3) == "01"


@pytest.mark.parametrize(
    "incoming",
    [None, "", "garbage", INCOMING.upper(), "ff" + INCOMING[2:], "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
     INCOMING + "-extra"],
)
def test_without_a_valid_traceparent_a_new_trace_starts(incoming: str | None) -> None:
    match = SHAPE.fullmatch(traceparent_for(incoming))
    assert match is not None
    assert match.group(1) != "4bf92f3577b34da6a3ce929d0e0e4736"


def test_every_request_gets_its_own_span() -> None:
    assert traceparent_for(INCOMING) != traceparent_for(INCOMING)
