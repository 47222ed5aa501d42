"""What the client tests share: the client credentials of the simulated org, waiting with a
deadline, and the calls a simulator saw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from app.clients.salesforce_auth import ClientCredentialsGrant
from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET, Sim

T = TypeVar("T")

CALL_CLIENT = "sfgr-client-tests"


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
