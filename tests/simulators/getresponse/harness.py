"""What the GetResponse simulator's tests share: the harness around a running simulator, a webhook
receiver that answers as a test tells it, and the vendor's error shape.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.getresponse.seed import DEFAULT_CAMPAIGN_ID
from tests.fixtures.polling import eventually

API_KEY = "test-api-key"
AUTH = {"X-Auth-Token": f"api-key {API_KEY}"}
WEBHOOK_SECRET = "s3cret"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"status":"OK"}'
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


class Receiver:
    """A webhook endpoint that records every request and answers from a script, then `default`."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.default = Reply()

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        with self._lock:
            self.requests.append(
                Received(
                    path=request.url.path,
                    query=dict(request.query_params),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=json.loads(raw) if raw else None,
                    at=time.monotonic(),
                )
            )
            reply = self._script.pop(0) if self._script else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return Response(reply.body, status_code=reply.status, headers=reply.headers)

    def wait_for(self, count: int, *, timeout: float = 5.0) -> list[Received]:
        return eventually(
            lambda: list(self.requests) if len(self.requests) >= count else None,
            timeout=timeout,
            what=f"{count} webhook request(s)",
        )


def harness_config(receiver_url: str) -> dict[str, Any]:
    """What these tests set on top of the simulator's defaults: a key of their own, webhooks to
    the receiver, and quick creates and deliveries."""
    return {
        "api_key": API_KEY,
        "create_delay_ms": 40,
        "webhook_url": f"{receiver_url}/hooks?secret={WEBHOOK_SECRET}",
        "webhook_timeout_s": 1.0,
        "delivery_time_scale": 0.001,
    }


class GetResponseHarness:
    def __init__(self, url: str, receiver: Receiver, receiver_url: str) -> None:
        self.url = url
        self.receiver = receiver
        self.receiver_url = receiver_url
        self.api = httpx.Client(base_url=f"{url}/v3", headers=AUTH, timeout=10)
        self.control = httpx.Client(base_url=f"{url}/_sim", timeout=10)

    def close(self) -> None:
        self.api.close()
        self.control.close()

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.control.post("/config", json=changes)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_idle(self, timeout: float = 5.0) -> None:
        eventually(lambda: self.control.get("/idle").json()["idle"], timeout=timeout, what="idle simulator")

    def contact_body(self, email: str, **extra: Any) -> dict[str, Any]:
        return {"email": email, "campaign": {"campaignId": DEFAULT_CAMPAIGN_ID}, **extra}

    def find(self, email: str, campaign_id: str = DEFAULT_CAMPAIGN_ID) -> dict[str, Any] | None:
        params = {"query[email]": email, "query[campaignId]": campaign_id, "additionalFlags": "exactMatch"}
        found = self.api.get("/contacts", params=params).json()
        return found[0] if found else None

    def create(self, email: str, **extra: Any) -> str:
        """Create through the API (202), wait until it is visible, and return its contactId."""
        response = self.api.post("/contacts", json=self.contact_body(email, **extra))
        assert response.status_code == 202, response.text
        contact = eventually(lambda: self.find(email), what=f"{email} to appear")
        return str(contact["contactId"])

    def subscribe(self, email: str, **extra: Any) -> str:
        """A form subscription through the control API: visible at once."""
        response = self.control.post("/contacts", json={"email": email, **extra})
        assert response.status_code == 201, response.text
        return str(response.json()["contactId"])

    def sim_contact(self, contact_id: str) -> dict[str, Any]:
        return dict(self.control.get(f"/contacts/{contact_id}").json())

    def webhooks(self, event_type: str | None = None) -> list[Received]:
        requests = list(self.receiver.requests)
        return [r for r in requests if event_type is None or r.headers["x-webhook-type"] == event_type]


ERROR_KEYS = {"httpStatus", "code", "codeDescription", "message", "moreInfo", "context", "uuid"}


def assert_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """The vendor's error body, all seven fields, with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["httpStatus"] == status and body["code"] == code, body
    assert body["moreInfo"] == f"https://apidocs.getresponse.com/en/v3/errors/{code}"
    assert body["codeDescription"] and body["message"] and body["uuid"]
    return body
