"""The Salesforce simulator as a FastAPI app: `create_app(SalesforceSimConfig(...))`.

A strict stand-in for one Salesforce org, for end-to-end tests, benchmarks, the demo and local
development. It follows `api-contracts.md` PART A point by point; where the contracts say
UNCONFIRMED it takes the stricter behaviour, noted in the module that implements it:

- JWT `exp` at most 3 minutes ahead (oauth.py); PKCE S256 only (oauth.py);
- null fields in Outbound Messages as `xsi:nil="true"` elements; `SOAPAction: ""` (outbound.py);
- Outbound Messages only on create and update, and for a record deleted before delivery its Id
  alone (outbound.py);
- an 18-character id with a wrong checksum is MALFORMED_ID (ids.py);
- 412 PRECONDITION_FAILED / 400 INVALID_HEADER_VALUE bodies for `If-Unmodified-Since` (rest.py);
- `Sforce-Query-Options: batchSize` clamped to 200..2000 (query.py);
- Lead `Status` defaulted to "Open - Not Contacted"; Contact address is `MailingCountry` (schema.py);
- wrongly typed JSON values are refused, not coerced (validation.py);
- a CampaignMember without a person is REQUIRED_FIELD_MISSING, with both keeps ContactId only
  (membership.py); its delete is a hard delete, and members of a deleted Lead, Contact or
  Campaign count as deleted without change events of their own (store.py);
- semi-join refusals beyond the documented ones, and no ORDER BY / LIMIT in a subquery (soql.py).

Modules: ids, timefmt, schema, validation, store (records and transactions) + membership
(CampaignMember rules), sessions + oauth, quota + gateway (auth, quota, faults,
Sforce-Limit-Info), rest (rows, describe), soql (+ soql_tokens, soql_plan: semi-joins) + query +
cursors, composite (sObject Collections), outbound (SOAP) and cdc (change events) on the shared
`simulators.common.deliveries` engine, event_log (72 h of change events) + pubsub (the Pub/Sub
API's gRPC server) + pubsub_avro (its schemas and payloads) + pubsub_faults, control
(`/_sim/...`), state (one org), app (this wiring).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from simulators.common.calls import CallLogMiddleware
from simulators.salesforce import composite, control, oauth, query, rest
from simulators.salesforce.config import SalesforceSimConfig
from simulators.salesforce.deps import call_options_client
from simulators.salesforce.errors import ApiError, OAuthError, SalesforceError, method_not_allowed, not_found
from simulators.salesforce.gateway import VendorGateway
from simulators.salesforce.pubsub import PubSubServer
from simulators.salesforce.state import Simulator

__all__ = ["SalesforceSimConfig", "create_app"]


def create_app(config: SalesforceSimConfig | None = None, *, pubsub_port: int = 0) -> FastAPI:
    """The simulator; its Pub/Sub API gRPC server listens on `pubsub_port` (0: a free port, see
    `GET /_sim/pubsub`) while the app runs."""
    sim = Simulator(config or SalesforceSimConfig())
    pubsub = PubSubServer(sim, port=pubsub_port)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sim.start()
        await pubsub.start()
        try:
            yield
        finally:
            await pubsub.stop()
            await sim.stop()

    app = FastAPI(
        title="Salesforce simulator (sfgr-sync)",
        lifespan=lifespan,
        docs_url="/_sim/docs",
        redoc_url=None,
        openapi_url="/_sim/openapi.json",
    )
    app.state.sim = sim
    app.state.pubsub = pubsub
    for router in (rest.router, query.router, composite.router, oauth.router, control.router):
        app.include_router(router)
    _install_error_handlers(app)
    app.add_middleware(VendorGateway, sim=sim)
    app.add_middleware(CallLogMiddleware, log=sim.calls, client_of=call_options_client)
    return app


def _is_vendor_rest(request: Request) -> bool:
    return request.url.path.startswith("/services/data")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some vendor route accepts on this path (Starlette names only the first route's)."""
    allowed: set[str] = set()
    for router in (rest.router, query.router, composite.router):
        for route in router.routes:
            if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
                allowed |= route.methods or set()
    return sorted(allowed - {"HEAD"})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SalesforceError)
    async def salesforce_error(_: Request, exc: SalesforceError) -> Response:
        return exc.response()

    @app.exception_handler(OAuthError)
    async def oauth_error(_: Request, exc: OAuthError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_vendor_rest(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 405:
            return method_not_allowed(request.method, _allowed_methods(request)).response()
        if exc.status_code == 404:
            return not_found().response()
        return SalesforceError(exc.status_code, ApiError("UNKNOWN_EXCEPTION", str(exc.detail))).response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if not _is_vendor_rest(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        return SalesforceError(400, ApiError("INVALID_INPUT", str(exc.errors()))).response()
