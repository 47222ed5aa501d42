"""Custom-field definitions: `/v3/custom-fields` (api-contracts B7).

- `GET /custom-fields`: `query[name]` (case-insensitive substring), `sort[name]`, paging, `fields=`.
- `GET /custom-fields/{id}`: 404/1013 with `context: {"customFieldId": ...}` when unknown.
- `POST /custom-fields` -> 201 with the definition. The body needs `name`, `type`, `hidden` (the
  string "true"/"false") and `values` (a list of strings), and may carry `format`.
  `type` is either a data type (`string number date datetime country currency phone gender ip
  url`, with `format` defaulting to `text`) or, as in the vendor's older shape, a format (`text
  textarea radio checkbox single_select multi_select`, which stores a `string` field of that format).

Constraints (400/1000 unless said): the name is 1 to 128 of `a-z 0-9 _`, not a reserved merge word,
and unique (409/1008); radio, single_select and multi_select need at least 2 values, and other
formats take none; a `gender` field's values are among `Male`, `Female`, `Prefer not to say` (all
three when none are given); a `currency` field's values are ISO 4217 codes.
"""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from simulators.getresponse.errors import duplicate, not_found, parse_body, read_json_object, validation_error
from simulators.getresponse.field_values import GENDERS, is_currency_code
from simulators.getresponse.listing import page_of, parse_listing, project, sorted_by
from simulators.getresponse.render import custom_field
from simulators.getresponse.state import StateDep
from simulators.getresponse.store import CustomField

router = APIRouter(prefix="/custom-fields")

DATA_TYPES = frozenset(
    {"string", "number", "date", "datetime", "country", "currency", "phone", "gender", "ip", "url"}
)
FORMATS = frozenset({"text", "textarea", "radio", "checkbox", "single_select", "multi_select"})
NEEDS_CHOICES = frozenset({"radio", "single_select", "multi_select"})
RESERVED_NAMES = frozenset(
    {
        "name",
        "email",
        "twitter",
        "facebook",
        "buzz",
        "myspace",
        "linkedin",
        "digg",
        "googleplus",
        "pinterest",
        "responder",
        "campaign",
        "change",
    }
)
_NAME = re.compile(r"^[a-z0-9_]{1,128}$")


class NewCustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    type: str
    hidden: Literal["true", "false"]
    values: list[str]
    format: str | None = None


def _definition(data: NewCustomFieldIn) -> tuple[str, str, list[str]]:
    """(data type, format, values) of a valid definition, or a 400/1000."""
    if data.type in FORMATS:
        data_type, field_format = "string", data.type
    elif data.type in DATA_TYPES:
        data_type = data.type
        field_format = data.format or ("single_select" if data.type == "gender" else "text")
    else:
        raise validation_error(f"Unknown custom field type {data.type!r}", field="type")
    if field_format not in FORMATS:
        raise validation_error(f"Unknown custom field format {field_format!r}", field="format")
    values = list(data.values)
    if data_type == "gender":
        values = values or list(GENDERS)
        if any(v not in GENDERS for v in values):
            raise validation_error("gender values must be among " + ", ".join(GENDERS), field="values")
    elif data_type == "currency":
        if any(not is_currency_code(v) for v in values):
            raise validation_error("currency values must be ISO 4217 codes", field="values")
    elif field_format in NEEDS_CHOICES:
        if len(values) < 2:
            raise validation_error(f"a {field_format} field needs at least 2 values", field="values")
    elif values:
        raise validation_error(f"a {field_format} field of type {data_type} takes no values", field="values")
    if len(set(values)) != len(values):
        raise validation_error("values must be unique", field="values")
    return data_type, field_format, values


@router.get("")
async def list_custom_fields(request: Request, state: StateDep) -> Response:
    listing = parse_listing(request.query_params, filters={"name"}, sorts={"name"})
    items = sorted(state.store.fields.values(), key=lambda f: f.name)
    if "name" in listing.query:
        items = [f for f in items if listing.query["name"].lower() in f.name.lower()]
    page, headers = page_of(sorted_by(items, listing.sort, {"name": lambda f: f.name}), listing)
    return JSONResponse(
        [project(custom_field(f, state.config), listing.fields, "customFieldId") for f in page],
        headers=headers,
    )


@router.get("/{field_id}")
async def get_custom_field(field_id: str, state: StateDep) -> Response:
    definition = state.store.fields.get(field_id)
    if definition is None:
        raise not_found("customFieldId", field_id)
    return JSONResponse(custom_field(definition, state.config))


@router.post("", status_code=201)
async def create_custom_field(request: Request, state: StateDep) -> Response:
    data = parse_body(NewCustomFieldIn, await read_json_object(request))
    if not _NAME.match(data.name):
        raise validation_error("name must be 1 to 128 of lowercase letters, digits and _", field="name")
    if data.name in RESERVED_NAMES:
        raise validation_error(f"{data.name!r} is a reserved word", field="name", kind="reserved_name")
    if state.store.field_by_name(data.name) is not None:
        raise duplicate("There is another custom field with this name", {"name": data.name})
    data_type, field_format, values = _definition(data)
    definition = CustomField(
        field_id=state.store.new_id(),
        name=data.name,
        type=data_type,
        format=field_format,
        hidden=data.hidden == "true",
        values=values,
    )
    state.store.fields[definition.field_id] = definition
    return JSONResponse(custom_field(definition, state.config), status_code=201)
