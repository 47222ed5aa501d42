"""Fixtures for the Salesforce simulator's contract tests.

The run's shared simulator (tests/fixtures/simulators.py) and one delivery receiver for the whole
session (real uvicorn servers on free ports); every test starts from `/_sim/reset`, the default
configuration and a fresh token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.common.server import ServerThread
from tests.simulators.salesforce.harness import Receiver, SalesforceSim


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with ServerThread(receiver.app()) as server:
        receiver.url = server.url
        yield receiver


@pytest.fixture
def sim(salesforce_server: str, receiver: Receiver) -> Iterator[SalesforceSim]:
    sim = SalesforceSim(salesforce_server)
    sim.reset()
    sim.wait_idle(timeout=5)
    receiver.reset()
    sim.log_in()
    yield sim
    sim.reset()
    sim.close()
