"""What every vendor-API request goes through before a route sees it.

For `/services/data/vXX.X/...` (api-contracts A3):
1. the version must be `vNN.0` with NN >= 50, else 404 NOT_FOUND (any such version is served;
   `GET /services/data/` lists 50.0 to 66.0); a trailing slash is ignored, as Salesforce does;
2. `Authorization: Bearer <token>` (or `OAuth <token>`) must name a live session, else 401
   INVALID_SESSION_ID with `WWW-Authenticate: Token`;
3. the call is counted against the rolling 24 h quota; once spent: 403 REQUEST_LIMIT_EXCEEDED,
   not counted, no Retry-After (C6);
4. injected faults (`/_sim/faults`): latency, hangs, errors in Salesforce's shape;
5. the response, whatever its status, carries `Sforce-Limit-Info: api-usage=<used>/<limit>`.

The versions list `/services/data/` needs no session and is not counted. OAuth endpoints and the
identity URL get faults too, in the OAuth error shape. `/_sim/...` is never touched.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.salesforce.errors import (
    SalesforceError,
    injected,
    injected_oauth,
    invalid_session,
    not_found,
    request_limit_exceeded,
)
from simulators.salesforce.state import Simulator

_VERSIONED = re.compile(r"/services/data/v(\d+)\.(\d+)(/.*)?")
MIN_VERSION = 50


class VendorGateway:
    def __init__(self, app: ASGIApp, *, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._observe(scope)
        path: str = scope["path"]
        if path.startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        faults = self.sim.faults
        query = scope["query_string"].decode("latin-1")
        await faults.delay_call(scope["method"], path, query)
        if path.startswith("/services/data/v"):
            await self._versioned(scope, receive, send)
            return
        status = faults.pick_error(scope["method"], path, query)
        if status is not None:
            if path.startswith("/services/oauth2") or path.startswith("/id/"):
                await injected_oauth(status).response()(scope, receive, send)
            else:
                await injected(status).response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _versioned(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        match = _VERSIONED.fullmatch(path)
        if not match or int(match[1]) < MIN_VERSION or match[2] != "0":
            await not_found().response()(scope, receive, send)
            return
        version = f"{int(match[1])}.0"
        scope = dict(scope, path=path.rstrip("/"), raw_path=path.rstrip("/").encode())
        state = scope.setdefault("state", {})
        state["sf_version"] = version

        async def with_limit_info(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"sforce-limit-info", self.sim.quota.header().encode()))
                message = dict(message, headers=headers)
            await send(message)

        error = self._admit(scope)
        if error is not None:
            extra = {"WWW-Authenticate": "Token"} if error.status == 401 else None
            await error.response(extra)(scope, receive, with_limit_info)
            return
        await self.app(scope, receive, with_limit_info)

    def _admit(self, scope: Scope) -> SalesforceError | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        session = None
        if scheme.lower() in {"bearer", "oauth"} and token.strip():
            session = self.sim.sessions.validate(token.strip(), self.sim.config.session_timeout_s)
        if session is None:
            return invalid_session()
        scope["state"]["sf_session"] = session
        if not self.sim.quota.consume():
            return request_limit_exceeded()
        query = scope["query_string"].decode("latin-1")
        status = self.sim.faults.pick_error(scope["method"], scope["path"], query)
        return injected(status) if status is not None else None

    def _observe(self, scope: Scope) -> None:
        for key, value in scope["headers"]:
            if key == b"host":
                self.sim.observed_url = f"{scope.get('scheme', 'http')}://{value.decode('latin-1')}"
                return
