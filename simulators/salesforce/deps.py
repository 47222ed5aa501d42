"""Request plumbing shared by the REST routers: the caller (`Actor`), the JSON body, the sObject.

`Sforce-Call-Options: client=<id>` names the integration on a write; it is recorded in the call
log and becomes the CDC `changeOrigin` `com/salesforce/api/rest/<ver>;client=<id>` (api-contracts
A2 "Loop prevention", C3). `Sforce-Duplicate-Rule-Header: allowSave=true` lets a save through an
"allow with alert" duplicate rule (A3, observed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from simulators.salesforce import schema
from simulators.salesforce.errors import ApiError, SalesforceError, json_parser_error, not_found
from simulators.salesforce.schema import SObjectDef
from simulators.salesforce.sessions import Session
from simulators.salesforce.store import Actor


def header_options(raw: str | None) -> dict[str, str]:
    """`k1=v1, k2=v2` as used by the Sforce-* request headers (keys case-insensitive)."""
    options: dict[str, str] = {}
    for part in (raw or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            options[key.strip().lower()] = value.strip()
    return options


def call_options_client(headers: Mapping[str, str]) -> str | None:
    return header_options(headers.get("sforce-call-options")).get("client") or None


def allows_duplicates(headers: Mapping[str, str]) -> bool:
    return header_options(headers.get("sforce-duplicate-rule-header")).get("allowsave", "").lower() == "true"


def api_actor(request: Request, version: str) -> Actor:
    """A REST caller: the session's user, with the change origin CDC will report."""
    session: Session = request.state.sf_session
    origin = f"com/salesforce/api/rest/{version}"
    client = call_options_client(request.headers)
    if client:
        origin += f";client={client}"
    return Actor(session.user_id, origin, allows_duplicates(request.headers))


def ui_actor(request: Request, user_id: str) -> Actor:
    """A person in the UI (the control API): no change origin."""
    return Actor(user_id, "", allows_duplicates(request.headers))


def sobject_named(name: str) -> SObjectDef:
    definition = schema.sobject(name)
    if definition is None:
        raise not_found()
    return definition


async def json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise SalesforceError(
            415,
            ApiError(
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Type header specified in HTTP request is not supported: {content_type or '(none)'}",
            ),
        )
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise json_parser_error(f"Unexpected character in JSON body: {exc}") from exc
