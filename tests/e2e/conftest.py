"""One running stack for all end-to-end tests (started once; a few seconds)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack, down, up
from tests.e2e.harness import IDLE_CONNECTIONS, Harness

# The waits of a day-long outage, scaled to seconds, in the same shape: retries back off from 0.2 s
# to 2 s, a failing account is probed every 1 to 2 s, a spent Salesforce allocation is looked at
# again every 2 s. The budget stays long: no transient fault in these tests may make a dead letter.
SCALED_WAITS = {
    "SFGR_RETRY_BASE_DELAY_S": "0.2",
    "SFGR_RETRY_MAX_DELAY_S": "2",
    "SFGR_BREAKER_OPEN_S": "1",
    "SFGR_BREAKER_MAX_OPEN_S": "2",
    "SFGR_SALESFORCE_QUOTA_RECHECK_S": "2",
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-"))
    running = up(state_dir, env={"SFGR_LOG_LEVEL": "INFO", **SCALED_WAITS})
    try:
        yield running
    finally:
        down(state_dir)


@pytest.fixture
def e2e(stack: Stack) -> Iterator[Harness]:
    harness = Harness(stack)
    try:
        yield harness
    finally:
        harness.clear_faults()
        harness.close()


@pytest.fixture
def api(e2e: Harness) -> Iterator[httpx.Client]:
    """The control API of the stack, with the token `sfgr dev up` created (every scope)."""
    token = e2e.stack.info["api_token"]
    with httpx.Client(
        base_url=e2e.stack.info["api"], headers={"Authorization": f"Bearer {token}"}, timeout=90,
        limits=IDLE_CONNECTIONS,
    ) as client:
        yield client
