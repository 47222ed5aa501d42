"""GetResponse's error body, and the handlers that make every failure speak it (api-contracts B10).

Every error the vendor returns has the same seven fields, all required:
`httpStatus, code, codeDescription, message, moreInfo, context, uuid`. Clients branch on `code`
(1000 validation, 1001 related resource missing, 1002 state forbids it, 1008 duplicate, 1013 not
found, 1014 authentication, 1015 throttled, 1 internal), so the simulator never answers a vendor
path with any other shape: not for an unknown route, a bad JSON body or an injected fault either.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

CODE_DESCRIPTIONS: dict[int, str] = {
    1: "Internal error, please try again later or contact support",
    1000: "General error of validation process, more details should be in context section",
    1001: "Related resource not found",
    1002: "Forbidden by internal rules",
    1003: "Wrong parameter format",
    1008: "There is another resource with the same value of unique property",
    1013: "Resource not found",
    1014: "Problem during authentication process, check headers!",
    1015: "Too many request to API, quota reached, please wait till next quota window",
}


class GetResponseError(Exception):
    """An error the simulated API answers with; raise it anywhere below a route."""

    def __init__(self, status: int, code: int, message: str, context: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.context: Any = context if context is not None else []

    def body(self) -> dict[str, Any]:
        return {
            "httpStatus": self.status,
            "code": self.code,
            "codeDescription": CODE_DESCRIPTIONS.get(self.code, CODE_DESCRIPTIONS[1]),
            "message": self.message,
            "moreInfo": f"https://apidocs.getresponse.com/en/v3/errors/{self.code}",
            "context": self.context,
            "uuid": str(uuid.uuid4()),
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def validation_error(
    description: str, *, field: str = "", original: str = "", kind: str = "invalid"
) -> GetResponseError:
    """400/1000 with the documented context keys `validationType, fieldName, originalName,
    errorDescription` (api-contracts B10)."""
    context = {
        "validationType": kind,
        "fieldName": field,
        "originalName": original or field,
        "errorDescription": description,
    }
    return GetResponseError(400, 1000, f"Validation error: {description}", context)


def not_allowed_search_field(key: str) -> GetResponseError:
    return validation_error("Not allowed search field", field=key, kind="search_field")


def related_missing(what: str, value: str) -> GetResponseError:
    return GetResponseError(400, 1001, f"Related resource not found: {what} {value!r}", {what: value})


def not_found(what: str, value: str) -> GetResponseError:
    return GetResponseError(404, 1013, "Resource not found", {what: value})


def duplicate(description: str, context: Any = None) -> GetResponseError:
    return GetResponseError(409, 1008, description, context)


M = TypeVar("M", bound=BaseModel)


def from_pydantic(exc: ValidationError) -> GetResponseError:
    """The first problem of a rejected body, as 400/1000 naming the field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return validation_error(str(first["msg"]), field=field, kind=str(first["type"]))


def parse_body(model: type[M], body: dict[str, Any]) -> M:
    """The body as `model`, or 400/1000 naming the first field in the way."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from exc


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or 400/1000 (malformed JSON, or not an object)."""
    raw = await request.body()
    try:
        value = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise validation_error(f"Malformed JSON body: {exc}", kind="json") from exc
    if not isinstance(value, dict):
        raise validation_error("The request body must be a JSON object", kind="json")
    return value


def install_handlers(app: FastAPI) -> None:
    async def on_vendor_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, GetResponseError)
        return exc.response()

    async def on_request_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(part) for part in first.get("loc", ()))
        return validation_error(str(first.get("msg")), field=field).response()

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return GetResponseError(404, 1013, "Resource not found", {"path": request.url.path}).response()
        if exc.status_code == 405:
            return GetResponseError(405, 1000, "Method not allowed for this resource").response()
        return GetResponseError(exc.status_code, 1, str(exc.detail)).response()

    app.add_exception_handler(GetResponseError, on_vendor_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
