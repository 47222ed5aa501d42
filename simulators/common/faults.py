"""Fault injection shared by both simulators (`POST /_sim/faults`).

Vendor-API faults (error rate, statuses, latency, timeouts) apply to calls the service makes;
delivery faults (duplicates, reordering, extra delay, dropped acknowledgements) apply to what the
simulator delivers to the service. Each simulator renders an injected error in its vendor's own
error shape; this module only decides *whether* and *which*.
"""

from __future__ import annotations

import asyncio
import random
from urllib.parse import parse_qsl

from pydantic import BaseModel, Field


class Faults(BaseModel):
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="share of vendor-API calls that fail")
    error_statuses: list[int] = Field(default_factory=lambda: [500, 503])
    latency_ms: int = Field(0, ge=0, description="added to every vendor-API call")
    timeout_rate: float = Field(0.0, ge=0.0, le=1.0, description="share of calls that hang")
    timeout_seconds: float = Field(30.0, gt=0, description="how long a hanging call hangs")
    path_prefix: str = Field("", description="only calls whose path starts with this are affected")
    methods: list[str] = Field(default_factory=list, description="only these methods; empty = all")
    query: dict[str, str] = Field(
        default_factory=dict,
        description="only calls whose query string has these parameters with these values, e.g. "
        '`{"page": "2"}` for one page of a listing; empty = any query',
    )
    delivery_duplicate_rate: float = Field(0.0, ge=0.0, le=1.0)
    delivery_reorder_rate: float = Field(0.0, ge=0.0, le=1.0)
    delivery_reorder_delay_ms: int = Field(300, ge=0)
    delivery_delay_ms: int = Field(0, ge=0, description="added before every delivery")

    def applies_to(self, method: str, path: str, query: str = "") -> bool:
        """`query` is the call's raw query string."""
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.methods and method.upper() not in {m.upper() for m in self.methods}:
            return False
        if self.query:
            given = dict(parse_qsl(query, keep_blank_values=True))
            return all(given.get(name) == value for name, value in self.query.items())
        return True

    def pick_error(self, method: str, path: str, query: str = "") -> int | None:
        """The status of an injected failure for this call, or None to serve it normally."""
        if self.error_rate and self.applies_to(method, path, query) and random.random() < self.error_rate:
            return random.choice(self.error_statuses)
        return None

    async def delay_call(self, method: str, path: str, query: str = "") -> None:
        if not self.applies_to(method, path, query):
            return
        if self.timeout_rate and random.random() < self.timeout_rate:
            await asyncio.sleep(self.timeout_seconds)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
