"""How an account's budget is split among processes from what each wants, per priority (live,
retry, background): `allocate` in app/clients/shared_limits.py, the same in every process."""

from __future__ import annotations

import uuid

from app.clients.shared_limits import allocate

A, B, C = sorted(uuid.UUID(int=n) for n in (1, 2, 3))


def test_live_wants_are_served_before_background_wants() -> None:
    shares = allocate(80, 8, {A: (0, 0, 80), B: (80, 0, 0)})
    assert shares == {A: 0, B: 80}


def test_retries_come_after_live_work_and_before_background_work() -> None:
    shares = allocate(20, 2, {A: (10, 0, 0), B: (0, 20, 0), C: (0, 0, 20)})
    assert shares == {A: 10, B: 8, C: 0}  # the last 2 stay free for live work


def test_background_work_never_takes_the_live_reserve() -> None:
    shares = allocate(80, 8, {A: (0, 0, 80), B: (0, 0, 0)})
    assert shares[A] == 72
    assert shares[A] + shares[B] <= 80


def test_equal_wants_at_one_level_split_evenly() -> None:
    shares = allocate(80, 8, {A: (80, 0, 0), B: (80, 0, 0)})
    assert shares == {A: 40, B: 40}


def test_a_small_want_is_met_in_full_and_the_rest_goes_to_the_hungry() -> None:
    shares = allocate(80, 8, {A: (5, 0, 0), B: (80, 0, 0), C: (80, 0, 0)})
    assert shares == {A: 5, B: 38, C: 37}


def test_idle_processes_hold_small_standing_shares_and_half_stays_free() -> None:
    shares = allocate(80, 8, {A: (0, 0, 0), B: (0, 0, 0), C: (0, 0, 0)})
    assert shares == {A: 13, B: 13, C: 13}
    assert 80 - sum(shares.values()) >= 40


def test_every_idle_process_holds_one_concurrent_call_even_when_half_the_total_is_fewer() -> None:
    """10 concurrent calls, a poller using 2 and five idle processes: half of the 8 left is 4, too
    few for one each; each idle one still starts its first call without waiting for a renewal."""
    idle = sorted(uuid.UUID(int=n) for n in range(10, 15))
    shares = allocate(10, 2, {A: (2, 0, 0), **{h: (0, 0, 0) for h in idle}})
    assert shares[A] >= 2 and all(shares[h] >= 1 for h in idle)
    assert 10 - sum(shares.values()) >= 1  # one stays free for whoever asks first


def test_shares_never_exceed_the_total() -> None:
    for wants in ({A: (3, 2, 1), B: (10, 10, 10), C: (0, 0, 4)}, {A: (1, 0, 0), B: (0, 0, 1), C: (0, 1, 0)}):
        for total in (1, 2, 4, 10):
            assert sum(allocate(total, min(1, total - 1), wants).values()) <= total
