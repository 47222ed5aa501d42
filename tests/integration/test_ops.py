"""Liveness, readiness and metrics of the api, on real servers."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import SecretStr

from app.bus import Bus
from app.main import create_app
from app.settings import Settings
from devstack.ports import free_port
from simulators.common.server import ServerThread


def test_healthz_readyz_and_metrics_answer_when_everything_is_up(settings: Settings) -> None:
    with ServerThread(create_app(settings)) as api:
        assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{api.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
        metrics = httpx.get(f"{api.url}/metrics")
        assert metrics.status_code == 200
        assert "sfgr_inbound_received_total" in metrics.text
        assert ready.headers["x-request-id"]


def test_readyz_is_503_naming_kafka_when_the_broker_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    with ServerThread(create_app(broken)) as api:
        assert httpx.get(f"{api.url}/healthz").status_code == 200  # alive, just not ready
        ready = httpx.get(f"{api.url}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["kafka"]
        assert ready.json()["checks"]["database"] == "ok"


def test_readyz_is_503_naming_missing_topics_while_creation_is_off_and_ready_once_they_exist(
    settings: Settings,
) -> None:
    without_creation = settings.model_copy(update={"kafka_create_topics": False})
    with ServerThread(create_app(without_creation)) as api:
        assert httpx.get(f"{api.url}/healthz").status_code == 200  # it runs, and says why it is not ready
        ready = httpx.get(f"{api.url}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["kafka"]
        named = ", ".join(Bus(settings).topics.all())
        assert ready.json()["checks"]["kafka"].startswith(
            f"Kafka topics {named} missing and SFGR_KAFKA_CREATE_TOPICS is false"
        )

        asyncio.run(Bus(settings).ensure_topics())  # provisioned meanwhile, as the cluster's owners would
        ready = httpx.get(f"{api.url}/readyz", timeout=15)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["kafka"] == "ok"


def test_readyz_is_503_naming_the_database_when_postgres_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"database_url": SecretStr(f"postgresql+asyncpg://sfgr@127.0.0.1:{free_port()}/sfgr")}
    )
    with ServerThread(create_app(broken)) as api:
        ready = httpx.get(f"{api.url}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["database"]
        assert "unreachable" in ready.json()["checks"]["database"]
