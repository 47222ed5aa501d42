"""Real servers for the whole test run: a throwaway PostgreSQL cluster and a Tansu broker.

Both start once per run on free loopback ports (or come from SFGR_TEST_DATABASE_URL and
SFGR_TEST_KAFKA) and are torn down at the end. A server that cannot start fails the tests that
need it; nothing is ever skipped for a missing server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.bus import Bus
from app.db.migrate import upgrade
from app.settings import Environment, Settings
from devstack.broker import TansuBroker
from devstack.postgres import PostgresServer
from devstack.s3 import MotoS3Server

pytest_plugins = ["tests.fixtures.simulators", "tests.fixtures.hang_dump"]

# Settings built anywhere in the test run (e.g. `Settings(database_url=...)` in a helper) are a test
# environment's: without it they would be production's, which refuse to start without a key.
os.environ.setdefault("SFGR_ENVIRONMENT", "test")
# The simulators listen on loopback over http; vendor URLs may name them (app/clients/vendor_hosts.py).
LOOPBACK_HOSTS = "127.0.0.1,localhost"
os.environ.setdefault("SFGR_ALLOWED_VENDOR_HOSTS", LOOPBACK_HOSTS)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sfgr-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(workdir: Path) -> Iterator[str]:
    """URL of a server where the tests may create databases."""
    given = os.environ.get("SFGR_TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = PostgresServer.create(workdir / "postgres")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def create_database(postgres_url: str) -> Callable[..., str]:
    """Makes a new database on the test server, empty or a copy of the database at `template`
    (a URL this made; copied only while nothing is connected to it), and returns its URL."""

    def create(template: str | None = None) -> str:
        url = make_url(postgres_url)
        name = f"sfgr_{uuid.uuid4().hex[:12]}"
        admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""

        async def run() -> None:
            connection = await asyncpg.connect(admin_dsn)
            try:
                await connection.execute(f'CREATE DATABASE "{name}"{copy}')
            finally:
                await connection.close()

        asyncio.run(run())
        return url.set(database=name).render_as_string(hide_password=False)

    return create


@pytest.fixture(scope="session")
def database_template(create_database: Callable[..., str]) -> str:
    """A database migrated to head that nothing stays connected to, for tests that need a database
    of their own: `create_database(template=database_template)` copies it in a fraction of a
    second."""
    url = create_database()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def database_url(create_database: Callable[..., str], database_template: str) -> str:
    """A database migrated to head, shared by the run (tests keep their rows apart by ids)."""
    return create_database(template=database_template)


@pytest.fixture(scope="session")
def kafka_bootstrap(workdir: Path) -> Iterator[str]:
    given = os.environ.get("SFGR_TEST_KAFKA")
    if given:
        yield given
        return
    broker = TansuBroker.create(workdir / "tansu.log")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def own_broker(workdir: Path) -> Iterator[TansuBroker]:
    """A broker of one test alone, on a port that stays the same across stop and start: for tests
    of what happens while Kafka is down."""
    broker = TansuBroker.create(workdir / f"tansu-{uuid.uuid4().hex[:8]}.log")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def persistent_broker(workdir: Path) -> Iterator[TansuBroker]:
    """A broker of one test alone that keeps its data across stop and start (topics, records,
    consumer groups and committed offsets), as a real Kafka broker does: Tansu's s3:// storage on
    a local S3 server of its own."""
    name = uuid.uuid4().hex[:8]
    s3 = MotoS3Server.create(workdir / f"s3-{name}.log", bucket="tansu")
    try:
        broker = TansuBroker.create(workdir / f"tansu-{name}.log", storage="s3://tansu/", env=s3.client_env())
        try:
            yield broker
        finally:
            broker.stop()
    finally:
        s3.stop()


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str) -> Settings:
    """Settings for one test: its own topic prefix, so tests never read each other's messages."""
    return Settings(
        environment=Environment.TEST,
        allowed_vendor_hosts=LOOPBACK_HOSTS,
        database_url=database_url,  # type: ignore[arg-type]
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_enable_idempotence=False,  # Tansu rejects the idempotent producer (design.md)
        kafka_topic_partitions=3,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        kafka_session_timeout_ms=1500,
        kafka_heartbeat_interval_ms=300,
        kafka_fetch_max_wait_ms=50,  # as the dev stack: Tansu answers a waiting fetch late
        log_format="console",
    )


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[Bus]:
    bus = Bus(settings)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()
