"""The local stack behind `sfgr dev up`, `make demo` and the end-to-end tests.

It starts, each on a free loopback port and in the background: a throwaway PostgreSQL, a Tansu
broker (in memory, or with `persistent_kafka` on a local S3 server that keeps its data across a
restart of the broker), both vendor simulators (their deliveries pointed at the api), the api and
the consumers, and with `with_subscriber` the Pub/Sub API subscriber (`sfgr subscribe`, against
the Salesforce simulator's gRPC server, which then replaces the CometD relay for CDC); runs the
migrations; connects the simulated org and account; and records everything it started in
`<state dir>/stack.json`, so `down` stops exactly those processes and removes their data.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from cryptography.fernet import Fernet

from app.bus import CONSUMER_GROUPS
from app.clients.vendors import Vendors
from app.control import getresponse_connect, salesforce_connect, syncs, tokens
from app.control.getresponse_connect import GetResponseConnect
from app.control.salesforce_connect import ClientCredentialsConnect
from app.control.syncs import SyncCreate
from app.control.tokens import Scope
from app.crypto import SecretBox
from app.db.migrate import upgrade
from app.db.session import create_engine, session_factory
from app.domain.sides import ObjectType, Side
from app.settings import Environment, Settings
from devstack import s3
from devstack.broker import TansuBroker, wait_for_port
from devstack.defaults import DEMO_MAPPING, MAIN_LIST
from devstack.ports import free_port
from devstack.postgres import PostgresServer, find_bindir
from devstack.processes import Started, alive, kill, spawn, terminate, wait_file, wait_http
from simulators.getresponse.config import GetResponseSimConfig
from simulators.salesforce.config import DEFAULT_ORG_ID as SALESFORCE_SIM_ORG_ID

STATE_FILE = "stack.json"
KAFKA_BUCKET = "tansu"


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@dataclass
class Stack:
    """What one `up` started; serialised to stack.json."""

    state_dir: Path
    info: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Started] = field(default_factory=list)
    postgres: dict[str, Any] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def save(self) -> None:
        data = {
            "info": self.info,
            "env": self.env,
            "postgres": self.postgres,
            "processes": [p.to_json() for p in self.processes],
        }
        (self.state_dir / STATE_FILE).write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> Stack | None:
        path = state_dir / STATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(
            state_dir=state_dir,
            info=data["info"],
            env=data["env"],
            postgres=data["postgres"],
            processes=[Started(**p) for p in data["processes"]],
        )

    def process(self, name: str) -> Started:
        for started in self.processes:
            if started.name == name:
                return started
        raise KeyError(f"no process named {name!r} in this stack")

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        ready_url: str | None = None,
        ready_file: bool = False,
    ) -> Started:
        """Spawn a process, with `env` added to the stack's environment; wait for `ready_url` to
        answer 200, or for it to create its ready file."""
        marker = self.state_dir / "ready" / name
        extra = env or {}
        environment = {**self.env, **extra}
        if ready_file:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.unlink(missing_ok=True)
            environment["SFGR_READY_FILE"] = str(marker)
        started = replace(spawn(name, argv, env=environment, logs=self.logs), env=extra)
        self.processes = [p for p in self.processes if p.name != name] + [started]
        self.save()
        if ready_url:
            wait_http(ready_url, started)
        if ready_file:
            wait_file(marker, started)
        return started

    def start_observed(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> Started:
        """Start a worker process that serves /metrics and /healthz on a port of its own (listed
        in the stack's `metrics`), and wait for its ready file."""
        port = free_port()
        started = self.start(
            name, argv, env={"SFGR_METRICS_PORT": str(port), **(env or {})}, ready_file=True
        )
        self.info.setdefault("metrics", {})[name] = f"http://127.0.0.1:{port}/metrics"
        self.save()
        return started

    def restart(self, name: str, *, ready_url: str | None = None, ready_file: bool = False) -> Started:
        """Start a stopped (or killed) process again with the same command and environment."""
        previous = self.process(name)
        terminate(previous)
        return self.start(name, previous.argv, env=previous.env, ready_url=ready_url, ready_file=ready_file)

    def kill(self, name: str) -> None:
        kill(self.process(name))

    def postgres_server(self) -> PostgresServer:
        """The stack's Postgres: `stop()` shuts it down fast, `start()` brings it back on its
        port and data."""
        return PostgresServer(
            datadir=Path(self.postgres["datadir"]),
            port=self.postgres["port"],
            bindir=Path(self.postgres["bindir"]),
        )

    def stop(self, name: str) -> None:
        terminate(self.process(name))


def consumer_roles() -> list[str]:
    return sorted(CONSUMER_GROUPS)


def up(
    state_dir: Path,
    *,
    with_consumers: bool = True,
    with_poller: bool = True,
    with_subscriber: bool = False,
    persistent_kafka: bool = False,
    env: dict[str, str] | None = None,
) -> Stack:
    """Start everything; returns the running stack (already saved to stack.json).

    `persistent_kafka` keeps the broker's data on a local S3 server (process `s3`), so that the
    `kafka` process can be stopped and restarted without losing topics, messages or offsets.
    `env` adds to (or overrides) the settings every process of the product gets.
    `with_subscriber` brings CDC through the Pub/Sub API subscriber (process `subscriber`) instead
    of the simulator's CometD relay; Outbound Messages stay on either way.
    """
    existing = Stack.load(state_dir)
    if existing is not None:
        if any(alive(p) for p in existing.processes):
            return existing
        down(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(state_dir=state_dir)
    try:
        _start_all(
            stack,
            with_consumers=with_consumers,
            with_poller=with_poller,
            with_subscriber=with_subscriber,
            persistent_kafka=persistent_kafka,
            env=env or {},
        )
    except BaseException:
        down(state_dir)
        raise
    return stack


def _start_all(
    stack: Stack,
    *,
    with_consumers: bool,
    with_poller: bool,
    with_subscriber: bool,
    persistent_kafka: bool,
    env: dict[str, str],
) -> None:
    datadir = stack.state_dir / "postgres"
    if os.geteuid() == 0:
        # As root, PostgreSQL runs as an unprivileged user who must reach its data directory; the
        # state directory may sit inside a private one, so the data lives in a temp dir of its own.
        datadir = Path(tempfile.mkdtemp(prefix="sfgr-pg-")) / "data"
    pg = PostgresServer(datadir=datadir, port=free_port(), bindir=find_bindir())
    stack.postgres = {"datadir": str(pg.datadir), "bindir": str(pg.bindir), "port": pg.port}
    stack.save()
    pg.start()

    broker = TansuBroker(port=free_port(), log_path=stack.logs / "kafka.log")
    if persistent_kafka:
        s3_port = free_port()
        stack.start("s3", s3.command(s3_port))
        wait_for_port(s3_port)
        s3_endpoint = f"http://127.0.0.1:{s3_port}"
        s3.create_bucket(s3_endpoint, KAFKA_BUCKET)
        broker.storage, broker.env = f"s3://{KAFKA_BUCKET}/", s3.client_env(s3_endpoint)
    stack.start("kafka", broker.command(), env=broker.env)
    wait_for_port(broker.port)
    upgrade(pg.url)

    api_port, salesforce_port, getresponse_port = free_port(), free_port(), free_port()
    pubsub_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    stack.env = {
        "SFGR_ENVIRONMENT": "development",
        "SFGR_DATABASE_URL": pg.url,
        "SFGR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        # Tansu rejects the idempotent producer and delays group joins (design.md, README).
        "SFGR_KAFKA_ENABLE_IDEMPOTENCE": "false",
        "SFGR_KAFKA_SESSION_TIMEOUT_MS": "1500",
        "SFGR_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        # Tansu answers a waiting fetch late: a short wait keeps a change's Kafka hop to a few ms.
        "SFGR_KAFKA_FETCH_MAX_WAIT_MS": "50",
        "SFGR_KAFKA_TOPIC_PARTITIONS": "3",
        "SFGR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        # The simulators are vendor hosts here: on loopback, over http (app/clients/vendor_hosts.py).
        "SFGR_ALLOWED_VENDOR_HOSTS": "127.0.0.1",
        "SFGR_LOG_FORMAT": "json",
        "SFGR_API_PORT": str(api_port),
        "SFGR_POLL_INTERVAL_S": "0.5",
        # Only the processes that get a port of their own serve /metrics (`start_observed`).
        "SFGR_METRICS_PORT": "0",
        "SFGR_METRICS_HOST": "127.0.0.1",
        # Reconciliation would resync whole lists behind the tests' backs; `POST /v1/resync` does it.
        "SFGR_RECONCILE_INTERVAL_S": "0",
        # The Salesforce simulator is the connected app's login host, production and sandbox alike.
        "SFGR_SALESFORCE_OAUTH_CLIENT_ID": "sfgr-sim-client",
        "SFGR_SALESFORCE_OAUTH_CLIENT_SECRET": "sfgr-sim-secret",
        "SFGR_SALESFORCE_LOGIN_URL": f"http://127.0.0.1:{salesforce_port}",
        "SFGR_SALESFORCE_SANDBOX_LOGIN_URL": f"http://127.0.0.1:{salesforce_port}",
        # The simulator's Pub/Sub API: plaintext gRPC on loopback; its keepalives come every 5 s.
        "SFGR_SALESFORCE_PUBSUB_ADDRESS": f"127.0.0.1:{pubsub_port}",
        "SFGR_SALESFORCE_PUBSUB_TLS": "false",
        "SFGR_SALESFORCE_PUBSUB_RETRY_BASE_S": "0.2",
        "SFGR_SALESFORCE_PUBSUB_RETRY_MAX_S": "2",
        **env,
    }
    stack.info = {
        "api": api,
        "database_url": pg.url,
        "kafka": broker.bootstrap,
        "salesforce": f"http://127.0.0.1:{salesforce_port}",
        "salesforce_pubsub": f"127.0.0.1:{pubsub_port}",
        "salesforce_org_id": SALESFORCE_SIM_ORG_ID,
        "salesforce_client_id": "sfgr-sim-client",
        "salesforce_client_secret": "sfgr-sim-secret",
        "getresponse": f"http://127.0.0.1:{getresponse_port}/v3",
        "getresponse_api_key": "sfgr-sim-api-key",
        "state_dir": str(stack.state_dir),
        "logs": str(stack.logs),
    }
    stack.save()

    stack.start(
        "salesforce-simulator",
        python_module(
            "simulators.salesforce",
            "--port",
            str(salesforce_port),
            "--org-id",
            SALESFORCE_SIM_ORG_ID,
            "--pubsub-port",
            str(pubsub_port),
            "--pubsub-keepalive-s",
            "5",
        ),
        ready_url=f"http://127.0.0.1:{salesforce_port}/_sim/idle",
    )
    stack.start(
        "getresponse-simulator",
        python_module(
            "simulators.getresponse",
            "--port",
            str(getresponse_port),
        ),
        ready_url=f"http://127.0.0.1:{getresponse_port}/_sim/idle",
    )
    asyncio.run(_connect_simulators(stack, cometd_relay=not with_subscriber))
    stack.start("api", python_module("app", "api", "--port", str(api_port)), ready_url=f"{api}/readyz")
    # Each process's /metrics, by name: the api's on its own port, the others' on a port each.
    stack.info["metrics"] = {"api": f"{api}/metrics"}
    if with_consumers:
        for role in consumer_roles():
            stack.start_observed(f"consumer-{role}", python_module("app", "consume", role))
    if with_poller:
        stack.start_observed("poller", python_module("app", "poll"))
    if with_subscriber:
        start_subscriber(stack)
    stack.save()


def start_subscriber(stack: Stack, name: str = "subscriber", env: dict[str, str] | None = None) -> Started:
    """One `sfgr subscribe` process, its /healthz on a port of its own; ready once it holds the
    org's lock (a second one stands by, and is started without waiting for that)."""
    health = {"SFGR_SUBSCRIBER_HEALTH_PORT": str(free_port()), **(env or {})}
    standby = any(p.name.startswith("subscriber") and alive(p) for p in stack.processes if p.name != name)
    started = stack.start(name, python_module("app", "subscribe"), env=health, ready_file=not standby)
    port = health["SFGR_SUBSCRIBER_HEALTH_PORT"]
    stack.info.setdefault("metrics", {})[name] = f"http://127.0.0.1:{port}/metrics"
    stack.save()
    return started


async def _connect_simulators(stack: Stack, *, cometd_relay: bool) -> None:
    """Connect the simulated org and account the way an operator would, through the control API's
    services (one token, one call, then stored), point the simulators' deliveries at the inbound
    endpoints with the secrets the connects generated, create the demo sync (validated against the
    simulators' metadata) and an API token with every scope."""
    info = stack.info
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        allowed_vendor_hosts=stack.env["SFGR_ALLOWED_VENDOR_HOSTS"],
        database_url=info["database_url"],
        encryption_key=stack.env["SFGR_ENCRYPTION_KEY"],
        public_base_url=info["api"],
    )
    box = SecretBox(settings)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    vendors = Vendors(settings, sessions)
    try:
        async with sessions() as session:
            salesforce = await salesforce_connect.connect_client_credentials(
                session,
                box,
                settings,
                ClientCredentialsConnect(
                    client_id=info["salesforce_client_id"],
                    client_secret=info["salesforce_client_secret"],
                    my_domain_url=info["salesforce"],
                ),
                public_base=info["api"],
            )
            getresponse = await getresponse_connect.connect_getresponse(
                session,
                box,
                GetResponseConnect(
                    api_key=info["getresponse_api_key"],
                    api_base_url=info["getresponse"],
                    # The simulator has no GET /accounts; its webhooks name this account.
                    account_id=GetResponseSimConfig().account_id,
                ),
                public_base=info["api"],
                hosts=vendors.hosts,
            )
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10), raise_for_status=True
            ) as http:
                sf_config = {
                    "outbound_url": salesforce.inbound.outbound_message_url,
                    "cdc_url": salesforce.inbound.change_events_url if cometd_relay else None,
                    "cdc_secret": salesforce.inbound.change_events_secret,
                    # Event Relay stays off (event_relay_url unset) until a test or a developer
                    # points it at `event_relay_url`; the key is in place for when they do.
                    "event_relay_key_header": salesforce.inbound.event_relay_key_header,
                    "event_relay_key": salesforce.inbound.event_relay_key,
                    # Joining a sync's Campaign is a CampaignMember created (app/inbound/campaign_members.py).
                    "cdc_entities": ["Lead", "Contact", "CampaignMember"],
                }
                gr_config = {"webhook_url": getresponse.inbound.webhook_url}
                async with http.post(f"{info['salesforce']}/_sim/config", json=sf_config):
                    pass
                gr_control = info["getresponse"].removesuffix("/v3")
                async with http.post(f"{gr_control}/_sim/config", json=gr_config):
                    pass
            sync = await syncs.create_sync(
                session,
                vendors,
                SyncCreate(
                    name="demo: Salesforce Leads and Contacts <-> GetResponse list sfgr_main",
                    campaign_id=MAIN_LIST,
                    salesforce_objects=[ObjectType.LEAD, ObjectType.CONTACT],
                    create_as=ObjectType.LEAD,
                    preferred_system=Side.SALESFORCE,
                    mapping=DEMO_MAPPING,
                    lead_source="GetResponse",
                    marker_field="GRdeleted__c",
                    set_opt_out=True,
                ),
            )
            token = await tokens.create_token(session, name="dev stack", scopes=[s.value for s in Scope])
    finally:
        await vendors.close()
        await engine.dispose()
    outbound_key = parse_qs(urlsplit(salesforce.inbound.outbound_message_url).query)["key"][0]
    info.update(
        salesforce_org_id=salesforce.connection.external_id,
        outbound_message_key=outbound_key,
        change_events_secret=salesforce.inbound.change_events_secret,
        event_relay_url=salesforce.inbound.event_relay_url,
        event_relay_key=salesforce.inbound.event_relay_key,
        getresponse_webhook_secret=parse_qs(urlsplit(getresponse.inbound.webhook_url).query)["secret"][0],
        sync_id=str(sync.id),
        getresponse_list=MAIN_LIST,
        api_token=token.token,
    )
    stack.save()


def down(state_dir: Path) -> list[str]:
    """Stop what `up` started (and nothing else); remove the state directory. Returns what stopped."""
    stack = Stack.load(state_dir)
    stopped: list[str] = []
    if stack is not None:
        for started in reversed(stack.processes):
            if alive(started):
                terminate(started)
                stopped.append(started.name)
        if stack.postgres:
            pg = stack.postgres_server()
            if (pg.datadir / "postmaster.pid").exists():
                pg.stop()
                stopped.append("postgres")
            if not pg.datadir.is_relative_to(state_dir):
                shutil.rmtree(pg.datadir.parent, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
    return stopped
