"""What the client tests share: a handle on a running simulator's control API, the simulators'
baseline configuration, waiting with a deadline, and the calls a simulator saw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

import httpx

from app.clients.salesforce_auth import ClientCredentialsGrant

T = TypeVar("T")

SF_CLIENT_ID = "sfgr-sim-client"
SF_CLIENT_SECRET = "sfgr-sim-secret"
SF_USERNAME = "integration@sfgr-sim.example"
CALL_CLIENT = "sfgr-client-tests"
GR_API_KEY = "sfgr-sim-api-key"
GR_OAUTH_TOKEN = "sfgr-sim-oauth-token"

SF_BASELINE: dict[str, Any] = {
    "api_quota": 100_000,
    "duplicate_rule_on_email": False,
    "jwt_public_key": None,
    "outbound_url": None,
    "cdc_url": None,
}
GR_BASELINE: dict[str, Any] = {
    "api_key": GR_API_KEY,
    "max_domain": None,
    "create_delay_ms": 50,
    "webhook_url": None,
    "rate_per_second": 80,
    "rate_per_window": 30_000,
    "window_seconds": 600.0,
    "max_concurrent": 10,
    "batch_rate_per_window": 80,
    "batch_rate_per_second": 1,
}


class Sim:
    """The `/_sim` control API (and anything else) of one simulator, over plain HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def close(self) -> None:
        self.http.close()

    def reset(self, baseline: dict[str, Any]) -> None:
        self.http.post("/_sim/reset").raise_for_status()
        self.configure(**baseline)

    def configure(self, **patch: Any) -> None:
        self.http.post("/_sim/config", json=patch).raise_for_status()

    def faults(self, **faults: Any) -> None:
        self.http.post("/_sim/faults", json=faults).raise_for_status()

    def calls(self, path_prefix: str = "") -> list[dict[str, Any]]:
        response = self.http.get("/_sim/calls")
        response.raise_for_status()
        return [c for c in response.json() if c["path"].startswith(path_prefix)]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


def sf_client_credentials(sim: Sim, secret: str = SF_CLIENT_SECRET) -> ClientCredentialsGrant:
    return ClientCredentialsGrant(
        token_url=f"{sim.url}/services/oauth2/token",
        client_id=SF_CLIENT_ID,
        client_secret=secret,
    )


def sf_refresh_token(sim: Sim) -> str:
    """A refresh token from the web-server flow, as a connection would have stored it."""
    callback = "http://localhost/callback"
    authorize = sim.http.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": SF_CLIENT_ID, "redirect_uri": callback},
    )
    code = parse_qs(urlparse(authorize.headers["location"]).query)["code"][0]
    token = sim.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": SF_CLIENT_ID,
            "client_secret": SF_CLIENT_SECRET,
            "redirect_uri": callback,
        },
    )
    token.raise_for_status()
    refresh: str = token.json()["refresh_token"]
    return refresh


async def eventually(probe: Callable[[], Awaitable[T]], *, within: float = 5.0, what: str = "it") -> T:
    """The first truthy result of `probe`, polled until `within` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


async def until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Returns once `condition` holds, polled until `within` seconds have passed."""

    async def probe() -> bool:
        return condition()

    await eventually(probe, within=within, what="the condition")


def max_overlap(calls: list[dict[str, Any]]) -> int:
    """The most calls the simulator was serving at one instant (from each call's end time and
    duration)."""
    edges: list[tuple[float, int]] = []
    for call in calls:
        end = datetime.fromisoformat(call["time"]).timestamp()
        edges += [(end - call["duration_ms"] / 1000, 1), (end, -1)]
    active = peak = 0
    for _, step in sorted(edges):
        active += step
        peak = max(peak, active)
    return peak
