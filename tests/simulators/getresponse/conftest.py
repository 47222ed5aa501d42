"""The run's shared GetResponse simulator (tests/fixtures/simulators.py) and one webhook receiver
for the whole directory, both real servers on free loopback ports; every test starts from
`POST /_sim/reset` and the test configuration, which points the simulator's webhooks at the
receiver.

`gr` is the handle tests use: `gr.api` (an authenticated client of `/v3`), `gr.control` (the
`/_sim` control API), `gr.receiver` (what reached the webhook URL, and how it answers), and a few
helpers that wait with a deadline instead of sleeping (see `harness.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.common.server import ServerThread
from tests.fixtures.simulators import reset_simulator
from tests.simulators.getresponse.harness import GetResponseHarness, Receiver, harness_config


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with ServerThread(receiver.app) as server:
        yield receiver, server.url


@pytest.fixture
def gr(getresponse_server: str, receiver_server: tuple[Receiver, str]) -> Iterator[GetResponseHarness]:
    receiver, receiver_url = receiver_server
    reset_simulator(getresponse_server, **harness_config(receiver_url))
    harness = GetResponseHarness(getresponse_server, receiver, receiver_url)
    harness.wait_idle()  # a delivery still in flight from the previous test lands before the reset
    receiver.reset()
    yield harness
    harness.close()
