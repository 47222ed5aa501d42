"""How long a failed change waits before its next try."""

from __future__ import annotations

from app.settings import Environment, Settings
from consumers.processing import RetryPolicy


def test_the_delay_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=600.0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (10, 512), (11, 600), (40, 600)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not all at once


def test_the_policy_comes_from_the_settings_with_a_day_of_budget_by_default() -> None:
    policy = RetryPolicy.from_settings(Settings(environment=Environment.TEST))
    assert (policy.base_delay, policy.max_delay, policy.budget) == (1.0, 600.0, 86400.0)
    scaled = Settings(environment=Environment.TEST, retry_base_delay_s=0.2, retry_max_delay_s=0.1)
    assert RetryPolicy.from_settings(scaled).max_delay == 0.2  # never below the base
