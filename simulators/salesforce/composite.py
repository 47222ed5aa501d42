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

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Result:
    id: str | None
    errors: tuple[ApiError, ...] = ()
    id_if_rolled_back: str | None = None  # creates lose their id when rolled back; updates keep it

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "success": not self.errors, "errors": [e.collection() for e in self.errors]}


def _each(
    tx: Transaction,
    items: list[Any],
    save: Callable[[Any], _Result],
    all_or_none: bool,
    *,
    creating: bool = False,
) -> list[Any]:
    """Saves item by item (a failed one stages nothing), then applies the allOrNone rule. A failed
    create reports `"id": null`; a failed update or delete reports the id it was given."""
    results: list[_Result] = []
    for item in items:
        try:
            results.append(save(item))
        except SalesforceError as error:
            results.append(_Result(None if creating else _given_id(item), tuple(error.errors)))
    if all_or_none and any(r.errors for r in results):
        tx.rollback()
        results = [r if r.errors else _Result(r.id_if_rolled_back, (ROLLED_BACK,)) for r in results]
    return [r.json() for r in results]


def _given_id(item: Any) -> str | None:
    if isinstance(item, str):
        return ids.normalize(item)
    if isinstance(item, dict):
        raw = next((v for k, v in item.items() if k.lower() == "id"), None)
        return ids.normalize(raw) if isinstance(raw, str) else None
    return None


@router.post(PATH)
async def create(version: str, request: Request, sim: SimDep) -> list[Any]:
    all_or_none, records = _records(await json_body(request))
    with sim.store.transaction(api_actor(request, version)) as tx:

        def save(record: Any) -> _Result:
            sobject = _type_of(record)
            if any(key.lower() == "id" for key in record):
                raise SalesforceError(
                    400, ApiError("INVALID_FIELD", "cannot specify Id in an insert call", [])
                )
            return _Result(tx.create(sobject, record))

        results = _each(tx, records, save, all_or_none, creating=True)
    return results


@router.patch(PATH)
async def update(version: str, request: Request, sim: SimDep) -> list[Any]:
    all_or_none, records = _records(await json_body(request))
    with sim.store.transaction(api_actor(request, version)) as tx:

        def save(record: Any) -> _Result:
            sobject = _type_of(record)
            raw_id = next((v for k, v in record.items() if k.lower() == "id"), None)
            if not isinstance(raw_id, str) or not raw_id:
                raise SalesforceError(
                    400, ApiError("MISSING_ARGUMENT", "Id not specified in an update call", [])
                )
            tx.update(sobject, raw_id, {k: v for k, v in record.items() if k.lower() != "id"})
            record_id = ids.normalize(raw_id)
            return _Result(record_id, id_if_rolled_back=record_id)

        results = _each(tx, records, save, all_or_none)
    return results


@router.delete(PATH)
async def delete(version: str, request: Request, sim: SimDep) -> list[Any]:
    raw_ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not raw_ids:
        raise SalesforceError(400, ApiError("MISSING_ARGUMENT", "ids parameter is required"))
    if len(raw_ids) > MAX_RECORDS:
        raise _too_many()
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
    by_prefix = {d.key_prefix: d for d in schema.SOBJECTS.values()}
    with sim.store.transaction(api_actor(request, version)) as tx:

        def save(raw_id: str) -> _Result:
            record_id = ids.normalize(raw_id)
            if record_id is None:
                raise SalesforceError(400, ApiError("MALFORMED_ID", f"malformed id {raw_id}", []))
            sobject = by_prefix.get(record_id[:3])
            if sobject is None:
                raise SalesforceError(
                    400, ApiError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                )
            tx.delete(sobject, record_id)
            return _Result(record_id, id_if_rolled_back=record_id)

        results = _each(tx, raw_ids, save, all_or_none)
    return results
