"""One HTTP exchange with a vendor: the request goes out with a timeout, the answer comes back
read and parsed, and anything that kept an answer from arriving becomes `Transient`. And
`Retirement`: why a client whose connection changed no longer calls out.

A timeout on a write is ambiguous (the vendor may have applied it); it is still `Transient`,
because every write the sync makes is idempotent by design.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from app import metrics
from app.clients.errors import Transient, Unauthorized, Vendor, VendorError
from app.observability import beat

DEFAULT_TIMEOUT_S = 10.0
USER_AGENT = "sfgr-sync/0.1"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    text: str
    body: Any  # the parsed JSON, or None when the answer was empty or not JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Retirement:
    """Why a client was closed for good (app/clients/vendors.py retires the client of a changed
    connection): each later call through it raises `error()` instead of going out. `revoked`: the
    connection was disconnected, so the call is refused (`Unauthorized`); otherwise it has a new
    credential, and the call is worth trying again with the connection's current client
    (`Transient`)."""

    reason: str
    revoked: bool

    def error(self, vendor: Vendor) -> VendorError:
        kind = Unauthorized if self.revoked else Transient
        return kind(self.reason, vendor=vendor)


def new_session(timeout_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )


async def exchange(
    session: aiohttp.ClientSession,
    vendor: Vendor,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
) -> Reply:
    path = URL(url).path
    try:
        async with session.request(
            method,
            url,
            headers=dict(headers or {}),
            params=dict(params) if params is not None else None,
            json=json_body,
            data=dict(form) if form is not None else None,
            # A redirect is an answer, never followed: it could lead to any host (with our
            # credentials in its headers), around the vendor host check (vendor_hosts.py).
            allow_redirects=False,
        ) as response:
            text = (await response.read()).decode("utf-8", errors="replace")
            metrics.vendor_call(vendor, method, path, response.status)
            beat()  # an answer is progress: a long job's loop is not stuck (app/observability.py)
            return Reply(response.status, response.headers, text, _parsed(text))
    except TimeoutError as exc:
        metrics.vendor_call(vendor, method, path, "timeout")
        raise Transient(f"{method} {url}: no answer within the timeout", vendor=vendor) from exc
    except aiohttp.ClientError as exc:
        metrics.vendor_call(vendor, method, path, "error")
        raise Transient(f"{method} {url}: {type(exc).__name__}: {exc}", vendor=vendor) from exc


def _parsed(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
