"""What stands in front of every vendor-API route, in the order the checks run:

1. authentication and `X-Domain` (401/1014, `auth.py`): unauthenticated calls are not counted;
2. the throttles (429/1015, `limits.py`): counted, and a concurrency slot held until the answer;
3. `Content-Type: application/json` on POST (400/1000, `auth.py`);
4. injected faults from `POST /_sim/faults`: latency, hangs, and errors rendered in the vendor's
   error shape (a 429 as code 1015, anything else as code 1);
5. the route.

Every answer on the way out gets the `X-RateLimit-*` headers. The control API (`/_sim/...`) passes
straight through: it is not the vendor's, not authenticated and not throttled.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.getresponse.auth import authenticate, check_content_type
from simulators.getresponse.errors import GetResponseError
from simulators.getresponse.limits import throttled
from simulators.getresponse.state import SimState

BATCH_PATH = "/v3/contacts/batch"


def injected_error(status: int) -> GetResponseError:
    if status == 429:
        return throttled(1, 1)
    return GetResponseError(status, 1, "Internal error (injected by the simulator)")


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, *, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.state.limiter.headers()]
            await send(message)

        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = authenticate(headers, self.state.config)
        if refusal is None:
            refusal = self.state.limiter.admit(batch=method == "POST" and path == BATCH_PATH)
        if refusal is not None:
            await refusal.response()(scope, receive, send_with_limits)
            return
        try:
            refusal = check_content_type(method, headers)
            if refusal is None:
                faults = self.state.faults
                query = scope["query_string"].decode("latin-1")
                await faults.delay_call(method, path, query)
                status = faults.pick_error(method, path, query)
                refusal = injected_error(status) if status is not None else None
            if refusal is not None:
                await refusal.response()(scope, receive, send_with_limits)
                return
            await self.app(scope, receive, send_with_limits)
        finally:
            self.state.limiter.release()
