"""W3C Trace Context for the Kafka messages of one request: continue the caller's trace or start one."""

from __future__ import annotations

import re
import secrets

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_INVALID_TRACE_ID = "0" * 32
_INVALID_PARENT_ID = "0" * 16


def traceparent_for(incoming: str | None) -> str:
    """A `traceparent` whose parent is a new span of ours, in the caller's trace when the caller
    sent a valid header (https://www.w3.org/TR/trace-context/#traceparent-header), else in a new
    trace marked sampled."""
    span_id = secrets.token_hex(8)
    match = _TRACEPARENT.fullmatch(incoming.strip()) if incoming else None
    if match is not None:
        version, trace_id, parent_id, flags, suffix = match.groups()
        valid = (
            version != "ff"
            and trace_id != _INVALID_TRACE_ID
            and parent_id != _INVALID_PARENT_ID
            and (version != "00" or suffix is None)
        )
        if valid:
            return f"00-{trace_id}-{span_id}-{flags}"
    return f"00-{secrets.token_hex(16)}-{span_id}-01"
