"""The query language every GetResponse collection shares (api-contracts B6, B7, B8).

`query[...]` filters, `sort[<key>]=ASC|DESC`, `page` (from 1) and `perPage` (default 100, at most
1000), `fields=a,b`, answered with the headers `CurrentPage`, `TotalPages`, `TotalCount`.

Strictness: an unsupported `query[...]` key is 400/1000 with `errorDescription` "Not allowed search
field", as the vendor documents. The vendor is known to accept `perPage=0`, `perPage=5000` and
non-numeric paging with a 200 (api-contracts B6); the simulator refuses them with 400/1000 instead,
so that a client that does not validate its own paging fails here rather than misbehave in
production. An unknown `sort[...]` key or a direction other than ASC/DESC is refused the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import QueryParams

from simulators.getresponse.errors import not_allowed_search_field, validation_error

T = TypeVar("T")
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100


@dataclass(frozen=True)
class Listing:
    query: dict[str, str]  # "email", "createdOn][from", ... (the part inside query[...])
    sort: list[tuple[str, bool]]  # (key, descending), in the order given
    page: int
    per_page: int
    fields: frozenset[str] | None


def _positive_int(params: QueryParams, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise validation_error(f"{name} must be an integer from 1 to {maximum}", field=name)
    return int(raw)


def parse_listing(params: QueryParams, *, filters: set[str], sorts: set[str]) -> Listing:
    query: dict[str, str] = {}
    sort: list[tuple[str, bool]] = []
    for key, value in params.multi_items():
        if key.startswith("query[") and key.endswith("]"):
            name = key[len("query[") : -1]
            if name not in filters:
                raise not_allowed_search_field(key)
            query[name] = value
        elif key.startswith("sort[") and key.endswith("]"):
            name = key[len("sort[") : -1]
            if name not in sorts:
                raise validation_error(f"Not allowed sort field {name!r}", field=key, kind="sort_field")
            if value.upper() not in ("ASC", "DESC"):
                raise validation_error("sort direction must be ASC or DESC", field=key, kind="sort")
            sort.append((name, value.upper() == "DESC"))
    fields_param = params.get("fields")
    fields = frozenset(f.strip() for f in fields_param.split(",") if f.strip()) if fields_param else None
    return Listing(
        query=query,
        sort=sort,
        page=_positive_int(params, "page", 1, 10**9),
        per_page=_positive_int(params, "perPage", DEFAULT_PER_PAGE, MAX_PER_PAGE),
        fields=fields,
    )


def sorted_by(items: list[T], sort: list[tuple[str, bool]], keys: dict[str, Callable[[T], Any]]) -> list[T]:
    """Stable multi-key sort: the first `sort[...]` given is the primary key."""
    result = list(items)
    for name, descending in reversed(sort):
        result.sort(key=keys[name], reverse=descending)
    return result


def page_of(items: Sequence[T], listing: Listing) -> tuple[list[T], dict[str, str]]:
    total = len(items)
    start = (listing.page - 1) * listing.per_page
    headers = {
        "CurrentPage": str(listing.page),
        "TotalPages": str(math.ceil(total / listing.per_page)),
        "TotalCount": str(total),
    }
    return list(items[start : start + listing.per_page]), headers


def project(item: dict[str, Any], fields: frozenset[str] | None, id_key: str) -> dict[str, Any]:
    """`fields=a,b`: only those keys, and always the resource's id (api-contracts B6)."""
    if fields is None:
        return item
    return {k: v for k, v in item.items() if k in fields or k == id_key}
