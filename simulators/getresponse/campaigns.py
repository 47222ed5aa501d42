"""Lists, which the API calls campaigns: `/v3/campaigns` (api-contracts B8).

- `GET /campaigns`: `query[name]` (case-insensitive substring), `query[isDefault]` ("true" or
  "false", anything else is 400/1000), `sort[name|createdOn]`, paging headers, `fields=`.
- `GET /campaigns/{id}`: the element plus `postal`, `confirmation`, `optinTypes`,
  `subscriptionNotifications`, `profile`; 404/1013 with `context: {"campaignId": ...}`.
- `POST /campaigns` -> 201 with the details. `name` is 3 to 64 characters, unique ignoring case
  (409/1008), and may not contain emojis, `/`, `\\`, `@`, `[` or `]` (400/1000); at most 1000 lists
  (400/1002). `isDefault: "true"` (a string) makes it the default list. `optinTypes: {"api":
  "double"}` makes API-created contacts wait for confirmation (see `contact_service.py`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from simulators.getresponse.errors import (
    GetResponseError,
    duplicate,
    not_found,
    parse_body,
    read_json_object,
    validation_error,
)
from simulators.getresponse.formats import now
from simulators.getresponse.listing import page_of, parse_listing, project, sorted_by
from simulators.getresponse.render import campaign_details, campaign_element
from simulators.getresponse.state import StateDep
from simulators.getresponse.store import Campaign

router = APIRouter(prefix="/campaigns")
MAX_CAMPAIGNS = 1000
_FORBIDDEN = re.compile(r"[/\\@\[\]\u2600-\u27bf\ufe0f\U0001f000-\U0001faff]")


class NewCampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    languageCode: str = "EN"
    isDefault: Literal["true", "false"] = "false"
    confirmation: dict[str, Any] | None = None
    optinTypes: dict[str, Any] | None = None
    postal: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    subscriptionNotifications: dict[str, Any] | None = None


@router.get("")
async def list_campaigns(request: Request, state: StateDep) -> Response:
    listing = parse_listing(request.query_params, filters={"name", "isDefault"}, sorts={"name", "createdOn"})
    items = sorted(state.store.campaigns.values(), key=lambda c: (c.created_on, c.name))
    if "name" in listing.query:
        items = [c for c in items if listing.query["name"].lower() in c.name.lower()]
    if "isDefault" in listing.query:
        wanted = listing.query["isDefault"]
        if wanted not in ("true", "false"):
            raise validation_error('query[isDefault] must be "true" or "false"', field="query[isDefault]")
        items = [c for c in items if c.is_default == (wanted == "true")]
    keys = {"name": lambda c: c.name.lower(), "createdOn": lambda c: c.created_on}
    page, headers = page_of(sorted_by(items, listing.sort, keys), listing)
    return JSONResponse(
        [project(campaign_element(c, state.config), listing.fields, "campaignId") for c in page],
        headers=headers,
    )


@router.get("/{campaign_id}")
async def get_campaign(campaign_id: str, state: StateDep) -> Response:
    campaign = state.store.campaigns.get(campaign_id)
    if campaign is None:
        raise not_found("campaignId", campaign_id)
    return JSONResponse(campaign_details(campaign, state.config))


@router.post("", status_code=201)
async def create_campaign(request: Request, state: StateDep) -> Response:
    data = parse_body(NewCampaignIn, await read_json_object(request))
    name = data.name
    if not 3 <= len(name) <= 64:
        raise validation_error("name must be 3 to 64 characters long", field="name")
    if _FORBIDDEN.search(name):
        raise validation_error("name may not contain emojis, /, \\, @, [ or ]", field="name")
    if state.store.campaign_by_name(name) is not None:
        raise duplicate("There is another campaign with this name", {"name": name})
    if len(state.store.campaigns) >= MAX_CAMPAIGNS:
        raise GetResponseError(400, 1002, f"An account can have at most {MAX_CAMPAIGNS} campaigns")
    campaign = Campaign(
        campaign_id=state.store.new_id(),
        name=name,
        is_default=data.isDefault == "true",
        created_on=now(),
        language_code=data.languageCode,
    )
    for key, value in (data.optinTypes or {}).items():
        if key not in campaign.optin_types or value not in ("single", "double"):
            raise validation_error(f"optinTypes.{key} must be single or double", field=f"optinTypes.{key}")
        campaign.optin_types[key] = value
    if campaign.is_default:
        for other in state.store.campaigns.values():
            other.is_default = False
    state.store.campaigns[campaign.campaign_id] = campaign
    return JSONResponse(campaign_details(campaign, state.config), status_code=201)
