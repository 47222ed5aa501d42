"""`/query` and `/queryAll` with paging (api-contracts A3 "SOQL", "include deleted", "batch size").

- `/query` never returns deleted records; `/queryAll` also returns those in the Recycle Bin
  (IsDeleted = true);
- a page holds `Sforce-Query-Options: batchSize=N` records (default 2000); Salesforce documents
  200..2000 and "not guaranteed", so values outside are clamped into that range and a malformed
  header is ignored;
- `{"totalSize", "done", "records"}` plus `nextRecordsUrl` (`/services/data/vXX.X/query/01g...-2000`)
  while `done` is false; each next page is one more API call;
- `SELECT COUNT() FROM ...` answers `totalSize` with no records;
- a semi-join subquery runs over the non-deleted records of its object, under `/queryAll` too.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from simulators.salesforce import render, soql
from simulators.salesforce.errors import ApiError, SalesforceError
from simulators.salesforce.rest import BASE
from simulators.salesforce.schema import SObjectDef
from simulators.salesforce.state import SimDep, Simulator

router = APIRouter()
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
_BATCH = re.compile(r"batchsize\s*=\s*(\d+)", re.IGNORECASE)


def batch_size(header: str | None) -> int:
    match = _BATCH.search(header or "")
    if not match:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(match[1])))


def _run(sim: Simulator, request: Request, version: str, *, include_deleted: bool) -> dict[str, Any]:
    text = request.query_params.get("q")
    if not text:
        raise SalesforceError(400, ApiError("MALFORMED_QUERY", "A query string has to be specified"))
    query = soql.parse(text)
    sobject = query.sobject
    matched = query.run(
        _rows(sim, sobject, include_deleted=include_deleted),
        lambda related: _rows(sim, related, include_deleted=False),
    )
    if query.count_only:
        return {"totalSize": len(matched), "done": True, "records": []}
    records = [render.record(sobject, row, query.fields, version) for row in matched]
    return _page(sim, records, batch_size(request.headers.get("sforce-query-options")), 0, version, None)


def _rows(sim: Simulator, sobject: SObjectDef, *, include_deleted: bool) -> list[dict[str, Any]]:
    return [
        render.with_computed(sobject, r.values)
        for r in sim.store.all(sobject.name, include_deleted=include_deleted)
    ]


def _page(
    sim: Simulator, records: list[dict[str, Any]], size: int, offset: int, version: str, locator: str | None
) -> dict[str, Any]:
    end = offset + size
    body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
    if not body["done"]:
        locator = locator or sim.cursors.open(records, size)
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
    body["records"] = records[offset:end]
    return body


@router.get(BASE + "/query")
async def query(version: str, request: Request, sim: SimDep) -> dict[str, Any]:
    return _run(sim, request, version, include_deleted=False)


@router.get(BASE + "/queryAll")
async def query_all(version: str, request: Request, sim: SimDep) -> dict[str, Any]:
    return _run(sim, request, version, include_deleted=True)


@router.get(BASE + "/query/{locator}")
@router.get(BASE + "/queryAll/{locator}")
async def next_page(version: str, locator: str, sim: SimDep) -> dict[str, Any]:
    cursor_id, _, raw_offset = locator.partition("-")
    cursor = sim.cursors.get(cursor_id)
    if cursor is None or not raw_offset.isdigit() or int(raw_offset) > len(cursor.records):
        raise SalesforceError(400, ApiError("INVALID_QUERY_LOCATOR", "invalid query locator"))
    return _page(sim, cursor.records, cursor.batch_size, int(raw_offset), version, cursor_id)
