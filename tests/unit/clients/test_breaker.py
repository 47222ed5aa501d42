"""The per-account circuit breaker: opens on a vendor that fails for everyone, not on one person's
failing writes; probes once; closes on an answer and tells the retriers."""

from __future__ import annotations

import pytest

from app.clients.breaker import Breaker, BreakerPolicy, BreakerState, CircuitOpen, account_breakers, on_close

POLICY = BreakerPolicy(window_s=10, min_failures=4, failure_ratio=0.5, open_s=5, max_open_s=20)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock) -> Breaker:
    return Breaker("getresponse|test", "getresponse", POLICY, clock=clock)


def test_failures_mixed_with_answers_below_the_ratio_leave_it_closed() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(6):  # one person's writes fail while everyone else's succeed
        breaker.before_call()
        breaker.record(answered=False)
        for _ in range(2):
            breaker.before_call()
            breaker.record(answered=True)
        clock.now += 0.5
    assert breaker.state is BreakerState.CLOSED


def test_failures_spread_wider_than_the_window_leave_it_closed() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(10):
        breaker.record(answered=False)
        clock.now += 4  # at most 3 in any 10 s
    assert breaker.state is BreakerState.CLOSED


def test_a_vendor_failing_for_everyone_opens_it_and_calls_are_refused_without_going_out() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(4):
        breaker.before_call()
        breaker.record(answered=False)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call()
    assert refused.value.retry_after == pytest.approx(5)
    assert refused.value.vendor == "getresponse"


def test_after_the_open_time_one_probe_goes_out_and_its_answer_closes_it_and_wakes_the_retriers() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    woken: list[str] = []
    unsubscribe = on_close(lambda: woken.append("closed"))
    try:
        for _ in range(4):
            breaker.record(answered=False)
        clock.now += 5
        breaker.before_call()  # the probe
        with pytest.raises(CircuitOpen):
            breaker.before_call()  # everyone else waits for its outcome
        breaker.record(answered=True)
        assert breaker.state is BreakerState.CLOSED
        assert woken == ["closed"]
        breaker.before_call()
    finally:
        unsubscribe()


def test_a_failed_probe_opens_it_again_for_twice_as_long_up_to_the_max() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(4):
        breaker.record(answered=False)
    waits = []
    for _ in range(4):
        clock.now += breaker.retry_after
        breaker.before_call()
        breaker.record(answered=False)
        waits.append(breaker.retry_after)
    assert waits == [10, 20, 20, 20]
    clock.now += 20
    breaker.before_call()
    breaker.record(answered=True)
    for _ in range(4):
        breaker.record(answered=False)
    assert breaker.retry_after == 5  # closing starts over from the open time


def test_a_probe_that_never_reports_makes_way_for_another() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(4):
        breaker.record(answered=False)
    clock.now += 5
    breaker.before_call()  # the probe, cancelled before it could report
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 31
    breaker.before_call()  # the next probe


def test_an_account_s_reads_keep_going_while_its_writes_are_refused() -> None:
    breakers = account_breakers("getresponse|reads-and-writes", "getresponse", POLICY)
    for _ in range(4):
        breakers.for_method("POST").record(answered=False)
    with pytest.raises(CircuitOpen):
        breakers.for_method("DELETE").before_call()
    breakers.for_method("GET").before_call()
    assert account_breakers("getresponse|reads-and-writes", "getresponse") is breakers
