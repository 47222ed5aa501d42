"""The sync engine in-process against real Postgres (a database of each test's own, copied from a
migrated template, because connections are one per kind) and the vendors' simulators (the shared
servers of tests/fixtures/simulators.py, reset for every test). No broker: the engine takes its
events from the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tests.fixtures.simulators import reset_simulator
from tests.integration.consumers.harness import (
    GETRESPONSE_CONFIG,
    Engine,
    EngineFor,
    GetResponseAccount,
    running_engine,
)


@pytest.fixture
def engine_database(create_database: Callable[..., str], database_template: str) -> str:
    return create_database(template=database_template)


@pytest.fixture
def getresponse_url(getresponse_server: str) -> str:
    reset_simulator(getresponse_server, **GETRESPONSE_CONFIG)
    return getresponse_server


@pytest.fixture
def engine_for(engine_database: str, salesforce_url: str, getresponse_url: str) -> EngineFor:
    """`async with engine_for(preferred_system=Side.GETRESPONSE) as engine:`, once per test, for a
    sync set up otherwise than the demo's."""

    def start(**sync: Any) -> AbstractAsyncContextManager[Engine]:
        return running_engine(engine_database, salesforce_url, getresponse_url, **sync)

    return start


@pytest.fixture
async def engine(engine_for: EngineFor) -> AsyncIterator[Engine]:
    """The demo's sync: Leads and Contacts <-> the main list, Salesforce preferred, new people
    become Leads with LeadSource "GetResponse", leaving the list sets GRdeleted__c and the email
    opt-out."""
    async with engine_for() as running:
        yield running


@pytest.fixture
async def double_opt_in_list(getresponse_url: str) -> str:
    """A GetResponse list where our creates stay invisible until the person confirms: a pending
    create that lasts as long as a test wants, with no race against the create delay."""
    account = GetResponseAccount(getresponse_url)
    try:
        return await account.create_list("sfgr_double_optin", double_opt_in=True)
    finally:
        await account.close()
