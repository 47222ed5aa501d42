"""`GetResponseClient`: the API v3 of one account, as the sync needs it (api-contracts B5-B10,
C8-C11).

    async with GetResponseClient(api_key=key) as gr:                  # standard account
        await gr.create_contact({"email": e, "campaign": {"campaignId": list_id}})   # 202, no id
        found = await gr.find_contacts(email=e, campaign_id=list_id)   # exact match, later
    backfill = gr.with_priority(Priority.BACKGROUND)                   # same session and limiter
    with priority(Priority.RETRY):                                     # or the context's priority
        await gr.get_contact(contact_id)

- Authentication by API key (`X-Auth-Token: api-key <KEY>`) or OAuth bearer token; a GetResponse
  MAX account has its own API host and needs `X-Domain` on every request (B5).
- Every call takes a slot of the account's `AccountLimiter` (shared by every client of the
  account in the process, and drawing on the account's budget shared by all processes) at the
  client's priority, or else the context's (`app.clients.limits.call_priority`: live unless a
  retrier or a job said otherwise), and feeds it the `X-RateLimit-*` headers; a 429 pauses the
  whole account for the wait it names, then raises `RateLimited`.
- No retries: the caller owns the retry policy (`app.clients.retry`).
- `retire` ends a client whose connection changed (app/clients/vendors.py).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from app import metrics
from app.clients.breaker import AccountBreakers
from app.clients.errors import Permanent, RateLimited, Transient
from app.clients.getresponse_errors import VENDOR, getresponse_error
from app.clients.getresponse_formats import format_query_time
from app.clients.limits import AccountLimiter, Priority, account_limiter, call_priority
from app.clients.transport import DEFAULT_TIMEOUT_S, Reply, Retirement, exchange, new_session

STANDARD_BASE_URL = "https://api.getresponse.com/v3"
MAX_BASE_URL = "https://api3.getresponse360.com/v3"
MAX_PER_PAGE = 1000
MAX_BATCH = 1000  # contacts per POST /contacts/batch (B6)


class _SharedSession:
    """The one aiohttp session of a client and of its `with_priority` views, and whether they
    were retired."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.retired: Retirement | None = None
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self.retired is not None:
            raise self.retired.error(VENDOR)
        if self._session is None:
            self._session = new_session(self.timeout_s)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class GetResponseClient:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        oauth_token: str | None = None,
        base_url: str = STANDARD_BASE_URL,
        domain: str | None = None,
        limiter: AccountLimiter | None = None,
        account: str | None = None,
        priority: Priority | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        breakers: AccountBreakers | None = None,
    ) -> None:
        """`domain`: the MAX account's domain (`X-Domain`); `limiter`: the account's limiter, by
        default the process's shared one for `account` (by default derived from the credential);
        `breakers`: the account's circuit breakers, if any (app/clients/breaker.py);
        `priority`: of every call, by default the context's `call_priority` at the call."""
        if (api_key is None) == (oauth_token is None):
            raise ValueError("give exactly one of api_key and oauth_token")
        secret = api_key if api_key is not None else oauth_token
        assert secret is not None
        self.base_url = base_url.rstrip("/")
        self.domain = _bare_domain(domain) if domain else None
        self.priority = priority
        self._headers = (
            {"X-Auth-Token": f"api-key {api_key}"}
            if api_key is not None
            else {"Authorization": f"Bearer {oauth_token}"}
        )
        if self.domain:
            self._headers["X-Domain"] = self.domain
        fingerprint = hashlib.sha256(secret.encode()).hexdigest()[:16]
        self.limiter = limiter or account_limiter(account or f"{self.base_url}|{self.domain}|{fingerprint}")
        self.breakers = breakers
        self._session = _SharedSession(timeout_s)
        self._owns_session = True

    def with_priority(self, priority: Priority | None) -> GetResponseClient:
        """A view of this client whose calls take `priority` slots; closing it closes nothing."""
        view = copy.copy(self)
        view.priority = priority
        view._owns_session = False
        return view

    async def __aenter__(self) -> GetResponseClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session:
            await self._session.close()

    async def retire(self, retirement: Retirement) -> None:
        """Closes the client and its views for good: a later call raises `retirement.error()`
        without going out, and a call in flight ends as `Transient`. The account's limiter lives
        on for the client that replaces this one."""
        self._session.retired = retirement
        await self._session.close()

    @property
    def retired(self) -> Retirement | None:
        return self._session.retired

    # Contacts

    async def get_contact(self, contact_id: str, *, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """ContactDetails; `NotFound` (404/1013) also for deleted, unsubscribed and not yet
        created contacts, which the API does not show (B6)."""
        params = {"fields": ",".join(fields)} if fields else None
        return _object(await self._call("GET", f"contacts/{_segment(contact_id)}", params=params))

    async def find_contacts(
        self,
        *,
        email: str | None = None,
        campaign_id: str | None = None,
        exact: bool = True,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Contacts by email and/or list. The same email is one contact per list (C8). Without
        `exactMatch` the API matches emails as a substring (C10): `exact=False` asks for that."""
        if email is None and campaign_id is None:
            raise ValueError("find_contacts needs an email or a campaign_id")
        params: dict[str, str] = {}
        if email is not None:
            params["query[email]"] = email
            if exact:
                params["additionalFlags"] = "exactMatch"
        if campaign_id is not None:
            params["query[campaignId]"] = campaign_id
        if fields:
            params["fields"] = ",".join(fields)
        return [contact async for contact in self._pages("contacts", params, 1, MAX_PER_PAGE)]

    def changed_since(
        self, campaign_id: str, since: datetime, page: int = 1, per_page: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        """Contacts of the list whose `changedOn` is at or after `since` (whole seconds), oldest
        change first, from `page` on. Pages are positions in a list that moves: a contact changed
        during the walk jumps to the end (it is seen again, later) and shifts the ones after its old
        place one page back, so the caller's watermark must not pass a page it has not finished.
        Which edits bump `changedOn` is UNCONFIRMED (B9): custom-field edits may not."""
        params = {
            "query[campaignId]": campaign_id,
            "query[changedOn][from]": format_query_time(since),
            "sort[changedOn]": "ASC",
        }
        return self._pages("contacts", params, page, per_page)

    async def created_since(self, campaign_id: str, since: datetime) -> list[dict[str, Any]]:
        """Contacts of the list created at or after `since` (whole seconds), oldest first, 1000 a
        page: one search answers for every create of the list still waiting for its id (C8)."""
        params = {
            "query[campaignId]": campaign_id,
            "query[createdOn][from]": format_query_time(since),
            "sort[createdOn]": "ASC",
        }
        return [contact async for contact in self._pages("contacts", params, 1, MAX_PER_PAGE)]

    async def create_contact(self, body: Mapping[str, Any]) -> None:
        """Queues a contact: 202 and no id (C8). It appears later, or never (a rejected domain,
        double opt-in); look it up with `find_contacts(email=..., campaign_id=...)`. A contact
        already on (or still being added to) the list is `Conflict` (409/1008)."""
        await self._call("POST", "contacts", json_body=dict(body))

    async def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST, not PATCH; answers the full ContactDetails. `tags` and `customFieldValues`, when
        sent, REPLACE the whole set (C9): to change some custom fields and keep the others, use
        `upsert_custom_fields`."""
        return _object(await self._call("POST", f"contacts/{_segment(contact_id)}", json_body=dict(body)))

    async def upsert_custom_fields(
        self, contact_id: str, values: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Sets the given `[{"customFieldId", "value": [str, ...]}]` and keeps every other field
        (C9); answers the contact's whole set afterwards as `[{"customFieldId", "values"}]`."""
        if not values:
            raise ValueError("upsert_custom_fields needs at least one value")
        body = {"customFieldValues": [dict(v) for v in values]}
        reply = await self._call("POST", f"contacts/{_segment(contact_id)}/custom-fields", json_body=body)
        return _list(reply)

    async def delete_contact(
        self, contact_id: str, *, message_id: str | None = None, ip_address: str | None = None
    ) -> None:
        """Removes the contact from its list; with `message_id` it counts as an unsubscribe from
        that message (B6)."""
        params = {}
        if message_id is not None:
            params["messageId"] = message_id
        if ip_address is not None:
            params["ipAddress"] = ip_address
        await self._call("DELETE", f"contacts/{_segment(contact_id)}", params=params or None)

    async def create_contacts_batch(self, campaign_id: str, contacts: Sequence[Mapping[str, Any]]) -> None:
        """Queues contacts for one list, 1000 per call, each call 202 with nothing to say about
        single contacts: emails already on the list are skipped. Batch calls have their own
        throttle (1 per second, 80 per 10 minutes, B10), which the limiter keeps."""
        for start in range(0, len(contacts), MAX_BATCH):
            body = {
                "campaignId": campaign_id,
                "contacts": [dict(c) for c in contacts[start : start + MAX_BATCH]],
            }
            await self._call("POST", "contacts/batch", json_body=body, batch=True)

    # Lists and fields

    async def custom_fields(self) -> list[dict[str, Any]]:
        return [field async for field in self._pages("custom-fields", {}, 1, MAX_PER_PAGE)]

    async def campaigns(self) -> list[dict[str, Any]]:
        return [campaign async for campaign in self._pages("campaigns", {}, 1, MAX_PER_PAGE)]

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        return _object(await self._call("GET", f"campaigns/{_segment(campaign_id)}"))

    # Plumbing

    async def _pages(
        self, path: str, params: Mapping[str, str], page: int, per_page: int
    ) -> AsyncIterator[dict[str, Any]]:
        # The vendor answers 200 to perPage=0 or 5000 (B6), so the client checks its own paging.
        if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
            raise ValueError(f"page must be >= 1 and per_page within 1..{MAX_PER_PAGE}")
        while True:
            reply = await self._call(
                "GET", path, params={**params, "page": str(page), "perPage": str(per_page)}
            )
            items = _list(reply)
            for item in items:
                yield item
            total_pages = reply.headers.get("TotalPages", "")
            last = (
                int(total_pages) if total_pages.isdigit() else (page if len(items) < per_page else page + 1)
            )
            if page >= last or not items:
                return
            page += 1

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        batch: bool = False,
    ) -> Reply:
        url = f"{self.base_url}/{path}"
        level = self.priority if self.priority is not None else call_priority.get()
        async with self.limiter.slot(level, batch=batch):
            session = self._session.get()  # a retired client raises here, before the breaker
            breaker = self.breakers.for_method(method) if self.breakers is not None else None
            if breaker is not None:
                breaker.before_call()
            try:
                reply = await exchange(
                    session,
                    VENDOR,
                    method,
                    url,
                    headers=self._headers,
                    params=params,
                    json_body=json_body,
                )
            except Transient:
                if breaker is not None:
                    breaker.record(answered=False)
                raise
            if breaker is not None:
                breaker.record(answered=reply.status < 500)
            self.limiter.observe(reply.headers)
            if reply.status == 429:
                error = getresponse_error(reply.status, reply.body, reply.headers)
                # Paused before the slot is released, so no waiting call slips in first.
                if isinstance(error, RateLimited):
                    metrics.VENDOR_RATE_LIMITED.labels(VENDOR).inc()
                    self.limiter.pause(error.retry_after, batch=batch)
                raise error
        if not reply.ok:
            raise getresponse_error(reply.status, reply.body, reply.headers)
        return reply


def _bare_domain(domain: str) -> str:
    """`X-Domain` wants the bare domain: no scheme, no `www.`, no path (B5)."""
    bare = domain.strip().lower().split("://", 1)[-1].split("/", 1)[0]
    return bare.removeprefix("www.")


def _segment(value: str) -> str:
    return quote(value, safe="")


def _object(reply: Reply) -> dict[str, Any]:
    if not isinstance(reply.body, dict):
        raise Permanent(
            "expected a JSON object", vendor=VENDOR, status=reply.status, details=reply.text[:500]
        )
    return reply.body


def _list(reply: Reply) -> list[dict[str, Any]]:
    if not isinstance(reply.body, list):
        raise Permanent("expected a JSON array", vendor=VENDOR, status=reply.status, details=reply.text[:500])
    return [item for item in reply.body if isinstance(item, dict)]
