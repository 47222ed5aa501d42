"""Tags, read-only: `GET /v3/tags` (`query[name]`, paging) and `GET /v3/tags/{id}`, so that a
client can find the ids that `tags: [{"tagId": ...}]` on contacts must use (an unknown tag id on
a contact is 400/1001). The seed tags are in `seed.py`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.getresponse.errors import not_found
from simulators.getresponse.listing import page_of, parse_listing, project, sorted_by
from simulators.getresponse.render import tag
from simulators.getresponse.state import StateDep

router = APIRouter(prefix="/tags")


@router.get("")
async def list_tags(request: Request, state: StateDep) -> Response:
    listing = parse_listing(request.query_params, filters={"name"}, sorts={"name"})
    items = sorted(state.store.tags.values(), key=lambda t: t.name)
    if "name" in listing.query:
        items = [t for t in items if listing.query["name"].lower() in t.name.lower()]
    page, headers = page_of(sorted_by(items, listing.sort, {"name": lambda t: t.name}), listing)
    return JSONResponse(
        [project(tag(t, state.config), listing.fields, "tagId") for t in page], headers=headers
    )


@router.get("/{tag_id}")
async def get_tag(tag_id: str, state: StateDep) -> Response:
    item = state.store.tags.get(tag_id)
    if item is None:
        raise not_found("tagId", tag_id)
    return JSONResponse(tag(item, state.config))
