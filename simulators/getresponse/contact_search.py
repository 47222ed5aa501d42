"""`GET /contacts`: filters, sorting and paging of the active contacts (api-contracts B6, C10).

- `query[email]` and `query[name]` match a case-insensitive substring (LIKE) unless
  `additionalFlags=exactMatch` is given (then `email` matches exactly, ignoring case, and `name`
  exactly); `query[campaignId]` takes one id or several separated by commas; `query[origin]` is
  exact; `query[createdOn|changedOn][from|to]` take a date (a whole day) or a date-time, bounds
  included, compared at the API's whole-second precision. Filters are AND-ed.
- Any other `query[...]` key is 400/1000 "Not allowed search field"; an `additionalFlags` value
  other than `exactMatch` is refused too.
- Without `sort[...]` the order is by `contactId`: stable for paging but deliberately unrelated to
  time, so a client that needs an order must ask for one.
- Unsubscribed, bounced, removed, pending and rejected contacts are never found.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from simulators.getresponse.errors import validation_error
from simulators.getresponse.formats import parse_query_time, whole_seconds
from simulators.getresponse.listing import Listing, parse_listing, sorted_by
from simulators.getresponse.store import Contact

FILTERS = {
    "email",
    "name",
    "campaignId",
    "origin",
    "createdOn][from",
    "createdOn][to",
    "changedOn][from",
    "changedOn][to",
}
SORT_KEYS: dict[str, Callable[[Contact], Any]] = {
    "email": lambda c: c.email,
    "name": lambda c: (c.name or "").lower(),
    "createdOn": lambda c: c.created_on,
    "changedOn": lambda c: c.changed_on,
    "campaignId": lambda c: c.campaign_id,
}


def _time_bound(listing: Listing, key: str) -> datetime | None:
    raw = listing.query.get(key)
    if raw is None:
        return None
    bound = parse_query_time(raw, end_of_range=key.endswith("[to"))
    if bound is None:
        raise validation_error(
            "expected a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM:SS+0000)", field=f"query[{key}]"
        )
    return bound


def _exact_match(params: QueryParams) -> bool:
    flags = [f.strip() for raw in params.getlist("additionalFlags") for f in raw.split(",") if f.strip()]
    for flag in flags:
        if flag != "exactMatch":
            raise validation_error(f"Unknown additional flag {flag!r}", field="additionalFlags")
    return bool(flags)


def _text_matches(actual: str | None, wanted: str, *, exact: bool) -> bool:
    if actual is None:
        return False
    return actual.lower() == wanted.lower() if exact else wanted.lower() in actual.lower()


def search(contacts: list[Contact], params: QueryParams) -> tuple[list[Contact], Listing]:
    listing = parse_listing(params, filters=FILTERS, sorts=set(SORT_KEYS))
    exact = _exact_match(params)
    query = listing.query
    ranges = [
        (SORT_KEYS[field], _time_bound(listing, f"{field}][from"), _time_bound(listing, f"{field}][to"))
        for field in ("createdOn", "changedOn")
    ]
    campaign_ids = {c.strip() for c in query["campaignId"].split(",")} if "campaignId" in query else None

    def keep(contact: Contact) -> bool:
        if "email" in query and not _text_matches(contact.email, query["email"], exact=exact):
            return False
        if "name" in query and not _text_matches(contact.name, query["name"], exact=exact):
            return False
        if campaign_ids is not None and contact.campaign_id not in campaign_ids:
            return False
        if "origin" in query and contact.origin != query["origin"]:
            return False
        for getter, lower, upper in ranges:
            moment = whole_seconds(getter(contact))
            if (lower is not None and moment < lower) or (upper is not None and moment > upper):
                return False
        return True

    found = sorted((c for c in contacts if keep(c)), key=lambda c: c.contact_id)
    return sorted_by(found, listing.sort, SORT_KEYS), listing
