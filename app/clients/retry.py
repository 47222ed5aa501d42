"""`retrying`: the bounded in-place retry a consumer wraps around one vendor call (design.md
"Limits and backpressure"): exponential backoff with full jitter, for `Transient` errors only.

    contact = await retrying(lambda: gr.get_contact(contact_id), attempts=4, base_delay=0.2, max_delay=5)

- attempt n (from 1) that fails waits a random time in [0, min(max_delay, base_delay * 2**(n-1))];
- a `RateLimited` waits at least its `retry_after`; one whose `retry_after` is longer than
  `max_delay` is re-raised at once, because waiting that long in place would hold the partition
  beyond its bound: that message belongs on the retry topic;
- `Permanent` errors (and anything that is not a `VendorError`) are re-raised at once;
- after `attempts` attempts the last error is re-raised as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from app.clients.errors import RateLimited, Transient

T = TypeVar("T")


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base_delay: float,
    max_delay: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    if attempts < 1 or base_delay < 0 or max_delay < 0:
        raise ValueError("attempts >= 1, base_delay >= 0 and max_delay >= 0 are required")
    jitter = wait_random_exponential(multiplier=base_delay, max=max_delay)

    def worth_retrying(error: BaseException) -> bool:
        if isinstance(error, RateLimited):
            return error.retry_after <= max_delay
        return isinstance(error, Transient)

    def wait(state: RetryCallState) -> float:
        delay: float = jitter(state)
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, RateLimited):
            return max(delay, error.retry_after)
        return delay

    retryer = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(worth_retrying),
        sleep=sleep,
        reraise=True,
    )

    # tenacity awaits only coroutine functions; `lambda: client.get(...)` returns an awaitable
    # from a plain function, so every call goes through a coroutine function of ours.
    async def attempt() -> T:
        return await call()

    return await retryer(attempt)
