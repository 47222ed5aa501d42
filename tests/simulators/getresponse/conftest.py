"""One GetResponse simulator and one webhook receiver for the whole directory, both real servers
on free loopback ports; every test starts from `POST /_sim/reset` and the test configuration.

`gr` is the handle tests use: `gr.api` (an authenticated client of `/v3`), `gr.control` (the
`/_sim` control API), `gr.receiver` (what reached the webhook URL, and how it answers), and a few
helpers that wait with a deadline instead of sleeping (see `gr_harness.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gr_harness import GetResponseHarness, Receiver, harness_config

from simulators.common.server import ServerThread
from simulators.getresponse.app import create_app


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with ServerThread(receiver.app) as server:
        yield receiver, server.url


@pytest.fixture(scope="session")
def sim_server(receiver_server: tuple[Receiver, str]) -> Iterator[str]:
    with ServerThread(create_app(harness_config(receiver_server[1]))) as server:
        yield server.url


@pytest.fixture
def gr(sim_server: str, receiver_server: tuple[Receiver, str]) -> Iterator[GetResponseHarness]:
    receiver, receiver_url = receiver_server
    harness = GetResponseHarness(sim_server, receiver, receiver_url)
    harness.control.post("/reset").raise_for_status()
    harness.configure(**harness_config(receiver_url).model_dump())
    harness.wait_idle()  # a delivery still in flight from the previous test lands before the reset
    receiver.reset()
    yield harness
    harness.close()
