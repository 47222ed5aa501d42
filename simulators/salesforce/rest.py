"""REST resources for sObject rows (Lead, Contact, Campaign, CampaignMember), describe, versions
and limits (api-contracts A3, C4).

- create: 201 `{"id", "success": true, "errors": []}`; update: 204 with no body; delete: 204;
- read: the record with `attributes`, all fields or `?fields=A,B` (Id always comes back);
  `If-Modified-Since` gives 304 when unchanged; `Last-Modified` is sent;
- update honours `If-Unmodified-Since` (HTTP-date, whole seconds): 412 and nothing written when
  the record changed after it, 400 when the header is not a valid HTTP-date. The error codes of
  those two bodies (PRECONDITION_FAILED, INVALID_HEADER_VALUE) are UNCONFIRMED choices;
- a deleted record is 404 ENTITY_IS_DELETED, an unknown one 404 NOT_FOUND, an id that is not an id
  400 MALFORMED_ID; a well-formed id of another object type is NOT_FOUND, as Salesforce reads
  the path as an external-id lookup;
- a CampaignMember has no Recycle Bin: after its DELETE it is NOT_FOUND, not ENTITY_IS_DELETED.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.salesforce import render, schema, timefmt
from simulators.salesforce.deps import api_actor, json_body, sobject_named
from simulators.salesforce.errors import (
    ApiError,
    SalesforceError,
    entity_is_deleted,
    no_such_column,
    not_found,
)
from simulators.salesforce.state import SimDep

router = APIRouter()
BASE = "/services/data/v{version}"
LISTED_VERSIONS = range(50, 67)
_SEASONS = ("Winter", "Spring", "Summer")


def _label(major: int) -> str:
    step = major - 50
    return f"{_SEASONS[step % 3]} '{21 + step // 3}"


@router.get("/services/data")
@router.get("/services/data/")
async def versions() -> list[dict[str, str]]:
    return [
        {"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"} for v in LISTED_VERSIONS
    ]


@router.get(BASE)
async def resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite")
    return {name: f"{base}/{name}" for name in names}


@router.get(BASE + "/limits")
async def limits(sim: SimDep) -> dict[str, Any]:
    used, limit = sim.quota.usage()
    return {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)}}


@router.get(BASE + "/sobjects")
async def global_describe(version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [d.summary(version) for d in schema.SOBJECTS.values()],
    }


@router.get(BASE + "/sobjects/{name}")
async def sobject_basic_info(name: str, version: str) -> dict[str, Any]:
    return {"objectDescribe": sobject_named(name).summary(version), "recentItems": []}


@router.get(BASE + "/sobjects/{name}/describe")
async def describe(name: str, version: str) -> dict[str, Any]:
    return sobject_named(name).describe(version)


@router.post(BASE + "/sobjects/{name}")
async def create(name: str, version: str, request: Request, sim: SimDep) -> JSONResponse:
    sobject = sobject_named(name)
    body = await json_body(request)
    with sim.store.transaction(api_actor(request, version)) as tx:
        record_id = tx.create(sobject, body)
    return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)


@router.get(BASE + "/sobjects/{name}/{record_id}")
async def read(name: str, record_id: str, version: str, request: Request, sim: SimDep) -> Response:
    sobject = sobject_named(name)
    record = sim.store.find(sobject, record_id)
    if record.deleted:
        raise SalesforceError(404, entity_is_deleted())
    modified = record.values["LastModifiedDate"]
    since_header = request.headers.get("if-modified-since")
    if since_header is not None:
        since = timefmt.parse_http_date(since_header)
        if since is not None and timefmt.whole_seconds(modified) <= since:
            return Response(status_code=304)
    fields = [f.name for f in sobject.fields]
    requested = request.query_params.get("fields")
    if requested is not None:
        fields = []
        for raw in requested.split(","):
            definition = sobject.field(raw.strip())
            if definition is None:
                raise SalesforceError(400, no_such_column(sobject.name, raw.strip()))
            fields.append(definition.name)
        if "Id" not in fields:
            fields.append("Id")
    body = render.record(sobject, record.values, fields, version)
    return JSONResponse(body, headers={"Last-Modified": timefmt.http_date(modified)})


@router.patch(BASE + "/sobjects/{name}/{record_id}")
async def update(name: str, record_id: str, version: str, request: Request, sim: SimDep) -> Response:
    sobject = sobject_named(name)
    since = None
    raw_since = request.headers.get("if-unmodified-since")
    if raw_since is not None:
        since = timefmt.parse_http_date(raw_since)
        if since is None:
            raise SalesforceError(
                400,
                ApiError(
                    "INVALID_HEADER_VALUE", f"If-Unmodified-Since is not a valid HTTP-date: {raw_since}"
                ),
            )
    sim.store.find(sobject, record_id)
    body = await json_body(request)
    with sim.store.transaction(api_actor(request, version)) as tx:
        tx.update(sobject, record_id, body, unmodified_since=since)
    return Response(status_code=204)


@router.delete(BASE + "/sobjects/{name}/{record_id}")
async def delete(name: str, record_id: str, version: str, request: Request, sim: SimDep) -> Response:
    sobject = sobject_named(name)
    sim.store.find(sobject, record_id)
    with sim.store.transaction(api_actor(request, version)) as tx:
        tx.delete(sobject, record_id)
    return Response(status_code=204)


@router.api_route(BASE + "/sobjects/{name}/{field}/{value}", methods=["GET", "PATCH", "DELETE", "POST"])
async def by_external_id(name: str, field: str) -> None:
    """Upsert and lookup by external id: no object has an external-id field here."""
    sobject_named(name)
    raise not_found(f"Provided external ID field does not exist or is not accessible: {field}")
