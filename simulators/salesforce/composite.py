"""sObject Collections: `POST|PATCH|DELETE /composite/sobjects` (api-contracts A3, C4).

- at most 200 records (or ids) per call, else 400 EXCEEDED_ID_LIMIT for the whole call;
- HTTP 200 even when records fail: one result per record, in order,
  `{"id", "success", "errors": [{"statusCode", "message", "fields"}]}`; note `statusCode`, where
  single-record REST errors say `errorCode`;
- the whole call is one transaction (one CDC `transactionKey`); with `allOrNone: true` a single
  failure rolls everything back and every other record reports ALL_OR_NONE_OPERATION_ROLLED_BACK;
  with `allOrNone: false` (the default) the valid records are saved;
- every record names its type in `attributes.type`; creates must not carry `Id`, updates must.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from simulators.salesforce import ids, schema
from simulators.salesforce.deps import api_actor, json_body
from simulators.salesforce.errors import ApiError, SalesforceError, json_parser_error
from simulators.salesforce.rest import BASE
from simulators.salesforce.state import SimDep
from simulators.salesforce.store import Transaction

router = APIRouter()
MAX_RECORDS = 200
PATH = BASE + "/composite/sobjects"
ROLLED_BACK = ApiError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
    [],
)


def _too_many() -> SalesforceError:
    return SalesforceError(
        400,
        ApiError(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        ),
    )


def _records(body: Any) -> tuple[bool, list[Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise json_parser_error(
            'Cannot deserialize the request body: expected {"allOrNone": ..., "records": [...]}'
        )
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise json_parser_error(f"Cannot deserialize instance of boolean from value {all_or_none!r}")
    if len(body["records"]) > MAX_RECORDS:
        raise _too_many()
    return all_or_none, body["records"]


def _type_of(record: Any) -> schema.SObjectDef:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    name = attributes.get("type") if isinstance(attributes, dict) else None
    sobject = schema.sobject(name) if isinstance(name, str) else None
    if sobject is None:
        raise SalesforceError(400, ApiError("INVALID_TYPE", f"sObject type '{name}' is not supported.", []))
    return sobject


def _outcome(
    results: list[dict[str, Any]], failed: bool, all_or_none: bool, tx: Transaction
) -> list[dict[str, Any]]:
    if not (failed and all_or_none):
        return results
    tx.rollback()
    return [
        r
        if not r["success"]
        else {"id": r["rolled_back_id"], "success": False, "errors": [ROLLED_BACK.collection()]}
        for r in results
    ]


def _result(
    record_id: str | None, error: SalesforceError | None = None, rolled_back_id: str | None = None
) -> dict[str, Any]:
    if error is None:
        return {"id": record_id, "success": True, "errors": [], "rolled_back_id": rolled_back_id}
    return {"id": record_id, "success": False, "errors": [e.collection() for e in error.errors]}


def _clean(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "rolled_back_id"} for r in results]


@router.post(PATH)
async def create(version: str, request: Request, sim: SimDep) -> list[dict[str, Any]]:
    all_or_none, records = _records(await json_body(request))
    results, failed = [], False
    with sim.store.transaction(api_actor(request, version)) as tx:
        for record in records:
            try:
                sobject = _type_of(record)
                if any(key.lower() == "id" for key in record):
                    raise SalesforceError(
                        400, ApiError("INVALID_FIELD", "cannot specify Id in an insert call", [])
                    )
                results.append(_result(tx.create(sobject, record)))
            except SalesforceError as error:
                failed = True
                results.append(_result(None, error))
        results = _outcome(results, failed, all_or_none, tx)
    return _clean(results)


@router.patch(PATH)
async def update(version: str, request: Request, sim: SimDep) -> list[dict[str, Any]]:
    all_or_none, records = _records(await json_body(request))
    results, failed = [], False
    with sim.store.transaction(api_actor(request, version)) as tx:
        for record in records:
            raw_id = (
                next((v for k, v in record.items() if k.lower() == "id"), None)
                if isinstance(record, dict)
                else None
            )
            record_id = ids.normalize(raw_id) if isinstance(raw_id, str) else None
            try:
                sobject = _type_of(record)
                if not isinstance(raw_id, str) or not raw_id:
                    raise SalesforceError(
                        400, ApiError("MISSING_ARGUMENT", "Id not specified in an update call", [])
                    )
                fields = {k: v for k, v in record.items() if k.lower() != "id"}
                tx.update(sobject, raw_id, fields)
                results.append(_result(record_id, rolled_back_id=record_id))
            except SalesforceError as error:
                failed = True
                results.append(_result(record_id, error))
        results = _outcome(results, failed, all_or_none, tx)
    return _clean(results)


@router.delete(PATH)
async def delete(version: str, request: Request, sim: SimDep) -> list[dict[str, Any]]:
    raw_ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not raw_ids:
        raise SalesforceError(400, ApiError("MISSING_ARGUMENT", "ids parameter is required"))
    if len(raw_ids) > MAX_RECORDS:
        raise _too_many()
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
    by_prefix = {d.key_prefix: d for d in schema.SOBJECTS.values()}
    results, failed = [], False
    with sim.store.transaction(api_actor(request, version)) as tx:
        for raw_id in raw_ids:
            record_id = ids.normalize(raw_id)
            try:
                if record_id is None:
                    raise SalesforceError(400, ApiError("MALFORMED_ID", f"malformed id {raw_id}", []))
                sobject = by_prefix.get(record_id[:3])
                if sobject is None:
                    raise SalesforceError(
                        400, ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                    )
                tx.delete(sobject, record_id)
                results.append(_result(record_id, rolled_back_id=record_id))
            except SalesforceError as error:
                failed = True
                results.append(_result(record_id, error))
        results = _outcome(results, failed, all_or_none, tx)
    return _clean(results)
