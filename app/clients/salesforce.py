"""`SalesforceClient`: the REST API of one org, as the sync needs it (api-contracts A3, A4, C3-C7).

    async with SalesforceClient(credentials, reserve_fraction=0.2) as sf:
        lead_id = await sf.create("Lead", {"LastName": "Lee", "Company": "Acme"})
        await sf.update("Lead", lead_id, {"Phone": "+1"}, if_unmodified_since=last_modified)
        async for row in sf.query("SELECT Id, Email FROM Lead"):
            ...

- One aiohttp session per client and one access token, fetched on first use and fetched again
  once when a call answers 401 (then `Unauthorized` if it still fails). Concurrent calls that hit
  the same expired token share one refresh.
- Every call carries `Sforce-Call-Options: client=<settings.salesforce_client_id>`, so CDC reports
  our writes with that `changeOrigin` and the sync drops its own echoes (C3).
- The org's 24 h quota is shared with its other users. `Sforce-Limit-Info` on every answer says
  how much is used (C6); once `used` reaches `limit - reserve` the client refuses with
  `RateLimited` *before* calling, and lets one call through per `quota_retry_after_s` to learn
  whether the rolling window has freed some.
- No retries beyond the token refresh: the caller owns the retry policy (`app.clients.retry`).
- `retire` ends a client whose connection changed (app/clients/vendors.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from app import metrics
from app.clients.breaker import AccountBreakers
from app.clients.errors import Permanent, RateLimited, Transient, VendorError
from app.clients.salesforce_auth import AccessToken, SalesforceCredentials, fetch_token
from app.clients.salesforce_errors import VENDOR, record_error, rest_error
from app.clients.salesforce_formats import http_date, parse_limit_info
from app.clients.transport import DEFAULT_TIMEOUT_S, Reply, Retirement, exchange, new_session
from app.clients.vendor_hosts import VendorHosts
from app.settings import get_settings

DEFAULT_API_VERSION = "62.0"
COLLECTION_LIMIT = 200  # records per sObject Collections call (A3)
# REQUEST_LIMIT_EXCEEDED while the quota is not spent means too many concurrent long-running
# (>= 20 s) calls (A3 error codes table): that clears within a long call's time.
CONCURRENCY_RETRY_S = 20.0


@dataclass(frozen=True)
class RecordResult:
    """One record's outcome in a collection call: its id, or the error it failed with."""

    id: str | None
    error: VendorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class SalesforceClient:
    def __init__(
        self,
        credentials: SalesforceCredentials,
        *,
        call_options_client: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        reserve_calls: int = 0,
        reserve_fraction: float = 0.0,
        quota_retry_after_s: float = 300.0,
        breakers: AccountBreakers | None = None,
        hosts: VendorHosts | None = None,
    ) -> None:
        if reserve_calls < 0 or not 0.0 <= reserve_fraction < 1.0:
            raise ValueError("reserve_calls must be >= 0 and reserve_fraction in [0, 1)")
        self.credentials = credentials
        self.call_options_client = call_options_client or get_settings().salesforce_client_id
        self.api_version = api_version
        self.timeout_s = timeout_s
        self.reserve_calls = reserve_calls
        self.reserve_fraction = reserve_fraction
        self.quota_retry_after_s = quota_retry_after_s
        self.breakers = breakers  # the org's circuit breakers, if any (app/clients/breaker.py)
        self.hosts = hosts  # where a token's instance_url may point (app/clients/vendor_hosts.py)
        self._session: aiohttp.ClientSession | None = None
        self._retired: Retirement | None = None
        self._token: AccessToken | None = None
        self._auth_lock = asyncio.Lock()
        self._usage: tuple[int, int] | None = None
        self._usage_seen_at = 0.0
        self._in_flight = 0

    async def __aenter__(self) -> SalesforceClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def retire(self, retirement: Retirement) -> None:
        """Closes the client for good: a later call (or token request) raises
        `retirement.error()` without going out, and a call in flight ends as `Transient`."""
        self._retired = retirement
        self._token = None
        await self.close()

    @property
    def retired(self) -> Retirement | None:
        return self._retired

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's 24 h allocation as last reported, None before any call."""
        return self._usage

    @property
    def instance_url(self) -> str | None:
        return self._token.instance_url if self._token else None

    def reserve(self, limit: int) -> int:
        """Calls of a `limit` the client leaves to the org's other users."""
        return max(self.reserve_calls, math.ceil(limit * self.reserve_fraction))

    # Rows

    async def get(
        self, object_type: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        reply = await self._call("GET", f"sobjects/{object_type}/{_segment(record_id)}", params=params)
        return _object(reply)

    async def create(self, object_type: str, fields: Mapping[str, Any]) -> str:
        reply = await self._call("POST", f"sobjects/{object_type}", json_body=dict(fields))
        record_id = _object(reply).get("id")
        if not isinstance(record_id, str):
            raise Permanent(
                "create answered without an id", vendor=VENDOR, status=reply.status, details=reply.body
            )
        return record_id

    async def update(
        self,
        object_type: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        if_unmodified_since: datetime | None = None,
    ) -> None:
        """PATCH (204, no body). With `if_unmodified_since` Salesforce refuses with 412, raised as
        `PreconditionFailed`, when the record changed after that instant (whole seconds, A3)."""
        headers = {"If-Unmodified-Since": http_date(if_unmodified_since)} if if_unmodified_since else None
        await self._call(
            "PATCH", f"sobjects/{object_type}/{_segment(record_id)}", json_body=dict(fields), headers=headers
        )

    async def delete(self, object_type: str, record_id: str) -> None:
        await self._call("DELETE", f"sobjects/{object_type}/{_segment(record_id)}")

    async def describe(self, object_type: str) -> dict[str, Any]:
        return _object(await self._call("GET", f"sobjects/{object_type}/describe"))

    async def limits(self) -> dict[str, Any]:
        return _object(await self._call("GET", "limits"))

    # SOQL

    def query(self, soql: str, *, batch_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every record of the result, page after page (`nextRecordsUrl`); each page is a call."""
        return self._records("query", soql, batch_size)

    def query_all(self, soql: str, *, batch_size: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Like `query`, and also the deleted rows still in the Recycle Bin (`/queryAll`, A3)."""
        return self._records("queryAll", soql, batch_size)

    async def _records(
        self, resource: str, soql: str, batch_size: int | None
    ) -> AsyncIterator[dict[str, Any]]:
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        reply = await self._call("GET", resource, params={"q": soql}, headers=headers)
        while True:
            page = _object(reply)
            for record in page.get("records") or []:
                yield record
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not isinstance(next_url, str):
                return
            reply = await self._call("GET", next_url, headers=headers)

    # sObject Collections

    async def create_many(
        self, object_type: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """One result per record, in order. Never raises a vendor error: a call that fails as a
        whole gives its error to each of its records and to every record not yet sent.
        `all_or_none` holds within each call of at most 200 records."""
        bodies = [{**record, "attributes": {"type": object_type}} for record in records]
        return await self._collection("POST", bodies, [None] * len(bodies), all_or_none)

    async def update_many(
        self, object_type: str, records: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[RecordResult]:
        """Each record carries its `Id`; results as for `create_many`."""
        ids = [record.get("Id") for record in records]
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("every record of update_many needs its Id")
        bodies = [{**record, "attributes": {"type": object_type}} for record in records]
        return await self._collection("PATCH", bodies, ids, all_or_none)

    async def delete_many(self, ids: Sequence[str], *, all_or_none: bool = False) -> list[RecordResult]:
        return await self._collection("DELETE", None, list(ids), all_or_none)

    async def _collection(
        self, method: str, bodies: list[dict[str, Any]] | None, ids: list[Any], all_or_none: bool
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        failure: VendorError | None = None
        for start in range(0, len(ids), COLLECTION_LIMIT):
            chunk_ids = ids[start : start + COLLECTION_LIMIT]
            if failure is None:
                try:
                    reply = await self._collection_call(method, bodies, start, chunk_ids, all_or_none)
                    results.extend(_record_results(reply.body, chunk_ids))
                    continue
                except VendorError as exc:
                    failure = exc
            results.extend(RecordResult(i, failure) for i in chunk_ids)
        return results

    async def _collection_call(
        self,
        method: str,
        bodies: list[dict[str, Any]] | None,
        start: int,
        chunk_ids: list[Any],
        all_or_none: bool,
    ) -> Reply:
        if bodies is None:
            params = {"ids": ",".join(chunk_ids), "allOrNone": str(all_or_none).lower()}
            return await self._call(method, "composite/sobjects", params=params)
        body = {"allOrNone": all_or_none, "records": bodies[start : start + len(chunk_ids)]}
        return await self._call(method, "composite/sobjects", json_body=body)

    # Plumbing

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        token = await self._access_token(stale=None)
        reply = await self._send(token, method, path, params, json_body, headers)
        if reply.status == 401:
            token = await self._access_token(stale=token)
            reply = await self._send(token, method, path, params, json_body, headers)
        if reply.status >= 300 and reply.status != 304:
            error = rest_error(reply.status, reply.body, limit_retry_after=self._limit_retry_after(reply))
            if isinstance(error, RateLimited):
                metrics.VENDOR_RATE_LIMITED.labels(VENDOR).inc()
            raise error
        return reply

    async def _send(
        self,
        token: AccessToken,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        if path.startswith("/"):  # nextRecordsUrl and friends: already versioned, host-relative
            url = token.instance_url + path
        else:
            url = f"{token.instance_url}/services/data/v{self.api_version}/{path}"
        all_headers = {
            "Authorization": f"Bearer {token.access_token}",
            "Sforce-Call-Options": f"client={self.call_options_client}",
            **(headers or {}),
        }
        # Checked next to the count of calls in flight, with no await in between, so that
        # concurrent calls cannot all pass the check before any of them counts.
        self._refuse_within_reserve()
        session = self._http()  # a retired client raises here, before the breaker
        breaker = self.breakers.for_method(method) if self.breakers is not None else None
        if breaker is not None:
            breaker.before_call()
        self._in_flight += 1
        try:
            reply = await exchange(
                session, VENDOR, method, url, headers=all_headers, params=params, json_body=json_body
            )
        except Transient:
            if breaker is not None:
                breaker.record(answered=False)
            raise
        finally:
            self._in_flight -= 1
        if breaker is not None:
            breaker.record(answered=reply.status < 500)
        usage = parse_limit_info(reply.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self._usage, self._usage_seen_at = usage, time.monotonic()
            metrics.SALESFORCE_API_USAGE.set(usage[0] / usage[1] if usage[1] else 0.0)
        return reply

    async def access_token(self, *, stale: AccessToken | None = None) -> AccessToken:
        """The token the REST calls use, for a caller that authenticates elsewhere with it (the
        Pub/Sub API's metadata); with `stale`, a fresh one unless another caller replaced it."""
        return await self._access_token(stale=stale)

    async def _access_token(self, *, stale: AccessToken | None) -> AccessToken:
        """The current token; with `stale`, a new one unless another call already replaced it."""
        async with self._auth_lock:
            if self._token is None or self._token is stale:
                self._token = await fetch_token(self._http(), self.credentials, self.hosts)
            return self._token

    def _refuse_within_reserve(self) -> None:
        if self._usage is None:
            return
        used, limit = self._usage
        reserve = self.reserve(limit)
        if used + self._in_flight < limit - reserve:
            return
        waited = time.monotonic() - self._usage_seen_at
        if waited >= self.quota_retry_after_s:
            # One call per interval goes through: its Sforce-Limit-Info tells whether the rolling
            # 24 h window has freed calls, which nothing else would.
            self._usage_seen_at = time.monotonic()
            return
        metrics.VENDOR_RATE_LIMITED.labels(VENDOR).inc()
        raise RateLimited(
            f"org API usage {used}/{limit}: the last {reserve} calls of the 24 h allocation are kept "
            "for the org's other users",
            retry_after=self.quota_retry_after_s - waited,
            vendor=VENDOR,
            code="RESERVE_REACHED",
        )

    def _limit_retry_after(self, reply: Reply) -> float:
        usage = parse_limit_info(reply.headers.get("Sforce-Limit-Info"))
        if usage is None or usage[0] >= usage[1]:
            return self.quota_retry_after_s
        return CONCURRENCY_RETRY_S

    def _http(self) -> aiohttp.ClientSession:
        if self._retired is not None:
            raise self._retired.error(VENDOR)
        if self._session is None:
            self._session = new_session(self.timeout_s)
        return self._session


def _segment(value: str) -> str:
    return quote(value, safe="")


def _object(reply: Reply) -> dict[str, Any]:
    if not isinstance(reply.body, dict):
        raise Permanent(
            "expected a JSON object", vendor=VENDOR, status=reply.status, details=reply.text[:500]
        )
    return reply.body


def _record_results(body: Any, chunk_ids: list[Any]) -> list[RecordResult]:
    items = body if isinstance(body, list) else []
    if len(items) != len(chunk_ids):
        failure = Permanent(
            f"collection answered {len(items)} results for {len(chunk_ids)} records",
            vendor=VENDOR,
            details=body,
        )
        return [RecordResult(i, failure) for i in chunk_ids]
    results = []
    for item, sent_id in zip(items, chunk_ids, strict=True):
        item_id = item.get("id") if isinstance(item, dict) else None
        record_id = item_id if isinstance(item_id, str) else sent_id
        if isinstance(item, dict) and item.get("success") is True:
            results.append(RecordResult(record_id))
        else:
            results.append(
                RecordResult(record_id, record_error(item.get("errors") if isinstance(item, dict) else None))
            )
    return results
