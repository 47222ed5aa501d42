"""The api process: FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import (
    audit,
    connections,
    contacts,
    dead_letters,
    discovery,
    getresponse_inbound,
    jobs,
    ops,
    salesforce_inbound,
    syncs,
)
from app.api.deps import Resources
from app.api.middleware import RequestContextMiddleware
from app.api.openapi import operation_id
from app.bus import Bus, TopicsUnavailable
from app.control.discovery import DiscoveryCache
from app.crypto import SecretBox
from app.db.session import create_engine, session_factory
from app.inbound.secrets import InboundSecretsCache
from app.logs import configure_logging, get_logger
from app.outbox import OutboxRelay
from app.retention import RetentionPruner
from app.settings import Settings, get_settings
from app.tracing import instrument_api
from app.ui import pages as ui_pages

log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        bus = Bus(settings)
        try:
            await bus.start()
        except TopicsUnavailable as exc:
            # Start, but not ready: /readyz answers 503 with this message until the topics exist
            # (it checks again on every call), so a rollout stops here and says why.
            log.error("kafka topics unavailable at start-up", error=str(exc))
        except Exception as exc:
            # Start anyway: /readyz reports Kafka, and publishing reconnects on its own.
            log.warning("kafka not reachable at start-up", error=str(exc))
        sessions = session_factory(engine)
        # The api makes jobs, so it sends their requests: at once after each commit (nudged by
        # start_job), and at start-up whatever a crashed process left unsent.
        relay = OutboxRelay(settings, sessions=sessions, bus=bus)
        relaying = asyncio.create_task(relay.run())
        # The api always runs, so it prunes old rows too (one pruner at a time; app/retention.py).
        pruner = RetentionPruner(settings, engine=engine, sessions=sessions)
        pruning = asyncio.create_task(pruner.run())
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            sessions=sessions,
            bus=bus,
            inbound_secrets=InboundSecretsCache(sessions, SecretBox(settings)),
            relay=relay,
            discovery=DiscoveryCache(settings.discovery_cache_s),
        )
        try:
            yield
        finally:
            relay.stop()
            pruner.stop()
            await relaying
            await pruning
            await bus.stop()
            await engine.dispose()

    app = FastAPI(
        title="sfgr-sync",
        version="0.1.0",
        summary="Two-way, near-real-time contact sync between Salesforce and GetResponse",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(RequestContextMiddleware)
    instrument_api(app)
    app.include_router(ops.router)
    app.include_router(salesforce_inbound.router)
    app.include_router(getresponse_inbound.router)
    app.include_router(connections.router)
    app.include_router(syncs.router)
    app.include_router(dead_letters.router)
    app.include_router(contacts.router)
    app.include_router(jobs.router)
    app.include_router(audit.router)
    app.include_router(discovery.router)
    ui_pages.install(app)
    return app


def build_app() -> FastAPI:
    """Entry point for `uvicorn --factory app.main:build_app`."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
