"""One running stack for all end-to-end tests (started once; a few seconds)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack, down, up
from tests.e2e.harness import Harness


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    state_dir = Path(tempfile.mkdtemp(prefix="sfgr-e2e-"))
    running = up(state_dir, env={"SFGR_LOG_LEVEL": "INFO"})
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
        base_url=e2e.stack.info["api"], headers={"Authorization": f"Bearer {token}"}, timeout=90
    ) as client:
        yield client
