"""The GetResponse API v3 simulator as one FastAPI app: `create_app(config)`.

The vendor API lives under `/v3` (a client's base URL is `http://127.0.0.1:<port>/v3`), the
control API under `/_sim`. See `simulators/README.md` ("GetResponse simulator") for the whole
behaviour and every choice made where `api-contracts.md` says UNCONFIRMED; each module's
docstring holds the detail for its part:

- `auth.py`: API key / OAuth / MAX `X-Domain`; `Content-Type` on POST;
- `limits.py`: 80/s, 30,000 per 10 minutes, 10 concurrent, the batch throttle, `X-RateLimit-*`;
- `gateway.py`: the order of those checks and injected faults;
- `campaigns.py`, `custom_fields.py`, `tags.py`, `contacts.py`: the vendor endpoints, with
  `contact_bodies.py`, `field_values.py`, `contact_search.py`, `listing.py` and `render.py`;
- `contact_service.py`: every contact change, its `changedOn` and its webhooks;
- `webhooks.py`: type strings, payloads, acknowledgement, retries, batching;
- `control.py`: the `/_sim` control API; `seed.py`: the seeded lists, fields and tags.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from simulators.common.calls import CallLogMiddleware
from simulators.getresponse import campaigns, contacts, control, custom_fields, tags
from simulators.getresponse.config import GetResponseSimConfig
from simulators.getresponse.errors import install_handlers
from simulators.getresponse.gateway import GatewayMiddleware
from simulators.getresponse.state import SimState

__all__ = ["GetResponseSimConfig", "create_app"]


def create_app(config: GetResponseSimConfig | None = None) -> FastAPI:
    state = SimState(config or GetResponseSimConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="GetResponse API v3 simulator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.sim = state
    install_handlers(app)
    for module in (campaigns, custom_fields, tags, contacts):
        app.include_router(module.router, prefix="/v3")
    app.include_router(control.router)
    # The last added is the outermost: the call log sees every answer, the gateway's included.
    app.add_middleware(GatewayMiddleware, state=state)
    app.add_middleware(CallLogMiddleware, log=state.calls)
    return app
