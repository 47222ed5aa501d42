"""Fixtures for the Salesforce simulator's contract tests.

One simulator and one delivery receiver run for the whole session (real uvicorn servers on free
ports); every test starts from `/_sim/reset`, the default configuration and a fresh token.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sf_harness import API, Receiver, Sim, client_credentials_token, eventually

from simulators.common.server import ServerThread
from simulators.salesforce import SalesforceSimConfig, create_app


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with ServerThread(receiver.app()) as server:
        receiver.url = server.url
        yield receiver


@pytest.fixture(scope="session")
def sim_server() -> Iterator[ServerThread]:
    with ServerThread(create_app(SalesforceSimConfig())) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread, receiver: Receiver) -> Iterator[Sim]:
    with httpx.Client(base_url=sim_server.url, timeout=10) as http:
        assert http.post("/_sim/config", json=SalesforceSimConfig().model_dump()).status_code == 200
        assert http.post("/_sim/reset").status_code == 200
        eventually(lambda: http.get("/_sim/idle").json()["idle"], timeout=5)
        receiver.reset()
        token = client_credentials_token(http)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=sim_server.url + API, headers=headers, timeout=10) as api:
            yield Sim(sim_server.url, http, api, token)
        http.post("/_sim/config", json=SalesforceSimConfig().model_dump())
        http.post("/_sim/reset")
