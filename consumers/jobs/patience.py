"""Jobs wait out transient failures step by step.

A job's request is redelivered when the job raises, and a redelivered first sync starts by
reading both sides again; with several processes sharing one GetResponse account, an occasional
429 is normal, and restarting a whole job for each one would never finish. So each vendor step of
a job (one read, one chunk of writes) is retried in place, honouring the vendor's retry-after;
only a failure that outlasts this goes back to the runner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.clients.retry import retrying

T = TypeVar("T")

ATTEMPTS = 8
BASE_DELAY_S = 0.2
MAX_DELAY_S = 120.0  # a GetResponse window can ask for minutes; a job may wait that long


async def patiently(step: Callable[[], Awaitable[T]]) -> T:
    return await retrying(step, attempts=ATTEMPTS, base_delay=BASE_DELAY_S, max_delay=MAX_DELAY_S)
