"""Liveness, readiness and metrics for the orchestrator and Prometheus."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import ResourcesDep
from app.bus import TopicsUnavailable
from app.db.session import ping

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Postgres and Kafka are reachable, and Kafka has our topics",
    responses={503: {"description": "not ready"}},
)
async def readyz(resources: ResourcesDep) -> JSONResponse:
    checks: dict[str, str] = {}

    async def database() -> None:
        async with resources.engine.connect() as connection:
            await ping(connection)

    for name, check in (("database", database), ("kafka", resources.bus.check_ready)):
        try:
            await asyncio.wait_for(check(), 3.0)
            checks[name] = "ok"
        except TopicsUnavailable as exc:
            checks[name] = str(exc)
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}: {exc}".strip()
    ready = all(v == "ok" for v in checks.values())
    failing = [name for name, v in checks.items() if v != "ok"]
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if failing:
        body["failing"] = failing
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
