"""`retrying`: exponential backoff with full jitter for transient errors, honouring a throttle's
`retry_after`, and never holding a partition longer than `max_delay` for one wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from app.clients.errors import NotFound, Permanent, RateLimited, Transient
from app.clients.retry import retrying


class Script:
    """A call that fails with the given errors, in order, then answers "done"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def recorder() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    return delays, sleep


def transient() -> Transient:
    return Transient("503", vendor="getresponse", status=503)


async def test_transient_failures_are_retried_with_growing_jittered_waits() -> None:
    delays, sleep = recorder()
    call = Script(transient(), transient(), transient())
    assert await retrying(call, attempts=4, base_delay=0.5, max_delay=10, sleep=sleep) == "done"
    assert call.calls == 4
    assert len(delays) == 3
    for attempt, delay in enumerate(delays, start=1):
        assert 0 <= delay <= 0.5 * 2 ** (attempt - 1)


async def test_waits_never_exceed_max_delay() -> None:
    delays, sleep = recorder()
    call = Script(*(transient() for _ in range(6)))
    await retrying(call, attempts=7, base_delay=1, max_delay=2, sleep=sleep)
    assert max(delays) <= 2


@pytest.mark.parametrize(
    "error", [Permanent("bad", vendor="salesforce"), NotFound("gone", vendor="getresponse")]
)
async def test_permanent_errors_are_raised_at_once(error: Permanent) -> None:
    delays, sleep = recorder()
    call = Script(error)
    with pytest.raises(type(error)):
        await retrying(call, attempts=5, base_delay=0.1, max_delay=1, sleep=sleep)
    assert call.calls == 1 and delays == []


async def test_errors_that_are_not_the_vendors_are_not_retried() -> None:
    call = Script(KeyError("bug"))
    with pytest.raises(KeyError):
        await retrying(call, attempts=5, base_delay=0.1, max_delay=1, sleep=recorder()[1])
    assert call.calls == 1


async def test_the_last_transient_error_is_raised_when_attempts_run_out() -> None:
    last = Transient("still down", vendor="salesforce", status=503)
    call = Script(transient(), last, transient())
    with pytest.raises(Transient) as raised:
        await retrying(call, attempts=2, base_delay=0.1, max_delay=1, sleep=recorder()[1])
    assert raised.value is last
    assert call.calls == 2


async def test_a_throttle_is_waited_out_for_at_least_its_retry_after() -> None:
    delays, sleep = recorder()
    call = Script(RateLimited("429", retry_after=3.0, vendor="getresponse", status=429))
    assert await retrying(call, attempts=2, base_delay=0.01, max_delay=5, sleep=sleep) == "done"
    assert delays == [3.0]


async def test_a_throttle_longer_than_max_delay_goes_back_to_the_caller_at_once() -> None:
    delays, sleep = recorder()
    call = Script(RateLimited("quota", retry_after=300.0, vendor="salesforce", status=403))
    with pytest.raises(RateLimited):
        await retrying(call, attempts=5, base_delay=0.1, max_delay=5, sleep=sleep)
    assert call.calls == 1 and delays == []


async def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        await retrying(Script(), attempts=0, base_delay=0.1, max_delay=1)


async def test_a_lambda_returning_a_coroutine_is_awaited_and_retried() -> None:
    from app.clients.errors import Transient

    calls: list[int] = []

    async def flaky() -> tuple[int, int]:
        calls.append(1)
        if len(calls) < 2:
            raise Transient("503 once", vendor="getresponse", status=503)
        return (1, 2)

    async def no_sleep(_: float) -> None:
        return None

    assert await retrying(lambda: flaky(), attempts=3, base_delay=0.1, max_delay=1, sleep=no_sleep) == (1, 2)
    assert len(calls) == 2
