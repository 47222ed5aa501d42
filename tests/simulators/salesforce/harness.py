"""Helpers of the Salesforce simulator's contract tests: the handle tests drive the simulator with
(`SalesforceSim`) and a stand-in for the sync service's inbound endpoints (`Receiver`)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET, Sim

API = "/services/data/v62.0"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>{value}</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)

REQUIRED: dict[str, dict[str, Any]] = {
    "Lead": {"LastName": "Lee", "Company": "Acme"},
    "Contact": {"LastName": "Lee"},
    "Campaign": {"Name": "Spring Webinar"},
}


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A stand-in for the sync service's inbound endpoints: records what arrives and answers
    what the test asks for (default: a SOAP Ack for /om, 200 for anything else)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.replies.clear()

    def reply(self, path: str, *answers: tuple[int, str, str]) -> None:
        """Queue answers (status, body, content type) for the next requests to `path`."""
        with self.lock:
            self.replies.setdefault(path, []).extend(answers)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> tuple[int, str, str]:
        with self.lock:
            queued = self.replies.get(path)
            if queued:
                return queued.pop(0)
        if path == "/om":
            return 200, ACK.format(value="true"), "text/xml"
        return 200, "{}", "application/json"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["POST", "GET"])
        async def catch_all(path: str, request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append(
                    Received("/" + path, request.url.query, dict(request.headers), body, time.monotonic())
                )
            status, text, content_type = self.answer("/" + path)
            return Response(text, status_code=status, media_type=content_type)

        return app


class SalesforceSim(Sim):
    """A `Sim` that also speaks the REST API (`api`) as the integration user, once `log_in` has
    fetched a token."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.token = ""
        self.api = httpx.Client(base_url=url + API, timeout=10)

    def close(self) -> None:
        self.api.close()
        super().close()

    def log_in(self) -> None:
        self.token = client_credentials_token(self.http)
        self.api.headers["Authorization"] = f"Bearer {self.token}"

    def create(self, sobject: str = "Lead", **values: Any) -> str:
        """Creates through the REST API, filling in what the object requires."""
        body = {**REQUIRED.get(sobject, {}), **values}
        response = self.api.post(f"/sobjects/{sobject}/", json=body)
        assert response.status_code == 201, response.text
        record_id: str = response.json()["id"]
        return record_id

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.http.get(f"/_sim/records/{sobject}/{record_id}").json()
        return result


def client_credentials_token(http: httpx.Client) -> str:
    response = http.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
